"""The C++ kernels give the same result with 1 and 2 threads and from two Python threads."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import mathlearn as ml
from mathlearn import _core


@pytest.fixture
def restore_threads():
    before = ml.get_num_threads()
    yield
    ml.set_num_threads(before)


def workload(net, X, y):
    return net.forward(X), net.loss_gradient(X, y), net.jacobian(X[:20])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("path", ["blas", "fused"])
@pytest.mark.parametrize("sizes, B", [((16, 64, 64, 3), 300), ((4, 8, 8, 2), 3000)])
def test_one_and_two_threads_agree(restore_threads, dtype, sizes, B, path):
    # The batch rows are split between threads, and each row is computed by the
    # same sequence of operations, except that BLAS may block its sums
    # differently: so results agree to a few units of rounding, 100 eps relative.
    net = ml.MLP(list(sizes), activation="tanh", seed=0, dtype=dtype)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(B, sizes[0]))
    y = rng.normal(size=(B, sizes[-1]))
    _core.set_forward_path(path)
    try:
        ml.set_num_threads(1)
        one_thread = workload(net, X, y)
        ml.set_num_threads(2)
        two_threads = workload(net, X, y)
    finally:
        _core.set_forward_path("auto")
    rtol = 100 * np.finfo(dtype).eps
    for a, b in zip(one_thread, two_threads):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(a).max())


def test_two_python_threads_at_once():
    nets = [ml.MLP([8, 32, 32, 2], activation=a, seed=i) for i, a in enumerate(["tanh", "relu"])]
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 8))
    y = rng.normal(size=(400, 2))
    expected = [workload(net, X, y) for net in nets]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(workload, net, X, y) for net in nets for _ in range(3)]
        results = [f.result() for f in futures]
    for i, result in enumerate(results):
        for a, b in zip(result, expected[i // 3]):
            np.testing.assert_array_equal(a, b)


def test_blas_loaded_later_gets_thread_limit():
    # set_num_threads(1) runs before mathlearn.network loads SciPy's BLAS, so
    # the limit must be applied when that BLAS is handed to the kernels. A
    # fresh interpreter is needed, because this one has loaded it already.
    script = (
        "import mathlearn as ml\n"
        "ml.set_num_threads(1)\n"
        "ml.MLP\n"
        "from threadpoolctl import threadpool_info\n"
        "print(max(i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "1"
