"""Bidirectional, Keras's wrapper: one copy of a recurrent layer reads the sequence front to back, a second
(go_backwards) reads it back to front, and their outputs are merged.

Both directions get the same mask; the backward layer reverses it along with the sequence, so each reads
exactly the real steps. With return_sequences the backward outputs come back in the order of the input
before merging, and the outputs at masked steps are zeros in both directions (Keras forces the RNN's
zero_output_for_mask). Weights: the forward layer's, then the backward layer's. States, as Keras splits
them: initial_state lists the forward layer's states, then the backward's, and so does return_state.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..functions import concatenate
from ..fused_pair import ROWS as FUSED_PAIRS, FusedPair
from ..fused_rnn import batch_blocks
from ..tensor import Tensor
from .base import Layer, deserialize_layer, serialize_layer
from .recurrent import _Recurrent, sequence_shape, split_states, with_states

MERGE_MODES = ("concat", "sum", "mul", "ave", None)
RECURRENT_ATTRIBUTES = ("go_backwards", "return_sequences", "return_state", "stateful")


def _renamed_copy(layer: Layer, prefix: str, **changes: Any) -> Layer:
    """A fresh layer (new weights) from `layer`'s config, named prefix + its name, as Keras names the halves."""
    config = layer.get_config()
    base_name = layer.name[len(prefix):] if layer.name.startswith(prefix) else layer.name
    return type(layer).from_config({**config, **changes, "name": prefix + base_name})


