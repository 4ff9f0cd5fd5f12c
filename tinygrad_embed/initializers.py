"""Initial weights, as Keras 3 draws them: an initializer is a callable `init(shape, dtype=None)` that
returns a new numpy array, and `get` finds one by its Keras name."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .missing import module_getattr
from .helpers import is_number, random_generator, snake_case


def _float_dtype(dtype: Any) -> np.dtype:
    return np.dtype("float32" if dtype is None else dtype)  # Keras's floatx; np.dtype(None) would be float64


def compute_fans(shape: tuple, input_axes: Any = None, output_axes: Any = None) -> tuple[int, int]:
    """Keras's (fan_in, fan_out): a vector counts its length as both; a kernel of rank > 2 (a
    convolution's) multiplies its last two axes by the receptive field, the product of the others.
    Given input_axes and output_axes, each fan is the product of those axes' sizes."""
    if input_axes is not None and output_axes is not None:
        return int(np.prod([shape[a] for a in input_axes])), int(np.prod([shape[a] for a in output_axes]))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    receptive_field = int(np.prod(shape[:-2]))
    return int(shape[-2]) * receptive_field, int(shape[-1]) * receptive_field


class Initializer:
    """init(shape, dtype=None) -> a new array of that shape; type(init)(**init.get_config()) rebuilds it.

    Without a seed, a random initializer draws from the package's generator (seeded by
    utils.set_random_seed), so each call gives new values; with an integer seed every call gives the same.
    """

    def __call__(self, shape: tuple, dtype: Any = None) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define __call__(shape, dtype=None)")

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        return cls(**config)

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


class Zeros(Initializer):
    """All 0."""

    def __call__(self, shape: tuple, dtype: Any = None) -> np.ndarray:
        return np.zeros(shape, _float_dtype(dtype))


class Ones(Initializer):
    """All 1."""

    def __call__(self, shape: tuple, dtype: Any = None) -> np.ndarray:
        return np.ones(shape, _float_dtype(dtype))


class Constant(Initializer):
    """`value` everywhere: a number, or an array that broadcasts to the weight's shape (Keras 3 computes
    value * ones(shape)), such as a pretrained embedding matrix of exactly the table's shape."""

    def __init__(self, value: Any = 0.0) -> None:
        self.value = np.asarray(value)
        if self.value.dtype.kind not in "biuf":
            raise TypeError(f"Constant needs a number or an array of numbers, got {value!r:.80}")

    def __call__(self, shape: tuple, dtype: Any = None) -> np.ndarray:
        shape = tuple(shape)
        try:
            values = np.broadcast_to(self.value, shape)
        except ValueError:
            raise ValueError(f"Constant's value has shape {self.value.shape}, which does not fit the weight's "
                             f"shape {shape}") from None
        return values.astype(_float_dtype(dtype))  # a copy: the weight must not share the caller's array

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value.tolist()}


class _Seeded(Initializer):
    """A random initializer: seed None draws from the package's generator, an int from its own."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = None if seed is None else _checked_seed(seed)

    def _generator(self) -> np.random.Generator:
        return random_generator() if self.seed is None else np.random.default_rng(self.seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


def _checked_seed(seed: Any) -> int:
    """An initializer's seed as an int; TypeError for anything but an integer."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer or None, got {seed!r}")
    return int(seed)


