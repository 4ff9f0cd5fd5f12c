"""MultiHeadAttention, Attention and AdditiveAttention against real Keras 3 (torch backend), from the same
weights and inputs: outputs, attention scores and the gradients of inputs and every weight, with and
without each kind of mask, the causal mask, several attention_axes, float32 and float64; the weights'
names and order, and Keras's .weights.h5 both ways.
Skipped without Keras and torch, except under `make parity` (TINYGRAD_EMBED_PARITY=required)."""
import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
torch = require("torch")
require("h5py")

import tinygrad_embed as tg  # noqa: E402
from keras.src import backend as keras_backend  # noqa: E402

TOLERANCE = {"float64": dict(rtol=1e-9, atol=1e-11), "float32": dict(rtol=2e-4, atol=2e-5)}
# Keras 3.15's Attention and AdditiveAttention compute in float32 even for a float64 layer (their outputs are
# float32 tensors): ours are float64 there, so the comparison is to float32's precision.
KERAS_FLOAT32 = dict(rtol=2e-4, atol=2e-5)


def _run_both(theirs, ours, tensors, dtype, keras_kwargs, our_kwargs, masks=(), upstream_keep=None):
    """Call both on the same arrays; return (Keras's, ours) for outputs, input gradients and weight gradients
    under the same random upstream gradient (zero where upstream_keep is False)."""
    rng = np.random.default_rng(7)
    keras_inputs = [torch.tensor(t, requires_grad=True) for t in tensors]
    our_inputs = [tg.Tensor(t, requires_grad=True) for t in tensors]
    for index, mask in masks:
        keras_backend.set_keras_mask(keras_inputs[index], torch.tensor(mask))
        our_inputs[index]._keras_mask = mask
    as_list = isinstance(ours, tg.layers.Attention)  # Attention layers take [query, value, key], MHA three arguments
    theirs_out = theirs(keras_inputs, **keras_kwargs) if as_list else theirs(*keras_inputs, **keras_kwargs)
    ours_out = ours(our_inputs, **our_kwargs) if as_list else ours(*our_inputs, **our_kwargs)
    theirs_out = theirs_out if isinstance(theirs_out, tuple) else (theirs_out,)
    ours_out = ours_out if isinstance(ours_out, tuple) else (ours_out,)
    keras_loss, our_loss, outputs = 0, 0, []
    for index, (a, b) in enumerate(zip(theirs_out, ours_out)):
        upstream = rng.standard_normal(b.shape).astype(dtype)
        if index == 0 and upstream_keep is not None:
            upstream = upstream * upstream_keep[..., None]
        keras_loss = keras_loss + (a * torch.tensor(upstream, dtype=a.dtype)).sum()
        our_loss = our_loss + (b * upstream).sum()
        outputs.append((a.detach().numpy(), b.data))
    keras_loss.backward()
    our_loss.backward()
    inputs = [(k.grad.numpy(), o.grad) for k, o in zip(keras_inputs, our_inputs)]
    weights = [(k.value.grad.numpy(), o.grad) for k, o in zip(theirs.trainable_weights, ours.trainable_weights)]
    return outputs, inputs, weights


def _assert_pairs(pairs, tolerance):
    for theirs, ours in pairs:
        assert not np.isnan(ours).any()
        np.testing.assert_allclose(ours, theirs, **tolerance)


def mha_pair(dtype, query_shape, value_shape, **options):
    theirs = keras.layers.MultiHeadAttention(2, 3, dtype=dtype, **options)
    ours = tg.layers.MultiHeadAttention(2, 3, dtype=dtype, **options)
    theirs.build(query_shape, value_shape)
    ours(np.zeros(query_shape), np.zeros(value_shape))
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal(w.shape).astype(dtype) * 0.5 for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return theirs, ours


