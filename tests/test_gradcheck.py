"""The checker itself: a passing gradcheck means something only if a wrong gradient fails it."""
import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed.functions import Exp, Gather, Mul


class ScaledMul(Mul):
    """Mul whose backward is off by a factor (1 + error)."""
    error = 1e-3

    def backward(self, g):
        return tuple(d * (1 + self.error) for d in super().backward(g))


class ExpIgnoringUpstream(Exp):
    """Exp whose backward forgets to multiply by the upstream gradient: correct only for an all-ones seed."""
    def backward(self, g):
        return (self.out,)


class GatherThatOverwrites(Gather):
    """The classic Embedding bug, dW[idx] = g: repeated indices keep only one of their rows."""
    def backward(self, g):
        table_grad = np.zeros(self.table_shape)
        table_grad[self.flat] = g.reshape(-1, self.table_shape[1])
        return (table_grad,)


def inputs(*shape, seed=0):
    return [tg.Tensor(np.random.default_rng(seed).uniform(0.5, 2.0, shape), requires_grad=True) for _ in range(2)]


def test_a_correct_backward_passes():
    assert tg.gradcheck(lambda x, y: Mul.apply(x, y), inputs(3, 4))


def test_a_backward_scaled_by_1_001_is_caught():
    # A 0.1% error sits exactly at the default rtol=1e-3, so it takes a tighter tolerance; float64
    # central differences are accurate to about 1e-9 here, so rtol=1e-6 is far from noise.
    ScaledMul.error = 1e-3
    with pytest.raises(tg.GradcheckError, match="input 0"):
        tg.gradcheck(lambda x, y: ScaledMul.apply(x, y), inputs(3, 4), atol=1e-9, rtol=1e-6)


def test_a_backward_scaled_by_1_01_is_caught_at_default_tolerances():
    ScaledMul.error = 1e-2
    with pytest.raises(tg.GradcheckError, match=r"analytic .* numeric"):
        tg.gradcheck(lambda x, y: ScaledMul.apply(x, y), inputs(3, 4))


def test_a_backward_that_ignores_the_upstream_gradient_is_caught():
    with pytest.raises(tg.GradcheckError):
        tg.gradcheck(lambda x: ExpIgnoringUpstream.apply(x), inputs(5)[:1])


def test_a_too_large_eps_on_a_curved_function_is_caught():
    x = inputs(4)[:1]
    assert tg.gradcheck(lambda x: x.exp(), x)
    with pytest.raises(tg.GradcheckError):
        tg.gradcheck(lambda x: x.exp(), x, eps=0.5)


def test_random_directions_catch_a_scatter_that_drops_repeated_indices():
    table = tg.Tensor(np.random.default_rng(1).standard_normal((50, 8)), requires_grad=True)  # 400 > 200
    indices = np.array([[3, 3, 7], [7, 1, 3]])
    assert tg.gradcheck(lambda w: Gather.apply(w, indices), [table])
    with pytest.raises(tg.GradcheckError, match="random direction"):
        tg.gradcheck(lambda w: GatherThatOverwrites.apply(w, indices), [table])


def test_float32_inputs_are_refused_with_the_reason():
    x = tg.Tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="float64.*digits"):
        tg.gradcheck(lambda x: x * 2, [x])


def test_an_input_that_requires_grad_is_needed():
    with pytest.raises(ValueError, match="requires_grad"):
        tg.gradcheck(lambda x: x * 2, [tg.Tensor(np.ones(3))])


def test_the_error_names_the_input_and_the_worst_element():
    ScaledMul.error = 0.5
    x, y = inputs(2, 2)
    with pytest.raises(tg.GradcheckError, match=r"input 0 \(shape \(2, 2\)\).*element \(\d, \d\)"):
        tg.gradcheck(lambda x, y: ScaledMul.apply(x, y), [x, y])


def test_gradcheck_leaves_the_inputs_as_they_were():
    x, y = inputs(3)
    before = x.data.copy()
    tg.gradcheck(lambda x, y: x * y, [x, y])
    np.testing.assert_array_equal(x.data, before)
