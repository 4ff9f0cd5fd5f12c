"""Gather and scatter-add at the IMDB shapes (64 x 500 ids, table 5000 x 32, float32): our numba
kernels against np.take / np.add.at and, when installed, PyTorch's embedding forward + backward.

    python benchmarks/bench_embedding.py        (torch from the `bench` extra: pip install -e '.[bench]')
"""
import numpy as np

from common import interleaved_medians, torch_or_none
from tinygrad_embed import Tensor, kernels
from tinygrad_embed.functions import Gather

BATCH, STEPS, INPUT_DIM, OUTPUT_DIM = 64, 500, 5000, 32


def main() -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, INPUT_DIM, (BATCH, STEPS))
    flat = ids.reshape(-1).astype(np.intp)
    table = rng.uniform(-0.05, 0.05, (INPUT_DIM, OUTPUT_DIM)).astype(np.float32)
    upstream = rng.standard_normal((BATCH, STEPS, OUTPUT_DIM)).astype(np.float32)
    rows = upstream.reshape(-1, OUTPUT_DIM)
    out = np.empty((flat.size, OUTPUT_DIM), np.float32)
    grad = np.zeros_like(table)
    weights = Tensor(table, requires_grad=True)

    def ours_forward_backward():
        weights.zero_grad()
        Gather.apply(weights, ids).backward(upstream)

    candidates = {
        "gather (numba)": lambda: kernels.gather(out, table, flat),
        "gather (np.take)": lambda: kernels.gather_numpy(out, table, flat),
        "scatter-add (numba)": lambda: kernels.scatter_add(grad, flat, rows),
        "scatter-add (np.add.at)": lambda: kernels.scatter_add_numpy(grad, flat, rows),
        "forward+backward (tinygrad_embed)": ours_forward_backward,
    }
    torch = torch_or_none()
    if torch is not None:
        torch.set_num_threads(2)
        t_ids, t_up = torch.from_numpy(ids), torch.from_numpy(upstream)
        t_table = torch.tensor(table, requires_grad=True)

        def torch_forward_backward():
            t_table.grad = None
            torch.nn.functional.embedding(t_ids, t_table).backward(t_up)
        candidates["forward+backward (PyTorch)"] = torch_forward_backward

    medians = interleaved_medians(candidates, repeats=25)
    print(f"IMDB shapes: ids {BATCH} x {STEPS}, table {INPUT_DIM} x {OUTPUT_DIM} float32; "
          "medians of 25 interleaved runs")
    for name, seconds in medians.items():
        print(f"  {name:36s} {seconds * 1e3:8.3f} ms")
    print(f"scatter-add speed-up over np.add.at: {medians['scatter-add (np.add.at)'] / medians['scatter-add (numba)']:.1f}x")
    print(f"gather speed-up over np.take:        {medians['gather (np.take)'] / medians['gather (numba)']:.2f}x")
    if torch is not None:
        ratio = medians["forward+backward (tinygrad_embed)"] / medians["forward+backward (PyTorch)"]
        print(f"forward+backward, tinygrad_embed / PyTorch: {ratio:.2f} (below 1 is faster)")
    else:
        print("PyTorch not installed: pip install -e '.[bench]' for the comparison")


if __name__ == "__main__":
    main()
