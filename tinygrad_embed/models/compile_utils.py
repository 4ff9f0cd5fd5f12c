"""What compile asked for, output by output, and the running means an epoch logs (Keras's compile_utils too)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import losses
from .. import metrics as metrics_module
from ..tensor import Tensor


class _Objectives:
    """compile's loss, loss_weights and metrics per output, and the running means logged (docs/models.md)."""

    def __init__(self, loss: Any, loss_weights: Any, metrics: Any, weighted_metrics: Any) -> None:
        for name, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value is not None and not isinstance(value, (list, tuple, dict)):
                raise ValueError(f"{name} must be a list, tuple or dict, e.g. ['accuracy'], got {value!r}")
        self.spec = (_resolved(loss, losses.get), loss_weights, _resolved(metrics, metrics_module.get),
                     _resolved(weighted_metrics, metrics_module.get))  # an unknown name fails here, at compile
        self.built = False

    def build(self, names: list[str | None]) -> None:
        """compile's arguments as one entry per output (named so; known at the first batch), the means made."""
        loss, loss_weights, metrics, weighted_metrics = self.spec
        self.losses = _per_output(loss, names, "loss")
        self.loss_weights = _per_output(loss_weights, names, "loss_weights")
        self.total = _batch_mean("loss")
        self.loss_means = _output_losses(self.losses, names) if len(names) > 1 else {}
        used = {"loss", *(mean.name for mean in self.loss_means.values())}
        self.entries = _metric_entries(metrics, weighted_metrics, names, used)
        self.built = True

    def check_targets(self, ys: list[np.ndarray], names: list[str | None]) -> None:
        """Each output's targets, the whole data set, against what its loss assumes of them (losses.check_targets),
        so that fit refuses them before its first step and names the sample."""
        if isinstance(self.spec[0], dict) and None in names:
            return  # outputs not yet named (an unbuilt model): the loss checks each batch instead
        for y, loss in zip(ys, _per_output(self.spec[0], names, "loss")):
            losses.check_targets(loss, y)

    def loss(self, ys: list[np.ndarray], predictions: list[Tensor], weights: list[np.ndarray] | None) -> Tensor:
        """A batch's loss, for the gradient, added to the running mean (each batch weighted by its size)."""
        if len(self.losses) > 1 or self.loss_weights[0] is not None:
            total = self._weighted_sum(ys, predictions, weights)
        else:
            total = self.losses[0](ys[0], predictions[0], None if weights is None else weights[0])
        self.total.update_state(float(total.data), sample_weight=len(predictions[0].data))
        return total

    def _weighted_sum(self, ys: list[np.ndarray], predictions: list[Tensor], weights: list[np.ndarray] | None
                      ) -> Tensor:
        """The outputs' losses times loss_weights, summed; each output's added to its running mean."""
        total, count = None, len(predictions[0].data)
        for output, (loss, loss_weight) in enumerate(zip(self.losses, self.loss_weights)):
            if loss is None:
                continue
            value = loss(ys[output], predictions[output], None if weights is None else weights[output])
            if output in self.loss_means:
                self.loss_means[output].update_state(float(value.data), sample_weight=count)
            value = value if loss_weight is None else value * float(loss_weight)
            total = value if total is None else total + value
        return total

    def update_metrics(self, ys: list[np.ndarray], predictions: list[Tensor], weights: list[np.ndarray] | None) -> None:
        """A batch added to the metrics (weighted_metrics weigh its samples, metrics do not)."""
        for output, metric, _, weighted in self.entries:
            metric.update_state(ys[output], _with_mask(predictions[output]),
                                weights[output] if weighted and weights is not None else None)

    def reset(self) -> None:
        if self.built:
            for metric in [self.total, *self.loss_means.values(), *(entry[1] for entry in self.entries)]:
                metric.reset_state()

    def results(self) -> dict[str, float]:
        """The logs so far, keys sorted (as Keras hands them to callbacks and returns them)."""
        logs = {mean.name: mean.result() for mean in [self.total, *self.loss_means.values()]}
        logs.update((key, float(metric.result())) for _, metric, key, _ in self.entries)
        return dict(sorted(logs.items()))

    def ordered(self, logs: dict[str, float]) -> float | list[float]:
        """evaluate's and *_on_batch's list, in Keras's order: loss, the metrics logged under their own names,
        the outputs' losses, then the other keys sorted; a single value alone."""
        first = dict.fromkeys(["loss", *(metric.name for _, metric, _, _ in self.entries),
                               *(mean.name for mean in self.loss_means.values())])
        keys = [key for key in first if key in logs] + sorted(key for key in logs if key not in first)
        return logs[keys[0]] if len(keys) == 1 else [logs[key] for key in keys]


