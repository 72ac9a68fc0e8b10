"""Machine limits measured in the same run as the kernels: matmul FLOP/s, copy
bandwidth and streaming-store write bandwidth.

These are the ceilings the network benchmarks are read against: a forward
pass of a wide network cannot beat the matmul rate, and the per-sample
Jacobian, which writes each output byte once, cannot beat the rate of a
pure streaming-store fill. The copy rate counts read plus write bytes, and
a copy with ordinary stores also reads each destination line before
writing it, so a streaming writer can beat bytes / copy rate.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import pedantic_or_plain, record_rate
from mathlearn import _core

N = 1024
COPY_BYTES = 256 * 2**20


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_matmul_flops(benchmark, dtype):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((N, N)).astype(dtype)
    B = rng.standard_normal((N, N)).astype(dtype)
    C = np.empty((N, N), dtype=dtype)

    pedantic_or_plain(benchmark, lambda: np.matmul(A, B, out=C), big=True, rounds=5)

    # (A B) x = A (B x) checks the product; the error bound is about
    # N eps |A| |B| |x|, so 10 N eps relative to the norm is generous.
    x = rng.standard_normal(N).astype(dtype)
    left = C @ x
    right = A @ (B @ x)
    eps = np.finfo(dtype).eps
    assert np.linalg.norm(left - right) <= 10 * N * eps * np.linalg.norm(right)
    record_rate(benchmark, "gflops", 2 * N**3 / 1e9)
    benchmark.extra_info.update(op="matmul", impl="numpy", case=np.dtype(dtype).name)


def test_copy_bandwidth(benchmark):
    src = np.arange(COPY_BYTES // 8, dtype=np.float64)
    dst = np.empty_like(src)

    pedantic_or_plain(benchmark, lambda: np.copyto(dst, src), big=True, rounds=5)

    np.testing.assert_array_equal(dst[::4099], src[::4099])
    # Read plus write traffic per copy.
    record_rate(benchmark, "gbytes_per_s", 2 * COPY_BYTES / 1e9)
    benchmark.extra_info.update(op="copy", impl="numpy", case=f"{COPY_BYTES >> 20} MiB")


def test_stream_fill_bandwidth(benchmark):
    dst = np.empty(COPY_BYTES // 8, dtype=np.float64)

    pedantic_or_plain(benchmark, lambda: _core.fill_streaming(dst, 2.5), big=True, rounds=5)

    assert (dst == 2.5).all()
    # Write traffic only: streaming stores skip the read of each line.
    record_rate(benchmark, "gbytes_per_s", COPY_BYTES / 1e9)
    benchmark.extra_info.update(op="stream_fill", impl="mathlearn", case=f"{COPY_BYTES >> 20} MiB")