class Bidirectional(Layer):
    """merge(forward(x), reverse_time(backward(x))) with merge concat, sum, mul, ave (the mean) or None (the
    list [forward, backward]); return_state adds the forward layer's final states, then the backward's."""
    supports_masking = True

    def __init__(self, layer: Layer, merge_mode: str | None = "concat", weights: list[np.ndarray] | None = None,
                 backward_layer: Layer | None = None, **kwargs: Any) -> None:
        if not isinstance(layer, Layer) or not all(hasattr(layer, a) for a in RECURRENT_ATTRIBUTES):
            raise ValueError(f"Bidirectional wraps a recurrent Layer instance (e.g. LSTM(64)), one with "
                             f"{', '.join(RECURRENT_ATTRIBUTES)}; got {layer!r:.80}")
        if backward_layer is not None and not (isinstance(backward_layer, Layer) and
                                               all(hasattr(backward_layer, a) for a in RECURRENT_ATTRIBUTES)):
            raise ValueError(f"Bidirectional's backward_layer must be a recurrent Layer instance or None, got "
                             f"{backward_layer!r:.80}")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Bidirectional's merge_mode must be one of {MERGE_MODES}, got {merge_mode!r}")
        # Unlike Keras 3 (always float32 unless told), the wrapper computes in its layer's dtype by default.
        super().__init__(weights=weights, **{"dtype": layer.dtype, **kwargs})
        self.merge_mode = merge_mode
        self.forward_layer = _renamed_copy(layer, "forward_")
        # The flip, as Keras 2 (Keras 3 sets True, and so refuses a go_backwards layer): the copy reads the other way.
        self.backward_layer = _renamed_copy(layer, "backward_", go_backwards=not layer.go_backwards) \
            if backward_layer is None else backward_layer
        self._check_halves()
        if not self.trainable:  # the halves were made after Layer.__init__ set the flag: freeze them too
            self.trainable = False
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state
        self.stateful = layer.stateful

    def _check_halves(self) -> None:
        forward, backward = self.forward_layer, self.backward_layer
        if forward.go_backwards == backward.go_backwards:
            raise ValueError(f"Bidirectional's layer and backward_layer must read in opposite directions, but both "
                             f"have go_backwards={forward.go_backwards}")
        for attribute in ("return_sequences", "return_state", "stateful"):
            if getattr(forward, attribute) != getattr(backward, attribute):
                raise ValueError(f"Bidirectional's layer and backward_layer must have the same {attribute}, got "
                                 f"{getattr(forward, attribute)} and {getattr(backward, attribute)}")
        if not forward.dtype == backward.dtype == self.dtype:  # the merge has no cast to make them agree
            raise ValueError(f"Bidirectional {self.name!r} and its layers must share one dtype, got {self.dtype} for "
                             f"the wrapper, {forward.dtype} and {backward.dtype} for the layers: give the wrapped "
                             "layer the dtype")

    state_count = property(lambda self: len(self.forward_layer.state_sizes) + len(self.backward_layer.state_sizes))

    def __call__(self, inputs: Any, *args: Any, initial_state: Any = None, **kwargs: Any) -> Any:
        """As Layer's; initial_state (the forward layer's states, then the backward's) joins the input."""
        if initial_state is not None:
            inputs = with_states(self, inputs, initial_state, self.state_count)
        return super().__call__(inputs, *args, **kwargs)

    def build(self, input_shape: Any) -> None:
        self.forward_layer._maybe_build(sequence_shape(input_shape))
        self.backward_layer._maybe_build(sequence_shape(input_shape))

    def call(self, inputs: Any, mask: np.ndarray | None = None, training: bool | None = None,
             initial_state: Any = None) -> Any:
        inputs, states = split_states(inputs if initial_state is None else
                                      with_states(self, inputs, initial_state, self.state_count))
        # Keras's split: the first half of the states starts the forward layer, the second the backward
        half = len(self.forward_layer.state_sizes)
        forward_states, backward_states = (None, None) if states is None else (states[:half], states[half:])
        if self._paired(inputs.shape[0]):
            y, y_rev = self._run_paired(inputs, mask, training, forward_states, backward_states)
        else:
            y = self.forward_layer(inputs, mask=mask, training=training, initial_state=forward_states)
            y_rev = self.backward_layer(inputs, mask=mask, training=training, initial_state=backward_states)
        states = []
        if self.return_state:
            (y, *forward_states), (y_rev, *backward_states) = y, y_rev
            states = forward_states + backward_states
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]  # back in the input's order
            if mask is not None:
                keep = np.asarray(mask, bool)[:, :, None].astype(y.dtype)
                y, y_rev = y * keep, y_rev * keep
        outputs = self._merge(y, y_rev)
        return outputs + states if self.merge_mode is None else ([outputs, *states] if states else outputs)

    def _paired(self, batch: int) -> bool:
        """Whether the two directions run as one FusedPair, each on a core: when both run fused ops (else each
        layer runs as it would alone: the composed reference, another cell), and the pair's two threads fill
        as many cores as one direction's blocks of rows would (all of them on a machine of two cores)."""
        return len(batch_blocks(batch)) <= 2 and all(
            isinstance(half, _Recurrent) and half.fused and half.fused_op in FUSED_PAIRS
            for half in (self.forward_layer, self.backward_layer))

    def _run_paired(self, x: Tensor, mask: np.ndarray | None, training: bool | None, forward_states: list | None,
                    backward_states: list | None) -> tuple[Any, Any]:
        """Each direction's outputs, as its layer's call would give them, from one FusedPair of its fused ops."""
        halves = (self.forward_layer, self.backward_layer)
        (forward, forward_options), (backward, backward_options) = (
            half.fused_arguments(x, mask, training, states) for half, states in zip(halves, (forward_states, backward_states)))
        result = FusedPair.apply(*forward, *backward, ops=tuple(half.fused_op for half in halves), split=len(forward),
                                 options=(forward_options, backward_options))
        width = sum(self.forward_layer.state_sizes)  # of the forward op's result: h, or [h | c] for the LSTM
        return (self.forward_layer.fused_outputs(result, 0, forward, forward_options),
                self.backward_layer.fused_outputs(result, width, backward, backward_options))

    def _merge(self, y: Tensor, y_rev: Tensor) -> Tensor | list[Tensor]:
        if self.merge_mode == "concat":
            return concatenate([y, y_rev], axis=-1)
        if self.merge_mode == "sum":
            return y + y_rev
        if self.merge_mode == "mul":
            return y * y_rev
        if self.merge_mode == "ave":
            return (y + y_rev) / 2
        return [y, y_rev]

    def compute_output_shape(self, input_shape: Any) -> Any:
        forward, backward = (half.compute_output_shape(sequence_shape(input_shape))
                             for half in (self.forward_layer, self.backward_layer))
        (forward, *forward_states), (backward, *backward_states) = \
            (forward, backward) if self.return_state else ([forward], [backward])
        # Keras doubles the forward size: the same as the sum, except for a backward_layer of other units
        output = forward[:-1] + (forward[-1] + backward[-1],) if self.merge_mode == "concat" else forward
        outputs = [forward, backward] if self.merge_mode is None else [output]
        return outputs + forward_states + backward_states if self.merge_mode is None or self.return_state else output

    def compute_mask(self, inputs: Any, mask: np.ndarray | None = None) -> Any:
        """The mask goes on with return_sequences (to both outputs when merge_mode is None); states have none."""
        output_mask = mask if self.return_sequences else None
        return [output_mask, output_mask] if self.merge_mode is None else output_mask

    @property
    def states(self) -> list[Tensor] | None:
        """A stateful wrapper's states: the forward layer's, then the backward's (None until known)."""
        forward, backward = self.forward_layer.states, self.backward_layer.states
        return None if forward is None or backward is None else [*forward, *backward]

    def reset_states(self) -> None:
        """Zero both directions' states; nothing to do when not stateful (as the recurrent layers: Keras's
        wrapper refuses, but then model.reset_states() could not pass over it)."""
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    reset_state = reset_states  # Keras 3's name

    def get_config(self) -> dict[str, Any]:
        """Keras's: the two layers nested as {"class_name", "config"}, plain JSON."""
        config = {k: v for k, v in super().get_config().items() if k != "weights"}
        return {**config, "merge_mode": self.merge_mode, "layer": serialize_layer(self.forward_layer),
                "backward_layer": serialize_layer(self.backward_layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        return cls(**{**config, "layer": deserialize_layer(config["layer"]),
                      "backward_layer": deserialize_layer(config.get("backward_layer"))})
