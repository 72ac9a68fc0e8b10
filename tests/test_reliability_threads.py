"""Kernels called from several Python threads: same bits as serial calls, GIL released.

The C++ kernels split the batch rows between OpenMP threads with a fixed
schedule. The Numba kernels run the same loops whichever Python thread
calls them. So at a fixed thread count the results should not depend on
what other Python threads do at the same time, and the tests compare bit
for bit.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import mathlearn as ml
from mathlearn import _core, mdp, shapley


@pytest.fixture
def restore_threads():
    before = ml.get_num_threads()
    yield
    ml.set_num_threads(before)


def _network_work(net, X, y):
    return [net.forward(X), net.loss_gradient(X, y), net.jacobian(X[:30]), net.loss_gradient(X, np.argmax(y, 1), "cross_entropy")]


def _numba_work(game, model):
    est = shapley.sample(game, 400, method="permutation", seed=3)
    return [shapley.exact(game), est.values, mdp.value_iteration(model, epsilon=1e-10).v]


def _assert_bitwise_equal(results, expected):
    assert len(results) == len(expected)
    for got, want in zip(results, expected):
        assert got.dtype == want.dtype
        assert got.shape == want.shape
        assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_shared_network_two_threads(restore_threads, n_threads, dtype):
    # One network read by both threads at once: kernels only read params.
    ml.set_num_threads(n_threads)
    net = ml.MLP([6, 40, 40, 3], activation="tanh", seed=0, dtype=dtype)
    rng = np.random.default_rng(0)
    inputs = [(rng.normal(size=(300, 6)), rng.normal(size=(300, 3))) for _ in range(4)]
    expected = [_network_work(net, X, y) for X, y in inputs]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(_network_work, net, X, y) for _ in range(3) for X, y in inputs]
        results = [f.result() for f in futures]
    for i, result in enumerate(results):
        _assert_bitwise_equal(result, expected[i % len(inputs)])


def test_numba_kernels_two_threads(restore_threads):
    ml.set_num_threads(2)
    rng = np.random.default_rng(1)
    game = shapley.TableGame(rng.normal(size=2**10))
    grid = mdp.examples.gridworld_5x5()
    expected = _numba_work(game, grid.model)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(_numba_work, game, grid.model) for _ in range(4)]
        results = [f.result() for f in futures]
    for result in results:
        _assert_bitwise_equal(result, expected)


def test_mixed_kernels_two_threads(restore_threads):
    # OpenMP (C++) in one thread and Numba in the other, at the same time.
    ml.set_num_threads(2)
    net = ml.MLP([5, 30, 2], seed=2)
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(500, 5)), rng.normal(size=(500, 2))
    game = shapley.TableGame(rng.normal(size=2**9))
    grid = mdp.examples.gridworld_5x5()
    expected_net = _network_work(net, X, y)
    expected_numba = _numba_work(game, grid.model)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = []
        for _ in range(3):
            futures.append(("net", pool.submit(_network_work, net, X, y)))
            futures.append(("numba", pool.submit(_numba_work, game, grid.model)))
        for kind, future in futures:
            _assert_bitwise_equal(future.result(), expected_net if kind == "net" else expected_numba)


class _Counter(threading.Thread):
    """A Python thread that counts loop iterations until stopped.

    ``time.sleep(0)`` gives up the GIL once per iteration, so the thread that
    runs the kernel takes it back at once. The counter then advances only
    while that thread has released the GIL.
    """

    def __init__(self):
        super().__init__(daemon=True)
        self.count = 0
        self.started = threading.Event()
        self.stop = False

    def run(self):
        self.started.set()
        while not self.stop:
            self.count += 1
            time.sleep(0)


def _progress_during(call):
    """Return how far a counting thread got while ``call()`` ran."""
    counter = _Counter()
    interval = sys.getswitchinterval()
    # A switch interval of 100 s stops the interpreter from handing the GIL
    # to the counter on its own timer, so only a released GIL lets it run.
    sys.setswitchinterval(100.0)
    try:
        counter.start()
        counter.started.wait()
        before = counter.count
        call()
        after = counter.count
    finally:
        counter.stop = True
        sys.setswitchinterval(interval)
        counter.join()
    return after - before


def _kernel_call(entry):
    """Return a call of one raw C++ entry point on preallocated arrays (about 0.1-1 s)."""
    rng = np.random.default_rng(0)
    if entry == "jacobian":
        net = ml.MLP([20, 128, 128, 4], seed=0)
        X = rng.normal(size=(100, 20))
    else:
        net = ml.MLP([64, 512, 512, 4], seed=0)
        X = rng.normal(size=(4000, 64))
    sizes = list(net.layer_sizes)
    code = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3}[net.activation]
    B, m = X.shape[0], net.n_outputs
    Y = np.empty((B, m))
    hidden = [np.empty((B, n)) for n in sizes[1:-1]]
    if entry == "forward":
        return lambda: _core.forward(net.params, X, sizes, code, 0.0, Y, hidden)
    if entry == "backward":
        _core.forward(net.params, X, sizes, code, 0.0, Y, hidden)
        G = rng.normal(size=(B, m))
        grad = np.empty(net.n_params)
        return lambda: _core.backward(net.params, X, sizes, code, 0.0, hidden, [], G, grad)
    out = np.empty((B, m, net.n_params))

    def repeated_jacobian():
        # One call writes its 63 MB in a few milliseconds, too short for the
        # counter to advance reliably, so the call is repeated.
        for _ in range(30):
            _core.jacobian(net.params, X, sizes, code, 0.0, out)

    return repeated_jacobian


@pytest.mark.parametrize("entry", ["forward", "backward", "jacobian"])
def test_gil_released_during_kernel(restore_threads, entry):
    ml.set_num_threads(1)
    call = _kernel_call(entry)
    call()  # the first call pays for page faults of the outputs
    progress = _progress_during(call)
    assert progress > 10, f"the counting thread advanced {progress} times while {entry} ran"


def test_gil_held_by_python_loop():
    # The control: a pure-Python loop of similar length holds the GIL, and
    # the counter does not move, so the test above can fail.
    def busy():
        deadline = time.perf_counter() + 0.2
        while time.perf_counter() < deadline:
            pass

    assert _progress_during(busy) == 0