def _masks(rng, query_shape, value_shape, fully_masked):
    query_mask = rng.random(query_shape[:-1]) > 0.3
    value_mask = rng.random(value_shape[:-1]) > 0.3
    value_mask[..., 0] = True  # every row keeps a column
    if fully_masked:
        value_mask[0] = False  # the first sample's rows are masked throughout: zeros, never NaN
    return query_mask, value_mask


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("masks", ["none", "query and value", "value only", "attention_mask", "all, causal"])
def test_multi_head_attention_outputs_scores_and_gradients_match_keras(dtype, masks):
    rng = np.random.default_rng(3)
    query_shape, value_shape = (3, 4, 5), (3, 6, 5)
    theirs, ours = mha_pair(dtype, query_shape, value_shape)
    query, value = (rng.standard_normal(s).astype(dtype) for s in (query_shape, value_shape))
    query_mask, value_mask = _masks(rng, query_shape, value_shape, fully_masked=True)
    given = {"none": [], "query and value": [(0, query_mask), (1, value_mask)], "value only": [(1, value_mask)],
             "attention_mask": [], "all, causal": [(0, query_mask), (1, value_mask)]}[masks]
    kwargs = {"return_attention_scores": True, "use_causal_mask": masks == "all, causal"}
    keras_kwargs, our_kwargs = dict(kwargs), dict(kwargs)
    if masks in ("attention_mask", "all, causal"):
        allowed = rng.random((3, 4, 6)) > 0.4
        allowed[..., 0] = True
        keras_kwargs["attention_mask"], our_kwargs["attention_mask"] = torch.tensor(allowed), allowed
    outputs, inputs, weights = _run_both(theirs, ours, [query, value], dtype, keras_kwargs, our_kwargs, given)
    for pairs in (outputs, inputs, weights):
        _assert_pairs(pairs, TOLERANCE[dtype])
    assert len(weights) == 8


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_keras_fast_path_without_scores_matches_on_rows_that_keep_a_column(dtype):
    """Without return_attention_scores and dropout Keras takes torch's fused attention, which gives a row
    masked throughout a uniform average where its Softmax layer gives zeros; elsewhere the two agree."""
    rng = np.random.default_rng(4)
    theirs, ours = mha_pair(dtype, (3, 4, 5), (3, 6, 5))
    query, value = (rng.standard_normal(s).astype(dtype) for s in ((3, 4, 5), (3, 6, 5)))
    query_mask, value_mask = _masks(rng, (3, 4, 5), (3, 6, 5), fully_masked=False)
    outputs, inputs, weights = _run_both(theirs, ours, [query, value], dtype, {}, {},
                                         [(0, query_mask), (1, value_mask)], upstream_keep=query_mask)
    keep = query_mask[..., None]  # torch's fused kernel agrees to float32's precision only, even in float64
    _assert_pairs([(a * keep, b * keep) for a, b in outputs], KERAS_FLOAT32)
    _assert_pairs(inputs + weights, KERAS_FLOAT32)


@pytest.mark.parametrize("axes, shape", [((2, 3), (2, 3, 2, 3, 4)), ((1,), (2, 3, 2, 4)), ((2,), (2, 3, 2, 4)),
                                         ((-2,), (2, 3, 2, 4)), ((1, 2), (2, 2, 3, 4))])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_multi_head_attention_over_other_axes_matches_keras(axes, shape, dtype):
    rng = np.random.default_rng(5)
    theirs, ours = mha_pair(dtype, shape, shape, attention_axes=axes)
    query, value = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    outputs, inputs, weights = _run_both(theirs, ours, [query, value], dtype, {"return_attention_scores": True},
                                         {"return_attention_scores": True})
    for pairs in (outputs, inputs, weights):
        _assert_pairs(pairs, TOLERANCE[dtype])