class RandomUniform(_Seeded):
    """U(minval, maxval); Keras's defaults U(-0.05, 0.05) are the Embedding table's."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape: tuple, dtype: Any = None) -> np.ndarray:
        return self._generator().uniform(self.minval, self.maxval, shape).astype(_float_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class RandomNormal(_Seeded):
    """N(mean, stddev**2), by default N(0, 0.05**2) as Keras."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        if not stddev >= 0:
            raise ValueError(f"RandomNormal's stddev must be at least 0, got {stddev!r}")
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape: tuple, dtype: Any = None) -> np.ndarray:
        return self._generator().normal(self.mean, self.stddev, shape).astype(_float_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(_Seeded):
    """N(mean, stddev**2) cut at two standard deviations, as Keras: a value drawn outside is drawn again, so
    the values keep to mean +- 2 stddev and their spread is 0.8796 stddev."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        if not stddev >= 0:
            raise ValueError(f"TruncatedNormal's stddev must be at least 0, got {stddev!r}")
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape: tuple, dtype: Any = None) -> np.ndarray:
        values = draw_truncated_normal(self._generator(), self.mean, self.stddev, tuple(shape))
        return values.astype(_float_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


TRUNCATED_STD = 0.87962566103423978  # the standard deviation of N(0, 1) cut at +-2: Keras divides by it


def draw_truncated_normal(generator: np.random.Generator, mean: float, stddev: float, shape: tuple) -> np.ndarray:
    """Draws of N(mean, stddev**2), each outside mean +- 2 stddev drawn again until none is."""
    values = np.asarray(generator.standard_normal(shape))
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = generator.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return mean + stddev * values


class VarianceScaling(_Seeded):
    """Keras's family of scaled draws: variance scale / n, where n is fan_in, fan_out or their mean (`mode`),
    from a normal cut at 2 stddev ("truncated_normal", or "normal"), an uncut one ("untruncated_normal"), or
    U(-limit, limit) with limit = sqrt(3 scale / n) ("uniform"). Glorot, He and LeCun are its named members."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: int | None = None, input_axes: Any = None, output_axes: Any = None) -> None:
        super().__init__(seed)
        self.scale, self.mode, self.distribution = checked_scaling(scale, mode, distribution)
        self.input_axes, self.output_axes = input_axes, output_axes

    def __call__(self, shape: tuple, dtype: Any = None) -> np.ndarray:
        shape = tuple(shape)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = max(1.0, {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode])
        if self.distribution == "uniform":
            limit = np.sqrt(3.0 * self.scale / n)  # U(-l, l) has variance l**2 / 3
            values = self._generator().uniform(-limit, limit, shape)
        elif self.distribution == "untruncated_normal":
            values = self._generator().normal(0.0, np.sqrt(self.scale / n), shape)
        else:  # the cut leaves TRUNCATED_STD of the spread: drawn wider, the values have stddev sqrt(scale / n)
            values = draw_truncated_normal(self._generator(), 0.0, np.sqrt(self.scale / n) / TRUNCATED_STD, shape)
        return values.astype(_float_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "input_axes": self.input_axes, "output_axes": self.output_axes, **super().get_config()}


MODES, DISTRIBUTIONS = ("fan_in", "fan_out", "fan_avg"), ("truncated_normal", "untruncated_normal", "uniform")


def checked_scaling(scale: Any, mode: Any, distribution: Any) -> tuple[float, str, str]:
    """VarianceScaling's arguments, checked as Keras checks them; "normal" means "truncated_normal"."""
    if not is_number(scale) or not scale > 0:
        raise ValueError(f"VarianceScaling's scale must be a positive number, got {scale!r}")
    if mode not in MODES:
        raise ValueError(f"VarianceScaling's mode must be one of {', '.join(MODES)}, got {mode!r}")
    distribution = distribution.lower() if isinstance(distribution, str) else distribution
    distribution = "truncated_normal" if distribution == "normal" else distribution
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"VarianceScaling's distribution must be one of {', '.join(DISTRIBUTIONS)} (or normal), "
                         f"got {distribution!r}")
    return scale, mode, distribution


class _Named(VarianceScaling):
    """A named member of the family: its scale, mode and distribution are class attributes, fixed."""
    scale, mode, distribution = 1.0, "fan_in", "truncated_normal"

    def __init__(self, seed: int | None = None, input_axes: Any = None, output_axes: Any = None) -> None:
        _Seeded.__init__(self, seed)
        self.input_axes, self.output_axes = input_axes, output_axes

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_Named):
    """U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)): activations keep their variance."""
    scale, mode, distribution = 1.0, "fan_avg", "uniform"


class GlorotNormal(_Named):
    """Truncated normal of stddev sqrt(2 / (fan_in + fan_out)) (Xavier normal)."""
    scale, mode, distribution = 1.0, "fan_avg", "truncated_normal"


class HeUniform(_Named):
    """U(-limit, limit) with limit = sqrt(6 / fan_in): for ReLU layers."""
    scale, mode, distribution = 2.0, "fan_in", "uniform"


class HeNormal(_Named):
    """Truncated normal of stddev sqrt(2 / fan_in): for ReLU layers."""
    scale, mode, distribution = 2.0, "fan_in", "truncated_normal"


class LecunUniform(_Named):
    """U(-limit, limit) with limit = sqrt(3 / fan_in): for SELU layers."""
    scale, mode, distribution = 1.0, "fan_in", "uniform"


class LecunNormal(_Named):
    """Truncated normal of stddev sqrt(1 / fan_in): for SELU layers."""
    scale, mode, distribution = 1.0, "fan_in", "truncated_normal"


