"""Every registered op, over hypothesis-drawn shapes and float64 values: forward equals numpy, and
gradcheck (central differences under a random upstream gradient) passes."""
import numpy as np
import pytest
from hypothesis import given

import tinygrad_embed as tg
from tinygrad_embed.ops import OPS
from op_specs import SPECS


def test_every_registered_op_has_a_spec():
    assert sorted(OPS) == sorted(SPECS), f"ops without a spec: {set(OPS) - set(SPECS)}; specs without an op: {set(SPECS) - set(OPS)}"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_forward_matches_numpy(name):
    @given(SPECS[name].cases)
    def check(case):
        arrays, args, kwargs = case
        out = OPS[name].apply(*(tg.Tensor(a) for a in arrays), *args, **kwargs)
        np.testing.assert_allclose(out.data, SPECS[name].reference(*arrays, *args, **kwargs), rtol=1e-12, atol=0)
    check()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_gradient_matches_finite_differences(name):
    @given(SPECS[name].cases)
    def check(case):
        arrays, args, kwargs = case
        inputs = [tg.Tensor(a, requires_grad=True) for a in arrays]
        assert tg.gradcheck(lambda *ts: OPS[name].apply(*ts, *args, **kwargs), inputs)
    check()


@given(SPECS["Sum"].cases)
def test_mean_is_sum_scaled(case):
    (x,), _, kwargs = case
    t = tg.Tensor(x, requires_grad=True)
    np.testing.assert_allclose(t.mean(**kwargs).data, np.mean(x, **kwargs), rtol=1e-12)
    assert tg.gradcheck(lambda t: t.mean(**kwargs), [t])


@given(SPECS["Concatenate"].cases)
def test_stack_matches_numpy(case):
    arrays, _, kwargs = case
    same_shape = [arrays[0] * k for k in range(1, len(arrays) + 1)]
    for axis in range(-arrays[0].ndim - 1, arrays[0].ndim + 1):
        inputs = [tg.Tensor(a, requires_grad=True) for a in same_shape]
        np.testing.assert_array_equal(tg.stack(inputs, axis).data, np.stack(same_shape, axis))
        assert tg.gradcheck(lambda *ts: tg.stack(ts, axis), inputs)


def test_operators_reach_the_ops_with_scalars_and_arrays_on_either_side():
    x = tg.Tensor(np.array([1.0, 2.0, 4.0]), requires_grad=True)
    plain = np.array([1.0, 2.0, 4.0])
    pairs = [(2 - x, 2 - plain), (x - 2, plain - 2), (3 / x, 3 / plain), (x / 2, plain / 2),
             (2 * x, 2 * plain), (x + np.float64(1), plain + 1), (np.ones(3) + x, np.ones(3) + plain),
             (-x, -plain), (x ** 2, plain ** 2), (x.T, plain)]
    for got, expected in pairs:
        np.testing.assert_array_equal(got.data, expected)
    m = tg.Tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal((np.eye(2) @ m).data, m.data)
    np.testing.assert_array_equal(m.T.data, m.data.T)


def test_a_python_scalar_keeps_the_tensor_dtype():
    assert (tg.Tensor(np.ones(2, np.float32)) * 2.5).dtype == np.float32
    assert (1 - tg.Tensor(np.ones(2))).dtype == np.float64


def test_sigmoid_is_finite_for_huge_inputs():
    x = tg.Tensor(np.array([-1000.0, 0.0, 1000.0]), requires_grad=True)
    y = x.sigmoid()
    y.backward(np.ones(3))
    np.testing.assert_array_equal(y.data, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(x.grad, [0.0, 0.25, 0.0])


def test_matmul_of_vectors_is_refused_clearly():
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*\(3,\)"):
        tg.Tensor(np.ones(3)) @ tg.Tensor(np.ones((3, 2)))


def test_max_refuses_a_tuple_of_axes():
    with pytest.raises(ValueError, match="one integer axis"):
        tg.Tensor(np.ones((2, 2))).max(axis=(0, 1))
