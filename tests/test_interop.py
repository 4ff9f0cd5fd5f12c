"""tinygrad_embed.interop without PyTorch: the weight layouts (plain numpy), and the error that names the
extra. Outputs and gradients against real PyTorch: tests/test_keras_parity_interop.py."""
import subprocess
import sys

import numpy as np

from tinygrad_embed.interop import gru_from_torch, gru_to_torch, lstm_from_torch, lstm_to_torch


def test_lstm_weights_transpose_and_keep_the_gate_order():
    kernel, recurrent, bias = np.arange(8.0).reshape(2, 4), np.arange(4.0).reshape(1, 4), np.arange(4.0)
    torch_layout = lstm_to_torch(kernel, recurrent, bias)
    np.testing.assert_array_equal(torch_layout["weight_ih_l0"], [[0, 4], [1, 5], [2, 6], [3, 7]])  # (4u, features)
    np.testing.assert_array_equal(torch_layout["bias_hh_l0"], np.zeros(4))
    torch_layout["bias_hh_l0"] = np.ones(4)  # PyTorch trained both biases: Keras's bias is their sum
    back = lstm_from_torch(torch_layout)
    np.testing.assert_array_equal(back[2], bias + 1)
    np.testing.assert_array_equal(back[0], kernel)


def test_gru_gates_z_r_h_become_r_z_n_and_back():
    # one unit: Keras's kernel columns are the gates z, r, h; PyTorch's rows are r, z, n
    kernel, recurrent, bias = np.array([[1.0, 2.0, 3.0]]), np.array([[4.0, 5.0, 6.0]]), np.array([[7.0, 8, 9], [10, 11, 12]])
    torch_layout = gru_to_torch(kernel, recurrent, bias)
    np.testing.assert_array_equal(torch_layout["weight_ih_l0"], [[2], [1], [3]])
    np.testing.assert_array_equal(torch_layout["weight_hh_l0"], [[5], [4], [6]])
    np.testing.assert_array_equal(torch_layout["bias_ih_l0"], [8, 7, 9])
    np.testing.assert_array_equal(torch_layout["bias_hh_l0"], [11, 10, 12])
    for restored, original in zip(gru_from_torch(torch_layout), (kernel, recurrent, bias)):
        np.testing.assert_array_equal(restored, original)


def test_layers_without_biases_map_to_modules_without_biases_and_back():
    kernel, recurrent = np.arange(6.0).reshape(2, 3), np.arange(3.0).reshape(1, 3)
    gru = gru_to_torch(kernel, recurrent)  # use_bias=False: nn.GRU(bias=False) has only the two weights
    assert sorted(gru) == ["weight_hh_l0", "weight_ih_l0"]
    for restored, original in zip(gru_from_torch(gru), (kernel, recurrent), strict=True):
        np.testing.assert_array_equal(restored, original)
    kernel, recurrent = np.arange(8.0).reshape(2, 4), np.arange(4.0).reshape(1, 4)
    lstm = lstm_to_torch(kernel, recurrent)
    assert sorted(lstm) == ["weight_hh_l0", "weight_ih_l0"]
    assert len(lstm_from_torch(lstm)) == 2


def test_importing_works_without_torch_and_calling_names_the_extra():
    code = ("import sys; sys.modules['torch'] = None\n"  # what `import torch` meets when it is not installed
            "import tinygrad_embed.interop as interop\n"
            "from tinygrad_embed.layers import Dense\n"
            "try:\n    interop.to_torch(Dense(1))\nexcept ImportError as error:\n    print(error)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "tinygrad_embed[parity]" in result.stdout