def test_multi_head_attention_with_key_value_dim_output_shape_and_no_bias_matches_keras():
    rng = np.random.default_rng(6)
    shapes = (2, 4, 5), (2, 6, 3), (2, 6, 7)
    theirs = keras.layers.MultiHeadAttention(2, 3, value_dim=4, output_shape=(2, 3), use_bias=False, dtype="float64")
    ours = tg.layers.MultiHeadAttention(2, 3, value_dim=4, output_shape=(2, 3), use_bias=False, dtype="float64")
    theirs.build(*shapes)
    ours(*(np.zeros(s) for s in shapes))
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    weights = [rng.standard_normal(w.shape) for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    tensors = [rng.standard_normal(s) for s in shapes]
    outputs, inputs, grads = _run_both(theirs, ours, tensors, "float64", {"return_attention_scores": True},
                                       {"return_attention_scores": True})
    for pairs in (outputs, inputs, grads):
        _assert_pairs(pairs, TOLERANCE["float64"])


@pytest.mark.parametrize("options", [{"use_gate": True}, {"sliding_window": 2}, {"sliding_window": 2, "use_gate": True}])
@pytest.mark.parametrize("causal", [False, True])
def test_gated_and_sliding_window_attention_match_keras(options, causal):
    rng = np.random.default_rng(10)
    theirs, ours = mha_pair("float64", (2, 5, 4), (2, 5, 4), **options)
    assert [w.path.split("/", 1)[1] for w in theirs.weights] == [
        f"{d.name}/{n}" for d in ours._layers for n in d._weight_names]
    tensors = [rng.standard_normal((2, 5, 4)) for _ in range(2)]
    kwargs = {"return_attention_scores": True, "use_causal_mask": causal}
    outputs, inputs, weights = _run_both(theirs, ours, tensors, "float64", kwargs, kwargs)
    for pairs in (outputs, inputs, weights):
        _assert_pairs(pairs, TOLERANCE["float64"])


def test_weights_files_move_between_keras_and_tinygrad_embed(tmp_path):
    rng = np.random.default_rng(8)
    inputs = keras.Input((4, 6))
    keras_model = keras.Model(inputs, keras.layers.MultiHeadAttention(2, 3)(inputs, inputs))
    ours_in = tg.layers.Input((4, 6))
    our_model = tg.models.Model(ours_in, tg.layers.MultiHeadAttention(2, 3)(ours_in, ours_in))
    keras_model.set_weights([rng.standard_normal(w.shape).astype("float32") for w in keras_model.weights])
    keras_model.save_weights(tmp_path / "k.weights.h5")
    our_model.load_weights(str(tmp_path / "k.weights.h5"))
    x = rng.standard_normal((2, 4, 6)).astype("float32")
    np.testing.assert_allclose(our_model.predict(x, verbose=0), keras_model.predict(x, verbose=0), **KERAS_FLOAT32)
    our_model.set_weights([rng.standard_normal(w.shape).astype("float32") for w in our_model.weights])
    our_model.save_weights(str(tmp_path / "o.weights.h5"))
    keras_model.load_weights(tmp_path / "o.weights.h5")
    np.testing.assert_allclose(keras_model.predict(x, verbose=0), our_model.predict(x, verbose=0), **KERAS_FLOAT32)


@pytest.mark.parametrize("kind, options", [("Attention", {}), ("Attention", {"use_scale": True}),
                                           ("Attention", {"score_mode": "concat", "use_scale": True}),
                                           ("Attention", {"score_mode": "concat"}), ("AdditiveAttention", {}),
                                           ("AdditiveAttention", {"use_scale": False})])
@pytest.mark.parametrize("masks", ["none", "query and value", "causal", "value, causal, key"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_attention_layers_match_keras(kind, options, masks, dtype):
    rng = np.random.default_rng(9)
    shapes = [(2, 4, 3), (2, 5, 3)] + ([(2, 5, 3)] if "key" in masks else [])
    theirs, ours = (getattr(api.layers, kind)(dtype=dtype, **options) for api in (keras, tg))
    theirs.build(shapes)
    ours([np.zeros(s) for s in shapes])
    weights = [rng.uniform(0.5, 1.5, w.shape).astype(dtype) for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    tensors = [rng.standard_normal(s).astype(dtype) for s in shapes]
    kwargs = {"return_attention_scores": True, "use_causal_mask": "causal" in masks}
    keras_kwargs, our_kwargs = dict(kwargs), dict(kwargs)
    if masks in ("query and value", "value, causal, key"):
        query_mask, value_mask = rng.random((2, 4)) > 0.3, rng.random((2, 5)) > 0.3
        value_mask[:, 0] = True
        if dtype == "float32":  # Keras computes in float32 only: a row masked throughout agrees there
            value_mask[0] = False
        keras_kwargs["mask"] = [torch.tensor(query_mask), torch.tensor(value_mask)]
        our_kwargs["mask"] = [query_mask, value_mask]
    outputs, inputs, grads = _run_both(theirs, ours, tensors, dtype, keras_kwargs, our_kwargs)
    for pairs in (outputs, inputs, grads):
        _assert_pairs(pairs, KERAS_FLOAT32)


@pytest.mark.parametrize("kind, args", [("MultiHeadAttention", (2, 3)), ("Attention", ()), ("AdditiveAttention", ()),
                                        ("EinsumDense", ("abc,cd->abd", (None, 4)))])
def test_configs_have_keras_keys(kind, args):
    theirs, ours = (getattr(api.layers, kind)(*args) for api in (keras, tg))
    assert set(ours.get_config()) == set(theirs.get_config())


def test_einsum_dense_matches_keras():
    rng = np.random.default_rng(11)
    theirs, ours = (api.layers.EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de", activation="tanh",
                                           dtype="float64") for api in (keras, tg))
    theirs.build((2, 4, 5))
    ours(np.zeros((2, 4, 5)))
    weights = [rng.standard_normal(w.shape) for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    outputs, inputs, grads = _run_both(theirs, ours, [rng.standard_normal((2, 4, 5))], "float64", {}, {})
    for pairs in (outputs, inputs, grads):
        _assert_pairs(pairs, TOLERANCE["float64"])


def test_keras_files_of_attention_models_move_both_ways(tmp_path):
    x = [np.random.default_rng(12).random(s).astype("float32") for s in ((2, 4, 3), (2, 5, 3))]
    for api in (keras, tg):
        query, value = api.layers.Input((4, 3)), api.layers.Input((5, 3))
        outputs = [api.layers.AdditiveAttention()([query, value]), api.layers.Attention(use_scale=True)([query, value])]
        api.models.Model([query, value], outputs).save(str(tmp_path / f"{api.__name__}.keras"))
    for name in ("keras", "tinygrad_embed"):
        theirs = keras.models.load_model(tmp_path / f"{name}.keras")
        ours = tg.models.load_model(str(tmp_path / f"{name}.keras"))
        for a, b in zip(theirs.predict(x, verbose=0), ours.predict(x, verbose=0)):
            np.testing.assert_allclose(b, a, **KERAS_FLOAT32)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_key_of_its_own_with_its_own_mask_matches_keras(dtype):
    rng = np.random.default_rng(13)
    shapes = (2, 4, 5), (2, 6, 3), (2, 6, 7)
    theirs = keras.layers.MultiHeadAttention(2, 3, dtype=dtype)
    ours = tg.layers.MultiHeadAttention(2, 3, dtype=dtype)
    theirs.build(*shapes)
    ours(*(np.zeros(s) for s in shapes))
    weights = [rng.standard_normal(w.shape).astype(dtype) * 0.5 for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    tensors = [rng.standard_normal(s).astype(dtype) for s in shapes]
    value_mask, key_mask = rng.random((2, 6)) > 0.3, rng.random((2, 6)) > 0.3
    value_mask[:, 0] = key_mask[:, 0] = True
    kwargs = {"return_attention_scores": True}
    outputs, inputs, grads = _run_both(theirs, ours, tensors, dtype, kwargs, kwargs, [(1, value_mask), (2, key_mask)])
    for pairs in (outputs, inputs, grads):
        _assert_pairs(pairs, TOLERANCE[dtype])
    assert np.all(outputs[1][1][np.broadcast_to(~(value_mask & key_mask)[:, None, None, :], (2, 2, 4, 6))] == 0)


def test_an_embedding_mask_through_self_attention_and_pooling_matches_keras():
    """The issue's model: Embedding(mask_zero=True) -> MultiHeadAttention(x, x) -> GlobalAveragePooling1D ->
    Dense. Keras takes its fused path here; the padded query rows differ between the two (see above), but
    the pooling reads only the real words, so predictions and every weight's gradient agree."""
    rng = np.random.default_rng(14)
    models = []
    for api in (keras, tg):
        ids = api.layers.Input((6,), dtype="int32")
        x = api.layers.Embedding(20, 8, mask_zero=True)(ids)
        x = api.layers.MultiHeadAttention(2, 4)(x, x)
        out = api.layers.Dense(1)(api.layers.GlobalAveragePooling1D()(x))
        models.append(keras.Model(ids, out) if api is keras else tg.models.Model(ids, out))
    theirs, ours = models
    weights = [rng.standard_normal(w.shape).astype("float32") * 0.5 for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    batch = np.array([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6], [7, 0, 0, 0, 0, 0]])
    keras_out, our_out = theirs(torch.tensor(batch)), ours(batch)
    np.testing.assert_allclose(our_out.data, keras_out.detach().numpy(), **KERAS_FLOAT32)
    keras_out.sum().backward()
    our_out.sum().backward()
    for theirs_weight, our_weight in zip(theirs.trainable_weights, ours.trainable_weights):
        np.testing.assert_allclose(our_weight.grad, theirs_weight.value.grad.numpy(), **KERAS_FLOAT32)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("options, kwargs", [({}, {}), ({}, {"use_causal_mask": True}),
                                             ({"use_bias": False, "value_dim": 4}, {}), ({"use_gate": True}, {})])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("cross", [False, True], ids=["self", "cross"])
def test_fused_attention_matches_keras(dtype, options, kwargs, masked, cross):
    """Asked for no scores, ours fuses the attention: SelfAttention when called on one tensor (projections,
    attention and output projection as one op), DotProductAttention on a query and a value of their own (and
    under a gate). Keras, asked for its scores, runs its Softmax layer, exact in float64 where its own fused
    path is not. The outputs and the gradients of the inputs and of every weight agree."""
    rng = np.random.default_rng(11)
    shape = (3, 5, 4)
    theirs, ours = mha_pair(dtype, shape, shape, **options)
    arrays = [rng.standard_normal(shape).astype(dtype) for _ in range(2 if cross else 1)]
    keras_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    our_in = [tg.Tensor(a, requires_grad=True) for a in arrays]
    if masked:
        for keras_t, our_t in zip(keras_in, our_in):
            mask = rng.random(shape[:-1]) > 0.3
            mask[..., 0] = True  # every row keeps a column (Keras's fused path differs on a row masked throughout)
            keras_backend.set_keras_mask(keras_t, torch.tensor(mask))
            our_t._keras_mask = mask
    pair = lambda inputs: (inputs[0], inputs[-1])  # noqa: E731 (query, value: the same tensor unless cross)
    theirs_out = theirs(*pair(keras_in), return_attention_scores=True, **kwargs)[0]
    ours_out = ours(*pair(our_in), **kwargs)
    assert ("DotProductAttention" if cross or options.get("use_gate") else "SelfAttention") in ops_in(ours_out)
    upstream = rng.standard_normal(ours_out.shape).astype(dtype)
    (theirs_out * torch.tensor(upstream)).sum().backward()
    (ours_out * upstream).sum().backward()
    pairs = [(theirs_out.detach().numpy(), ours_out.data)]
    pairs += [(k.grad.numpy(), o.grad) for k, o in zip(keras_in, our_in)]
    pairs += [(k.value.grad.numpy(), o.grad) for k, o in zip(theirs.trainable_weights, ours.trainable_weights)]
    _assert_pairs(pairs, TOLERANCE[dtype])


def ops_in(t) -> set[str]:
    """The names of the ops in the graph behind a tensor."""
    return set() if t._ctx is None else {type(t._ctx).__name__}.union(*map(ops_in, t._ctx.parents))
