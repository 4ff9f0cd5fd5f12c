"""What the recurrent layers share: `_RecurrentBase`, any recurrence over (batch, time, features) with
Keras's options (RNN's base too), and `_Recurrent`, the weights and the recurrence of LSTM, GRU and
SimpleRNN. docs/recurrent.md says what a new recurrent layer writes."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import activations, initializers
from ..functions import Function, concatenate
from ..fused_pair import Columns
from ..tensor import Tensor
from ..helpers import dropout_rate, positive_int, random_generator
from .base import Layer
from .recurrent_arguments import keras_arguments
from .symbolic import KerasTensor, flatten


def set_cell_arguments(layer: Layer, units: int, activation: Any, recurrent_activation: Any, use_bias: bool,
                       kernel_initializer: Any, recurrent_initializer: Any, bias_initializer: Any, dropout: float,
                       recurrent_dropout: float, seed: int | None) -> None:
    """The arguments a recurrent layer and its cell share (LSTM and LSTMCell alike), checked and stored."""
    kind = type(layer).__name__
    layer.units = positive_int(units, f"{kind}'s units")
    layer.activation, layer.recurrent_activation = activations.get(activation), activations.get(recurrent_activation)
    layer.use_bias = bool(use_bias)
    layer.kernel_initializer, layer.recurrent_initializer, layer.bias_initializer = initializers.check(
        kernel_initializer, recurrent_initializer, bias_initializer)  # an unknown name fails here, not in fit
    layer.dropout = dropout_rate(dropout, f"{kind}'s dropout")
    layer.recurrent_dropout = dropout_rate(recurrent_dropout, f"{kind}'s recurrent_dropout")
    layer._generator = None if seed is None else np.random.default_rng(seed)


def kept_where_masked(new: Tensor, old: Tensor, mask: np.ndarray | None, t: int) -> Tensor:
    """A step's new state where step t is real, the old one where it is masked (the row keeps its state)."""
    if mask is None:
        return new
    keep = Tensor(mask[:, t:t + 1].astype(new.dtype))
    return keep * new + (1 - keep) * old


# Dropout, as Keras 3: while training, one mask per batch for the input (batch, features) and one for the
# state (batch, units), drawn once and used at every step, scaled by 1 / (1 - rate). Once recurrent_dropout
# is set, every gate gets masks of its own (Keras's `implementation=1`). Outside training, and at rate 0,
# there is no mask and no cost.
def dropped_product(a: Tensor, weights: Tensor, masks: np.ndarray | None) -> Tensor:
    """(a * mask) @ weights, with Tensor ops; one product per gate block when each gate has a mask."""
    if masks is None:
        return a @ weights
    size = weights.shape[1] // len(masks)
    return concatenate([(a * mask) @ weights[:, g * size:(g + 1) * size] for g, mask in enumerate(masks)], axis=1)


def draw_dropout_masks(generator: np.random.Generator | None, rates: tuple[float, float], count: int,
                       batch: int, sizes: tuple[int, int], dtype: Any) -> tuple[np.ndarray | None, ...]:
    """Keras's input and recurrent masks for one batch, each (count, batch, size) scaled by 1 / (1 - rate),
    or None at rate 0."""
    generator = generator or random_generator()

    def draw(rate: float, size: int) -> np.ndarray | None:
        keep = generator.random((count, batch, size)) >= rate
        return (keep / (1 - rate)).astype(dtype) if rate else None
    return draw(rates[0], sizes[0]), draw(rates[1], sizes[1])


def zeroed_before_start(sequence: Tensor, mask: np.ndarray, dtype: Any) -> Tensor:
    """The outputs with the steps before each row's first real one zeroed, as Keras gives them."""
    # A masked step repeats the previous output, and before a row's first real step Keras's is zeros,
    # where the recurrences give the state kept (the initial h)
    started = np.logical_or.accumulate(mask, axis=1)[:, :, None]
    return sequence * Tensor(started[:, -sequence.shape[1]:].astype(dtype))