class Orthogonal(_Seeded):
    """gain * a matrix with orthonormal columns (or rows, if wider than tall), the Q of a Gaussian one's QR; a
    recurrent kernel whose repeated product neither explodes nor vanishes at the start."""

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape: tuple, dtype: Any = None) -> np.ndarray:
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal needs a shape of rank 2 or more, got {shape}")
        rows, cols = int(np.prod(shape[:-1])), shape[-1]  # a shape of rank > 2 is drawn as a matrix
        q, r = np.linalg.qr(self._generator().standard_normal((max(rows, cols), min(rows, cols))))
        q *= np.sign(np.diag(r))  # makes the decomposition unique, so q is uniformly distributed
        return (self.gain * (q.T if rows < cols else q)).reshape(shape).astype(_float_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, **super().get_config()}


class Identity(Initializer):
    """gain * the identity matrix (ones on the main diagonal of a matrix of any two sizes, as numpy's eye)."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def __call__(self, shape: tuple, dtype: Any = None) -> np.ndarray:
        shape = tuple(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity needs a matrix's shape (rank 2), got {shape}")
        return (self.gain * np.eye(*shape)).astype(_float_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}  # Keras 3 leaves gain out of its config (so loses it); kept here


# Names resolve as in Keras 3: get("glorot_uniform"), get("GlorotUniform"), and aliases such as "uniform"
# and "zero"; the lower-case module names are the classes, as there: `zeros is Zeros`.
zeros, ones, constant, identity = Zeros, Ones, Constant, Identity
random_uniform, random_normal, truncated_normal = RandomUniform, RandomNormal, TruncatedNormal
glorot_uniform, glorot_normal, he_uniform, he_normal = GlorotUniform, GlorotNormal, HeUniform, HeNormal
lecun_uniform, lecun_normal, variance_scaling, orthogonal = LecunUniform, LecunNormal, VarianceScaling, Orthogonal
zero, one, uniform, normal = Zeros, Ones, RandomUniform, RandomNormal  # Keras's aliases (and Keras 2's names)
OrthogonalInitializer, IdentityInitializer = Orthogonal, Identity  # Keras 2's class names, which Keras 3 keeps

CLASSES = (Zeros, Ones, Constant, Identity, RandomUniform, RandomNormal, TruncatedNormal, VarianceScaling,
           GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal)
KNOWN: dict[str, type[Initializer]] = {
    **{cls.__name__: cls for cls in CLASSES}, **{snake_case(cls.__name__): cls for cls in CLASSES},
    "zero": Zeros, "one": Ones, "uniform": RandomUniform, "normal": RandomNormal,
    "OrthogonalInitializer": Orthogonal, "IdentityInitializer": Identity}


def serialize(initializer: Initializer) -> dict[str, Any]:
    """{"class_name": ..., "config": ...}, the form get and deserialize read back (Keras's keys)."""
    if not isinstance(initializer, Initializer):
        raise TypeError(f"only an Initializer object can be serialised, got {initializer!r:.80}")
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


def deserialize(config: dict[str, Any]) -> Initializer:
    """The initializer that serialize described."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"an initializer's config is a dict with a 'class_name', got {config!r:.80}")
    name = config["class_name"]
    if name not in KNOWN:
        raise ValueError(f"unknown initializer {name!r}; known: {', '.join(sorted(KNOWN))}")
    return KNOWN[name].from_config(config.get("config", {}))


def get(identifier: Any) -> Callable | None:
    """An initializer from a name, a serialize dict, an Initializer class or an array (a Constant of it); an
    initializer (any callable init(shape, dtype)) and None come back as they are."""
    if identifier is None or callable(identifier) and not isinstance(identifier, type):
        return identifier
    if isinstance(identifier, str):
        if identifier not in KNOWN:
            raise ValueError(f"unknown initializer {identifier!r}; known: {', '.join(sorted(KNOWN))}")
        return KNOWN[identifier]()
    return _from_other(identifier)


def _from_other(identifier: Any) -> Initializer:
    """get's rarer forms: a config dict, an array, an Initializer class."""
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, np.ndarray):
        return Constant(identifier)
    if isinstance(identifier, type):
        if not issubclass(identifier, Initializer):
            raise ValueError(f"{identifier.__name__} is not an Initializer class")
        return identifier()
    raise ValueError(f"cannot use {identifier!r:.80} as an initializer: expected a name, a config dict, an "
                     "array, or a callable init(shape, dtype)")


def check(*identifiers: Any) -> tuple:
    """The identifiers as given, once get accepts each: a layer's constructor refuses an unknown name."""
    for identifier in identifiers:
        get(identifier)
    return identifiers


__getattr__ = module_getattr(__name__, "initializer", lambda: [cls.__name__ for cls in CLASSES])
