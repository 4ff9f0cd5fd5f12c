"""Every registered op, over hypothesis-drawn shapes and float64 values: forward equals numpy, and
gradcheck (central differences under a random upstream gradient) passes."""
import ast
import inspect

import numpy as np
import pytest
from hypothesis import given

import tinygrad_embed as tg
from tinygrad_embed.functions import OPS
from op_specs import SPECS


def test_every_registered_op_has_a_spec():
    assert sorted(OPS) == sorted(SPECS), f"ops without a spec: {set(OPS) - set(SPECS)}; specs without an op: {set(SPECS) - set(OPS)}"


def test_every_method_an_op_registers_is_written_in_tensor_and_calls_that_op(monkeypatch):
    registered = dict(OPS)  # a copy: OPS is about to hold recorders in place of the ops
    calls = []

    def recorder(name):
        class Recorder:
            @classmethod
            def apply(cls, *args, **kwargs):
                calls.append((name, args))
        return Recorder
    for name in registered:  # Tensor methods look their op up in OPS when called
        monkeypatch.setitem(OPS, name, recorder(name))
    t, other = tg.Tensor(np.ones(3)), tg.Tensor(np.ones(3))
    arguments = {"__pow__": (2,), "clip": (-1.0, 1.0), "reshape": ((3,),), "__getitem__": (0,),
                 "sliding_windows": (2, 1, 1)}
    for name, op in registered.items():
        for method in op.method_names:
            function = vars(tg.Tensor).get(method)
            assert getattr(function, "__qualname__", None) == f"Tensor.{method}", \
                f"ops.{name} names Tensor.{method}, which the class body in tensor.py does not define"
            args = (other,) if op.arity == 2 else arguments.get(method, ())
            calls.clear()
            getattr(t, method)(*args)
            reflected = method.startswith("__r")  # 2 - t calls t.__rsub__(2): Sub(2, t)
            assert calls == [(name, (other, t) if reflected else (t, *args))], f"Tensor.{method} made the calls {calls}"


def test_every_op_a_tensor_method_calls_names_that_method():
    body = ast.parse(inspect.getsource(tg.Tensor)).body[0].body
    called = {(method.name, call.args[0].value) for method in body if isinstance(method, ast.FunctionDef)
              for call in ast.walk(method) if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "_apply"}
    registered = {(method, name) for name, op in OPS.items() for method in op.method_names}
    assert called == registered, f"not registered: {called - registered}; not called: {registered - called}"


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