# States: `initial_state=` is a list of (batch, size) tensors ([h, c] for an LSTM, [h] otherwise) and
# gradients flow into it. It joins the layer's inputs (Keras 2's way), so a functional graph records where
# the states come from: `decoder(x, initial_state=encoder_states)` replays like any other call. A stateful
# layer starts each batch from the last states of the one before, held as data (no gradient crosses batches),
# for a batch size fixed once (by the input's declared batch size, else by the first batch).
def split_states(inputs: Any) -> tuple[Any, list | None]:
    """[sequence, *states] (how initial states travel with the input) into the two; a lone input has none."""
    if isinstance(inputs, (list, tuple)):
        return inputs[0], list(inputs[1:]) or None
    return inputs, None


def with_states(layer: Layer, inputs: Any, initial_state: Any, count: int) -> Any:
    """The input with the initial states joined on, after checking that `count` of them came."""
    if isinstance(inputs, (list, tuple)):
        raise ValueError(f"{type(layer).__name__} {layer.name!r} got initial states twice: in a list input and "
                         "as initial_state=; give them once")
    states = flatten(initial_state)
    if len(states) != count:
        raise ValueError(f"{type(layer).__name__} {layer.name!r} takes {count} initial state tensor(s), got "
                         f"{len(states)} in initial_state")
    if isinstance(inputs, KerasTensor) and not all(isinstance(state, KerasTensor) for state in states):
        raise TypeError(f"{type(layer).__name__} {layer.name!r} is called in a functional graph, where initial_state "
                        f"must be KerasTensors (an Input, or a layer's output), got "
                        f"{[type(state).__name__ for state in states]}")
    return [inputs, *states]


def sequence_shape(input_shape: Any) -> tuple:
    """The sequence's shape when the input came as [sequence, *states]."""
    return tuple(input_shape[0]) if isinstance(input_shape, list) else tuple(input_shape)


