"""Looking inside a model: what its Embedding learned, which rows a batch reads, how much gradient
reaches each word, how saturated an LSTM's gates are. Each function works on a trained model or its
arrays and changes nothing in them.

    nearest_words(table, tokenizer.word_index, "great")      # [(word, cosine similarity), ...]
    gradient_through_time(model, x, y)                       # (batch, steps): |d loss / d embedding output|
    gate_saturation(model, x)                                # per step: how many LSTM gates sit near 0 or 1
    attention_scores(model, x, layer="multi_head_attention")  # what each query step attends to
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from .layers import LSTM, Attention, Embedding, Layer, MultiHeadAttention
from .layers.weight_paths import named_weights  # noqa: F401 (inspect.named_weights, as documented)
from .functions import validate_indices
from .tensor import Tensor, no_grad
from .helpers import positive_int


# ---- the table ----------------------------------------------------------------------------------
def _table(table: Any) -> np.ndarray:
    """An embedding table (a Tensor or an array) as a 2-D float array, checked."""
    table = np.asarray(table.data if isinstance(table, Tensor) else table)
    if table.ndim != 2 or table.dtype.kind != "f":
        raise ValueError(f"an embedding table must be a 2-D float array (rows, dims), got shape {table.shape} "
                         f"of dtype {table.dtype}")
    return table


def _row(word_index: Mapping[str, int], word: str, index_offset: int, rows: int) -> int:
    """The table row of `word`: its id in word_index plus index_offset, checked."""
    if word not in word_index:
        raise KeyError(f"{word!r} is not in the word index ({len(word_index)} words)")
    row = word_index[word] + index_offset
    if not 0 <= row < rows:
        raise IndexError(f"{word!r} has id {row} (word index {word_index[word]} + index_offset {index_offset}), "
                         f"outside the table's {rows} rows: the model was trained on fewer words")
    return row


def nearest_words(table: Any, word_index: Mapping[str, int], word: str, k: int = 10,
                  index_offset: int = 0) -> list[tuple[str, float]]:
    """The k words whose rows are nearest `word`'s by cosine similarity u.v / (|u| |v|), best first (a
    zero row counts as similarity 0). A word's row is word_index[word] + index_offset: 0 for a
    Tokenizer's word_index, 3 for imdb.get_word_index() with load_data's ids."""
    table = _table(table)
    query = table[_row(word_index, word, index_offset, len(table))]
    k = positive_int(k, "k")
    others = [(w, i + index_offset) for w, i in word_index.items() if w != word and 0 <= i + index_offset < len(table)]
    rows = table[[row for _, row in others]] if others else np.empty((0, table.shape[1]), table.dtype)
    norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(query)
    similarity = np.divide(rows @ query, norms, out=np.zeros(len(rows)), where=norms > 0)
    best = np.argsort(-similarity, kind="stable")[:k]  # stable: ties in the word index's order
    return [(others[i][0], float(similarity[i])) for i in best]


def export_projector(table: Any, words: Sequence[str], directory: str | os.PathLike) -> tuple[Path, Path]:
    """Write directory/vectors.tsv (row i of the table, tab-separated, no header) and
    directory/metadata.tsv (words[i] on line i), the files projector.tensorflow.org loads as they are.
    Returns both paths."""
    table = _table(table)
    words = [str(w) for w in words]
    if len(words) != len(table):
        raise ValueError(f"export_projector needs one word per row: the table has {len(table)} rows, "
                         f"got {len(words)} words (slice the table to the words you export)")
    bad = next((w for w in words if "\t" in w or "\n" in w or "\r" in w), None)
    if bad is not None:
        raise ValueError(f"the word {bad!r} holds a tab or a line break, which would break the TSV files")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    digits = 9 if table.dtype == np.float32 else 17  # enough to read back every value exactly
    vectors, metadata = directory / "vectors.tsv", directory / "metadata.tsv"
    np.savetxt(vectors, table, fmt=f"%.{digits}g", delimiter="\t")
    metadata.write_text("".join(f"{w}\n" for w in words), encoding="utf-8")  # one column: no header line
    return vectors, metadata


def rows_touched(ids: Any, input_dim: int) -> np.ndarray:
    """How often a batch of ids reads each of the table's input_dim rows: counts of shape (input_dim,).
    The rows with a non-zero count are the ones the batch's gradient can reach (the scatter-add)."""
    input_dim = positive_int(input_dim, "input_dim")
    return np.bincount(validate_indices(ids, input_dim).reshape(-1), minlength=input_dim)


