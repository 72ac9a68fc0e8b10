"""mathlearn.distributed on a loopback LocalCluster against the local path.

Two questions, on this machine's cores:

- Throughput from one to two workers: exact Shapley attributions of 64
  rows of a [10, 32, 1] tanh network over 32 background rows (1024
  coalitions per row), in blocks of 8 rows. ``extra_info["rows_per_s"]``
  stores the rate.
- Overhead for small jobs: the loss gradient of 256 rows and the
  Jacobians of 256 rows, local against a two-worker cluster, where the
  scheduling and the transfers dominate.

Each worker is a process with one thread (Dask also sets the BLAS and
OpenMP threads of its workers to 1). The local path is timed with
``mathlearn.set_num_threads`` at 1 and at every core, because on a loaded
machine the OpenMP threads of the C++ kernels can cost more than they
gain. Every benchmark checks its result against the
local path before it is timed. Run from this directory:
``python -m pytest bench_distributed.py``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import mathlearn as ml
from mathlearn import distributed as mld

distributed = pytest.importorskip("distributed")

EXPLAIN_ROWS = 64
EXPLAIN_BLOCK = 8
SMALL_ROWS = 256


def _cluster_client(n_workers):
    cluster = distributed.LocalCluster(
        n_workers=n_workers,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=40,
    )
    client = distributed.Client(cluster)
    client.wait_for_workers(n_workers, timeout=60)
    return cluster, client


@pytest.fixture(scope="module", params=[1, 2], ids=lambda n: f"{n}-workers")
def client(request):
    cluster, client = _cluster_client(request.param)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def explain_case():
    rng = np.random.default_rng(0)
    net = ml.MLP([10, 32, 1], activation="tanh", seed=1)
    X = rng.standard_normal((EXPLAIN_ROWS, 10))
    background = rng.standard_normal((32, 10))
    expected = mld.explain(net.forward, X, background, chunk_rows=EXPLAIN_BLOCK)
    return net, X, background, expected


@pytest.fixture(scope="module")
def small_case():
    rng = np.random.default_rng(2)
    net = ml.MLP([10, 32, 32, 1], activation="tanh", seed=3)
    X = rng.standard_normal((SMALL_ROWS, 10))
    y = rng.standard_normal(SMALL_ROWS)
    return net, X, y


@pytest.fixture(params=[1, None], ids=["1-thread", "all-threads"])
def local_threads(request):
    before = ml.get_num_threads()
    ml.set_num_threads(request.param or os.cpu_count() or 1)
    try:
        yield
    finally:
        ml.set_num_threads(before)


def _record_rows_per_s(benchmark, rows):
    if benchmark.stats is not None:
        benchmark.extra_info["rows_per_s"] = rows / benchmark.stats.stats.min


def test_explain_local(benchmark, explain_case, local_threads):
    net, X, background, expected = explain_case

    def run():
        return mld.explain(net.forward, X, background, chunk_rows=EXPLAIN_BLOCK)

    np.testing.assert_array_equal(run().values, expected.values)
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)
    _record_rows_per_s(benchmark, EXPLAIN_ROWS)


def test_explain_cluster(benchmark, client, explain_case):
    net, X, background, expected = explain_case

    def run():
        return mld.explain(net.forward, X, background, client=client, chunk_rows=EXPLAIN_BLOCK)

    # The first run also warms the Numba cache of each worker.
    np.testing.assert_array_equal(run().values, expected.values)
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)
    _record_rows_per_s(benchmark, EXPLAIN_ROWS)


def test_small_loss_gradient_local(benchmark, small_case, local_threads):
    net, X, y = small_case
    _time_small(benchmark, lambda: mld.loss_gradient(net, X, y, chunk_rows=64),
                mld.loss_gradient(net, X, y, chunk_rows=64))


def test_small_loss_gradient_cluster(benchmark, client, small_case):
    net, X, y = small_case
    _time_small(benchmark, lambda: mld.loss_gradient(net, X, y, client=client, chunk_rows=64),
                mld.loss_gradient(net, X, y, chunk_rows=64))


def test_small_jacobian_local(benchmark, small_case, local_threads):
    net, X, _ = small_case
    _time_small(benchmark, lambda: mld.jacobian(net, X, chunk_rows=64), net.jacobian(X))


def test_small_jacobian_cluster(benchmark, client, small_case):
    net, X, _ = small_case
    _time_small(benchmark, lambda: mld.jacobian(net, X, client=client, chunk_rows=64), net.jacobian(X))


def _time_small(benchmark, run, expected):
    np.testing.assert_array_equal(run(), expected)
    benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=1)
    _record_rows_per_s(benchmark, SMALL_ROWS)