class _RecurrentBase(Layer):
    """Any recurrence over (batch, time, features). A subclass gives `state_sizes`, `build_step` (the
    weights, from the sequence's shape), `output_size` and `run` (the loop)."""
    supports_masking = True
    float_inputs = True

    def __init__(self, return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful = bool(go_backwards), bool(stateful)
        self._carried: list[Tensor] | None = None  # a stateful layer's states, once its batch size is known

    # ---- what a subclass defines ------------------------------------------------------------------
    @property
    def state_sizes(self) -> list[int]:
        """The size of each state tensor, in the order of initial_state and of the returned states."""
        raise NotImplementedError

    output_size = property(lambda self: self.state_sizes[0])

    def build_step(self, input_shape: tuple) -> None:
        """The weights, from the shape (batch, time, features) of the sequence."""

    def run(self, x: Tensor, mask: np.ndarray | None, training: bool | None,
            initial_state: list[Tensor] | None) -> tuple[Tensor, list[Tensor]]:
        """(the outputs of every step, or of the last as (batch, 1, size); the final states); the
        initial states are zeros when None."""
        raise NotImplementedError

    def pack_states(self, states: list[Any]) -> Any:
        """The flat list of states in the nesting the user sees (RNN with stacked cells nests them)."""
        return list(states)

    # ---- the contract -----------------------------------------------------------------------------
    def __call__(self, inputs: Any, *args: Any, initial_state: Any = None, **kwargs: Any) -> Any:
        """As Layer's; initial_state joins the input, so that functional graphs record and replay it."""
        if initial_state is not None:
            inputs = with_states(self, inputs, initial_state, len(self.state_sizes))
        return super().__call__(inputs, *args, **kwargs)

    def build(self, input_shape: Any) -> None:
        """The weights (build_step), from the sequence's shape."""
        shape = sequence_shape(input_shape)
        if len(shape) != 3 or shape[-1] is None:
            raise ValueError(f"{type(self).__name__} needs input of shape (batch, time, features), got shape {shape}")
        self.build_step(shape)
        if self.stateful and shape[0] is not None:  # a batch size declared up front (Input(batch_size=...))
            self._carry_for(shape[0])

    def call(self, inputs: Any, mask: np.ndarray | None = None, training: bool | None = None,
             initial_state: Any = None) -> Any:
        """The recurrence over the sequence: the last step's output or every step's, and the final states if asked."""
        x, states = split_states(inputs if initial_state is None else
                                 with_states(self, inputs, initial_state, len(self.state_sizes)))
        self._check_sequence(x)
        if mask is not None or states is not None or self.stateful or self.go_backwards:  # the rarer options
            x, mask, states = self._prepared(x, mask, states)
        sequence, final = self.run(x, mask, training, states)
        if self.stateful:
            self._carried = [Tensor(state.data.copy()) for state in final]
        output = sequence if self.return_sequences else sequence[:, -1]
        return [output, *self.pack_states(final)] if self.return_state else output

    def _prepared(self, x: Tensor, mask: Any, states: list | None) -> tuple[Tensor, np.ndarray | None, list | None]:
        """The rarer options applied: the mask checked, the initial states (given, or a stateful layer's),
        and go_backwards's reversal."""
        mask = None if mask is None else self._checked_mask(mask, x)
        if states is not None or self.stateful:  # else the recurrence starts from zeros
            states = self._initial_states(x.shape[0], states)
        if self.go_backwards:  # Keras reads the sequence back to front and returns it in that order
            x, mask = x[:, ::-1], None if mask is None else mask[:, ::-1]
        return x, mask, states

    def compute_output_shape(self, input_shape: Any) -> Any:
        batch, steps, _ = sequence_shape(input_shape)
        if isinstance(input_shape, list):
            self._check_state_shapes(batch, [tuple(shape) for shape in input_shape[1:]])
        output = (batch, steps, self.output_size) if self.return_sequences else (batch, self.output_size)
        return [output, *self.pack_states([(batch, size) for size in self.state_sizes])] if self.return_state \
            else output

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Keras's rule: the (first) mask goes on with a returned sequence, as given even under go_backwards;
        with return_state, each state's mask is None."""
        mask = flatten(mask)[0] if isinstance(mask, (list, tuple)) else mask
        output_mask = mask if self.return_sequences else None
        return [output_mask] + [None] * len(self.state_sizes) if self.return_state else output_mask

    # ---- states -----------------------------------------------------------------------------------
    @property
    def states(self) -> Any:
        """A stateful layer's current states (None before its batch size is known, or when not stateful)."""
        return None if self._carried is None else self.pack_states(self._carried)

    def reset_states(self) -> None:
        """Zero a stateful layer's states (nothing to do for a layer that is not stateful)."""
        if self._carried is not None:
            self._carried = [Tensor(np.zeros_like(state.data)) for state in self._carried]

    reset_state = reset_states  # Keras 3's name; reset_states is Keras 2's, which Keras 3 keeps

    def _carry_for(self, batch: int) -> None:
        """Fix the stateful batch size at the first one seen (zero states), refuse any other after."""
        if self._carried is None:
            self._carried = [Tensor(np.zeros((batch, size), self.dtype)) for size in self.state_sizes]
        expected = self._carried[0].shape[0]
        if batch != expected:
            raise ValueError(f"{type(self).__name__} {self.name!r} is stateful with batch size {expected} (each "
                             f"batch continues the states of the one before), got a batch of {batch}: give every "
                             f"batch {expected} samples (fit/predict with batch_size={expected} and a sample count "
                             "divisible by it)")

    def _initial_states(self, batch: int, given: list | None) -> list[Tensor]:
        """The states given (checked), else a stateful layer's carried ones (its batch size fixed first)."""
        if self.stateful:
            self._carry_for(batch)
        if given is not None:
            self._check_state_shapes(batch, [state.shape for state in given])
            return given
        return list(self._carried)

    def _check_state_shapes(self, batch: int | None, shapes: list[tuple]) -> None:
        if len(shapes) != len(self.state_sizes):  # initial states given in a list input, [sequence, *states]
            raise ValueError(f"{type(self).__name__} {self.name!r} takes {len(self.state_sizes)} initial state "
                             f"tensor(s), got {len(shapes)}")
        for i, (shape, size) in enumerate(zip(shapes, self.state_sizes)):
            if len(shape) != 2 or shape[1] != size or None not in (batch, shape[0]) and shape[0] != batch:
                raise ValueError(f"{type(self).__name__} {self.name!r}: initial_state[{i}] must have shape "
                                 f"(batch, {size}) = {(batch, size)}, got {tuple(shape)}")

    # ---- input checks -----------------------------------------------------------------------------
    def _check_sequence(self, x: Tensor) -> None:
        """Refuse a sequence of other features than the layer was built for, or of no steps."""
        if x.ndim != 3 or x.shape[2] != self._features or x.shape[1] == 0:
            self._refuse_sequence(x)

    def _refuse_sequence(self, x: Tensor) -> None:
        """The error for a sequence that _check_sequence refuses."""
        if x.ndim != 3 or x.shape[2] != self._features:
            raise ValueError(f"{type(self).__name__} {self.name!r} was built for input (batch, time, "
                             f"{self._features}), got shape {x.shape}")
        raise ValueError(f"{type(self).__name__} {self.name!r} needs at least one time step, got shape {x.shape}")

    def _checked_mask(self, mask: Any, x: Tensor) -> np.ndarray:
        mask = np.asarray(mask)
        if mask.shape != x.shape[:2]:
            raise ValueError(f"{type(self).__name__} mask must have shape (batch, time) = {x.shape[:2]}, "
                             f"got {mask.shape}")
        return mask.astype(bool)


class _Recurrent(_RecurrentBase):
    """LSTM's, GRU's and SimpleRNN's shared part: units, activations, dropout, the weights, and `run`: the
    layer's fused op, or its reference for activations the fused op does not hard-wire."""
    gates = 1  # blocks of `units` columns in the kernels and the bias (LSTM 4, GRU 3)
    state_count = 1  # h, and for the LSTM c
    fused_op: type[Function]  # the recurrence as one op, its backpropagation through time written by hand
    reference: Callable  # the same maths composed from Tensor ops, as a staticmethod (lstm_reference, ...)
    reference_keywords = ("activation", "recurrent_activation")  # passed to the reference; fused ops hard-wire them

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros", dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 fused: bool = True, **kwargs: Any) -> None:
        kwargs = keras_arguments(self, kwargs) if kwargs else kwargs  # unroll=, Keras 1's names, ...
        super().__init__(return_sequences, return_state, go_backwards, stateful, **kwargs)
        set_cell_arguments(self, units, activation, recurrent_activation, use_bias, kernel_initializer,
                           recurrent_initializer, bias_initializer, dropout, recurrent_dropout, seed)
        # The fused kernels hard-wire Keras's default activations; any other pair runs the reference.
        self.default_activations = activation == "tanh" and recurrent_activation == "sigmoid"
        self.fused = fused and self.default_activations

    state_sizes = property(lambda self: [self.units] * self.state_count)
    _features = property(lambda self: self.kernel.shape[0])
    bias_shape = property(lambda self: (self.gates * self.units,))

    def build_step(self, input_shape: tuple) -> None:
        """kernel (features, gates units), recurrent_kernel (units, gates units), bias (zeros without use_bias)."""
        n = self.gates * self.units
        self.kernel = self.add_weight((input_shape[-1], n), self.kernel_initializer, name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, n), self.recurrent_initializer, name="recurrent_kernel")
        self.bias = self.add_weight(self.bias_shape, self.initialize_bias, name="bias") if self.use_bias else \
            Tensor(np.zeros(self.bias_shape, self.dtype))

    def initialize_bias(self, shape: tuple, dtype: Any) -> np.ndarray:
        """bias_initializer's values (None means add_weight's default, glorot_uniform)."""
        initializer = "glorot_uniform" if self.bias_initializer is None else self.bias_initializer
        return initializers.get(initializer)(shape, dtype)

    def run(self, x: Tensor, mask: np.ndarray | None, training: bool | None,
            initial_state: list[Tensor] | None) -> tuple[Tensor, list[Tensor]]:
        """(outputs of every step, or of the last one as (batch, 1, units); the final states), starting from
        initial_state ([h] or [h, c], zeros when None): the fused op's, or the reference's."""
        dropping = training and (self.dropout or self.recurrent_dropout)  # else no masks, and no cost
        input_masks, recurrent_masks = self.dropout_masks(x, training) if dropping else (None, None)
        inputs = (x, self.kernel, self.recurrent_kernel, self.bias, *(initial_state or ()))
        options = dict(mask=mask, all_steps=self.return_sequences, input_masks=input_masks,
                       recurrent_masks=recurrent_masks)
        result = self.fused_op.apply(*inputs, **options) if self.fused else self._run_reference(inputs, options)
        sequence, states = self.split_result(result)
        if mask is not None and initial_state is not None:
            sequence = zeroed_before_start(sequence, mask, x.dtype)
        return sequence, states

    def _run_reference(self, inputs: tuple, options: dict) -> Tensor:
        """The recurrence composed from Tensor ops, given the activations the fused op hard-wires."""
        keywords = {name: getattr(self, name) for name in self.reference_keywords}
        return self.reference(*inputs, **keywords, **options)

    def split_result(self, result: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The recurrence's result as (the outputs, the final states): here h of each step, so [its last h]."""
        return result, [result[:, -1]]

    # ---- beside another recurrence (Bidirectional's FusedPair): call() and run() cut at the fused op ----------
    # The two halves below make what call() and run() make before and after their fused op; Bidirectional
    # runs its two directions' fused ops as one. tests/test_bidirectional.py proves both ways give the same.
    def fused_arguments(self, x: Tensor, mask: np.ndarray | None, training: bool | None,
                        states: list[Tensor] | None) -> tuple[tuple, dict]:
        """(inputs, options) that call() would hand the fused op for this sequence, mask and initial states."""
        self._check_sequence(x)
        x, mask, states = self._prepared(x, mask, states)
        input_masks, recurrent_masks = self.dropout_masks(x, training)
        return (x, self.kernel, self.recurrent_kernel, self.bias, *(states or ())), \
            dict(mask=mask, all_steps=self.return_sequences, input_masks=input_masks, recurrent_masks=recurrent_masks)

    def fused_outputs(self, result: Tensor, start: int, inputs: tuple, options: dict) -> Any:
        """What call() returns once the fused op gave its result for these fused_arguments, in `result`'s columns
        from `start` on: the states side by side, h first, as split_result reads them."""
        # Columns rather than result[...] (GetItem): its backward writes the gradient where np.add.at would add it
        bounds = start + np.cumsum([0, *self.state_sizes])
        sequence = Columns.apply(result, start, start + self.units)
        final = [Columns.apply(result[:, -1], lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
        if options["mask"] is not None and len(inputs) > 4:  # initial states given
            sequence = zeroed_before_start(sequence, options["mask"], inputs[0].dtype)
        if self.stateful:
            self._carried = [Tensor(state.data.copy()) for state in final]
        output = sequence if self.return_sequences else sequence[:, -1]
        return [output, *self.pack_states(final)] if self.return_state else output

    def dropout_masks(self, x: Tensor, training: bool | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Keras's masks for this batch, (count, batch, features) and (count, batch, units), or None."""
        if not training or not (self.dropout or self.recurrent_dropout):
            return None, None
        count = self.gates if self.recurrent_dropout else 1
        return draw_dropout_masks(self._generator, (self.dropout, self.recurrent_dropout), count, x.shape[0],
                                  (x.shape[2], self.units), x.dtype)