# ---- a layer inside a model, intercepted ---------------------------------------------------------
def _layer_of(model: Any, kind: type, purpose: str) -> Layer:
    """The model itself if it is a `kind`, else its first layer of that kind in Keras's layer order."""
    if isinstance(model, kind):
        return model
    found = next((layer for layer in getattr(model, "layers", []) if isinstance(layer, kind)), None)
    if found is None:
        names = [type(layer).__name__ for layer in getattr(model, "layers", [])]
        raise ValueError(f"{purpose} needs a model with an {kind.__name__} layer; this "
                         f"{type(model).__name__} has {names or 'no layers'}")
    return found


@contextlib.contextmanager
def _intercepted(layer: Layer, wrapper: Callable[..., Any]) -> Iterator[None]:
    """While active, a call of `layer` runs wrapper(original_call, inputs, **kwargs) instead of its
    call: an instance attribute shadows the class's method, so every model's replay goes through it."""
    original = layer.call
    layer.call = lambda inputs, **kwargs: wrapper(original, inputs, **kwargs)
    try:
        yield
    finally:
        del layer.call


def _ids(x: Any) -> np.ndarray:
    """A batch of id sequences as a 2-D array, checked."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be a batch of id sequences, shape (batch, steps), got shape {x.shape}")
    return x


def gradient_through_time(model: Any, x: Any, y: Any) -> np.ndarray:
    """|d loss / d e[b, t]| for each sample b and step t, shape (batch, steps): e is the output of the
    model's Embedding, the norm is over its dims, and the loss is the compiled loss as fit minimises it,
    the mean over the batch (so each sample's share is 1/batch of its own gradient). Run in inference
    mode (no dropout); the model's weights and their .grad are left as they were."""
    embedding = _layer_of(model, Embedding, "gradient_through_time")
    if getattr(model, "loss", None) is None:
        raise ValueError("gradient_through_time needs a compiled model: call model.compile(loss=...) first")
    x, leaves = _ids(x), []

    def as_leaf(call, inputs, **kwargs):  # the rest of the model runs on a leaf, whose .grad backward fills
        leaves.append(Tensor(call(inputs, **kwargs).data, requires_grad=True))
        return leaves[-1]  # Layer.__call__ then attaches the mask (ids != 0) to it, as to any output
    saved = [(w, w.grad) for w in model.trainable_weights]
    try:
        with _intercepted(embedding, as_leaf):
            loss = model.loss(y, model(x, training=False)).mean()
        if len(leaves) != 1:
            raise ValueError(f"Embedding {embedding.name!r} ran {len(leaves)} times in one call of the model; "
                             "gradient_through_time needs it to run exactly once")
        loss.backward()
    finally:
        for weight, grad in saved:
            weight.grad = grad
    return np.linalg.norm(leaves[0].grad, axis=-1)


# ---- LSTM gates ---------------------------------------------------------------------------------
def gate_values(model: Any, x: Any) -> dict[str, np.ndarray]:
    """The input, forget and output gate values of the model's first LSTM (or of `model` itself when
    it is one) on the batch x: {"input": (steps, batch, units), "forget": ..., "output": ...}, steps in
    the order the LSTM reads them (reversed for go_backwards), NaN where a step is masked for a row."""
    lstm = _layer_of(model, LSTM, "gate_values")
    seen = []

    def record(call, inputs, mask=None, **kwargs):
        seen.append((inputs.data, mask))
        return call(inputs, mask=mask, **kwargs)
    with no_grad(), _intercepted(lstm, record):
        model(x, training=False)
    inputs, mask = seen[0]
    mask = np.ones(inputs.shape[:2], bool) if mask is None else np.asarray(mask, bool)
    if lstm.go_backwards:
        inputs, mask = inputs[:, ::-1], mask[:, ::-1]
    steps = [{name: np.where(mask[:, t, None], values, np.nan) for name, values in gates.items()}
             for t, gates in enumerate(_lstm_gates(lstm, inputs, mask))]
    return {name: np.stack([step[name] for step in steps]) for name in ("input", "forget", "output")}


def gate_saturation(model: Any, x: Any, low: float = 0.05, high: float = 0.95) -> dict[str, np.ndarray]:
    """At each step, the fraction of gate values (gate_values) below `low` or above `high`, over the
    rows the step does not mask and the units: {"input": (steps,), "forget": ..., "output": ...}; NaN
    at a step every row masks. A sigmoid gate there passes little gradient: s(1 - s) < 0.0475."""
    if not 0 <= low < high <= 1:
        raise ValueError(f"need 0 <= low < high <= 1, got low={low!r}, high={high!r}")
    fractions = {}
    for name, values in gate_values(model, x).items():
        counted = np.count_nonzero(~np.isnan(values), axis=(1, 2))
        saturated = np.count_nonzero((values < low) | (values > high), axis=(1, 2))  # NaN compares False
        fractions[name] = np.divide(saturated, counted, out=np.full(len(values), np.nan), where=counted > 0)
    return fractions


def _lstm_gates(lstm: LSTM, x: np.ndarray, mask: np.ndarray) -> Iterator[dict[str, np.ndarray]]:
    """Keras's LSTM step by step in numpy (layers/lstm.py has the equations), yielding each step's
    i, f, o gate values, (batch, units); masked rows keep their state."""
    kernel, recurrent_kernel, bias = (w.data for w in (lstm.kernel, lstm.recurrent_kernel, lstm.bias))
    u = lstm.units
    h = c = np.zeros((len(x), u), x.dtype)

    def act(function, z):
        return function(Tensor(z)).data
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        i, f, o = (act(lstm.recurrent_activation, z[:, k * u:(k + 1) * u]) for k in (0, 1, 3))
        c_new = f * c + i * act(lstm.activation, z[:, 2 * u:3 * u])
        keep = mask[:, t:t + 1]
        h, c = np.where(keep, o * act(lstm.activation, c_new), h), np.where(keep, c_new, c)
        yield {"input": i, "forget": f, "output": o}


# ---- attention ------------------------------------------------------------------------------------
def _layers_within(model: Any) -> list[Layer]:
    """Every layer inside `model`, depth first: a model's layers and a layer's sublayers (a user's
    TransformerBlock holding a MultiHeadAttention), then theirs, each once."""
    found: list[Layer] = []

    def walk(outer: Any) -> None:
        for inner in [*(getattr(outer, "layers", None) or []), *outer.__dict__.get("_layers", [])]:
            if all(inner is not known for known in found):
                found.append(inner)
                walk(inner)
    walk(model)
    return found


def _attention_layer(model: Any, layer: Any) -> Layer:
    """`layer` itself, the layer of that name inside the model (nested ones too), or (None) the first
    attention layer inside it."""
    kinds, within = (MultiHeadAttention, Attention), _layers_within(model)  # AdditiveAttention is an Attention
    found = layer
    if layer is None:
        found = model if isinstance(model, kinds) else next((known for known in within if isinstance(known, kinds)), None)
    elif isinstance(layer, str):
        found = next((known for known in within if known.name == layer), None)
    if not isinstance(found, kinds):
        names = [f"{known.name} ({type(known).__name__})" for known in within]
        raise ValueError(f"attention_scores needs an attention layer (MultiHeadAttention, Attention, "
                         f"AdditiveAttention); layer={layer!r} names none among {names or 'no layers'}")
    return found


def attention_scores(model: Any, x: Any, layer: Any = None) -> np.ndarray:
    """The attention scores one attention layer gives while the model runs on the batch x, in inference
    mode: MultiHeadAttention's (batch, num_heads, T, S) (more axes with attention_axes), Attention's and
    AdditiveAttention's (batch, Tq, Tv); each query row sums to 1 over what it may attend to (0 for a row
    masked throughout in MultiHeadAttention). `layer`: the layer itself, its name, or None for the
    model's first attention layer. The model is left as it was."""
    target, seen = _attention_layer(model, layer), []

    def record(call, inputs, return_attention_scores=False, **kwargs):
        output, scores = call(inputs, return_attention_scores=True, **kwargs)
        seen.append(scores.data)
        return (output, scores) if return_attention_scores else output
    with no_grad(), _intercepted(target, record):
        model(x, training=False)
    if len(seen) != 1:
        raise ValueError(f"{type(target).__name__} {target.name!r} ran {len(seen)} times in one call of the model; "
                         "attention_scores needs it to run exactly once")
    return seen[0]