def _resolved(spec: Any, get: Any) -> Any:
    """One of compile's arguments with each identifier made a Loss or Metric by `get`, in the same list or dict."""
    if isinstance(spec, dict):
        return {key: _resolved(value, get) for key, value in spec.items()}
    if isinstance(spec, (list, tuple)):
        return [_resolved(item, get) for item in spec]
    return None if spec is None else get(spec)


def _per_output(spec: Any, names: list[str | None], what: str) -> list[Any]:
    """compile's `what` as one entry per output: one value serves every output (_listed: a list or a dict)."""
    return _listed(spec, names, what) if isinstance(spec, (list, tuple, dict)) else [spec] * len(names)


def _listed(spec: list | tuple | dict, names: list[str | None], what: str) -> list[Any]:
    """compile's `what` given per output: a list in the outputs' order, or a dict keyed by output name (an output
    it leaves out gets None)."""
    if isinstance(spec, dict):
        for key in spec:
            if key not in names:
                raise ValueError(f"{what} has the key {key!r}, which names no output of this model; its outputs: "
                                 f"{names}")
        return [spec.get(name) for name in names]
    if len(spec) != len(names):
        raise ValueError(f"{what} is a list of {len(spec)} for a model with {len(names)} outputs {names}: give "
                         "one entry per output, or a dict keyed by output name")
    return list(spec)


def _batch_mean(name: str) -> metrics_module.Mean:
    """A loss's mean over an epoch, each batch weighted by its size (Keras's loss trackers), kept in float64."""
    return metrics_module.Mean(name=name, dtype="float64")


def _output_losses(losses: list[Any], names: list[str | None]) -> dict[int, metrics_module.Mean]:
    """The running mean of each output's loss, logged as "<output>_loss" when there are several losses (with
    one, "loss" says it all)."""
    means = {output: _batch_mean(f"{names[output]}_loss") for output, item in enumerate(losses) if item is not None}
    return means if len(means) > 1 else {}


def _metric_entries(metrics: Any, weighted_metrics: Any, names: list[str | None], used: set[str]) -> list[tuple]:
    """(output, metric, key, weighted) for every metric compile was given, keyed by its name (or by _key)."""
    entries = []
    for spec, weighted in ((metrics, False), (weighted_metrics, True)):
        one_list = len(names) == 1 and isinstance(spec, (list, tuple))  # one output: the whole list is its metrics
        for output, entry in enumerate([spec] if one_list else _per_output(spec, names, "metrics")):
            for metric in _as_list(entry):
                key = metric.name
                if len(names) > 1 or key in used:  # Keras's rule: outputs' prefixes, weighted twins, numbers
                    key = _key(metric.name, names, output, weighted, used)
                used.add(key)
                entries.append((output, metric, key, weighted))
    return entries


def _as_list(metrics: Any) -> list[Any]:
    """One output's metrics as a list: None is none, one metric a list of one."""
    return [] if metrics is None else list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]


def _key(name: str, names: list[str | None], output: int, weighted: bool, used: set[str]) -> str:
    """Keras's key for a metric: "<output>_<name>" with several outputs, "weighted_<name>" for the weighted twin
    of a metric, then _1, _2, ... while the key is taken."""
    prefix = f"{names[output]}_" if len(names) > 1 and names[output] else ""
    key = prefix + name
    if weighted and key in used:
        key = f"{prefix}weighted_{name}"
    number = 0
    while (f"{key}_{number}" if number else key) in used:
        number += 1
    return f"{key}_{number}" if number else key


class _MaskedArray(np.ndarray):
    """A numpy array that carries the Keras mask of the Tensor it came from."""
    _keras_mask: np.ndarray | None = None


def _with_mask(prediction: Tensor) -> np.ndarray:
    """A prediction as the metrics take it: numpy, keeping its mask (Keras's mean metrics skip masked steps)."""
    mask = getattr(prediction, "_keras_mask", None)
    return prediction.data if mask is None else _masked(prediction.data, mask)


def _masked(array: np.ndarray, mask: np.ndarray) -> _MaskedArray:
    """The array, viewed as one that carries this mask."""
    array = array.view(_MaskedArray)
    array._keras_mask = mask
    return array
