"""mathlearn.distributed on a two-process LocalCluster bound to 127.0.0.1.

The cluster results are compared with the local path bit for bit, and the
local path with the single-process kernels (net.jacobian,
net.value_and_gradient, shapley.explain), either bit for bit where the
arithmetic is the same or within a rounding bound derived below.
"""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import mathlearn as ml
from mathlearn import distributed as mld
from mathlearn.shapley import explain as shapley_explain

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

EPS64 = float(np.finfo(np.float64).eps)


def _loopback_cluster():
    return distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=40,
    )


@pytest.fixture(scope="module")
def client():
    cluster = _loopback_cluster()
    client = distributed.Client(cluster)
    try:
        client.wait_for_workers(2, timeout=60)
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    net = ml.MLP([5, 12, 3], activation="tanh", seed=1)
    X = rng.standard_normal((203, 5))
    y = rng.standard_normal((203, 3))
    return net, X, y


def _worker_pids(client):
    return set(client.run(os.getpid).values())


# ----------------------------------------------------------------------
# The cluster listens on loopback only


def test_cluster_on_loopback(client):
    addresses = [client.scheduler.address, *client.scheduler_info()["workers"]]
    for address in addresses:
        assert address.startswith("tcp://127.0.0.1:"), address


# ----------------------------------------------------------------------
# Jacobians


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_jacobian_client_equals_local(client, dtype):
    rng = np.random.default_rng(2)
    net = ml.MLP([4, 9, 2], activation="sigmoid", seed=3, dtype=dtype)
    X = rng.standard_normal((101, 4)).astype(dtype)
    local = mld.jacobian(net, X, chunk_rows=16)
    remote = mld.jacobian(net, X, client=client, chunk_rows=16)
    assert remote.dtype == dtype
    np.testing.assert_array_equal(remote, local)


def test_jacobian_local_equals_kernel(problem):
    net, X, _ = problem
    # Each row's Jacobian is computed on its own, so blocks change nothing.
    np.testing.assert_array_equal(mld.jacobian(net, X, chunk_rows=(50, 3, 150)), net.jacobian(X))


def test_jacobian_dask_input_is_lazy(client, problem):
    net, X, _ = problem
    Xd = da.from_array(X, chunks=(40, 5))
    J = mld.jacobian(net, Xd)
    assert isinstance(J, da.Array)
    assert J.shape == (203, 3, net.n_params)
    assert J.chunks[0] == Xd.chunks[0]
    np.testing.assert_array_equal(J.compute(), mld.jacobian(net, X, chunk_rows=Xd.chunks[0]))


# ----------------------------------------------------------------------
# Per-sample gradients


def _chain_rule_terms(net):
    """Return the roundings along one chain-rule path: the widest sum times the depth."""
    return max(net.layer_sizes) * (len(net.layer_sizes) - 1)


def _contraction_bound(net, X, G):
    """Bound the rounding of sum_k G_bk J_bk against another evaluation order.

    Each J entry carries the roundings of a chain-rule path, and the sum
    over the m outputs adds m + 1 more, each at most eps times |G_bk J_bkp|.
    """
    J = net.jacobian(X)
    terms = _chain_rule_terms(net) + net.n_outputs + 1
    return 4 * terms * EPS64 * np.einsum("bk,bkp->bp", np.abs(G), np.abs(J))


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_per_sample_gradients_client_equals_local(client, problem, loss):
    net, X, y = problem
    if loss == "cross_entropy":
        y = np.random.default_rng(4).integers(0, 3, size=X.shape[0])
    local = mld.per_sample_gradients(net, X, y, loss=loss, chunk_rows=32)
    remote = mld.per_sample_gradients(net, X, y, loss=loss, client=client, chunk_rows=32)
    np.testing.assert_array_equal(remote, local)


def test_per_sample_gradients_match_one_row_losses(problem):
    net, X, y = problem
    g = mld.per_sample_gradients(net, X, y, chunk_rows=64)
    Y = net.forward(X)
    G = (2.0 / net.n_outputs) * (Y - y)
    bound = _contraction_bound(net, X, G)
    for b in (0, 63, 64, 202):
        expected = net.loss_gradient(X[b : b + 1], y[b : b + 1])
        assert np.all(np.abs(g[b] - expected) <= bound[b]), b


def test_per_sample_gradients_average_to_batch(problem):
    net, X, y = problem
    g = mld.per_sample_gradients(net, X, y)
    # Summing B rows adds B roundings of at most eps times the row magnitude.
    terms = X.shape[0] + _chain_rule_terms(net) + net.n_outputs
    bound = 4 * terms * EPS64 * np.abs(g).mean(axis=0)
    assert np.all(np.abs(g.mean(axis=0) - net.loss_gradient(X, y)) <= bound)


def test_per_sample_gradients_dask_input(client, problem):
    net, X, y = problem
    Xd = da.from_array(X, chunks=(50, 5))
    g = mld.per_sample_gradients(net, Xd, y)
    assert isinstance(g, da.Array)
    np.testing.assert_array_equal(g.compute(), mld.per_sample_gradients(net, X, y, chunk_rows=Xd.chunks[0]))


# ----------------------------------------------------------------------
# Data-parallel loss gradient


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_loss_gradient_client_equals_local(client, problem, loss):
    net, X, y = problem
    if loss == "cross_entropy":
        y = np.random.default_rng(5).integers(0, 3, size=X.shape[0])
    value_local, grad_local = mld.value_and_gradient(net, X, y, loss=loss, chunk_rows=30)
    value_remote, grad_remote = mld.value_and_gradient(net, X, y, loss=loss, client=client, chunk_rows=30)
    assert value_remote == value_local
    np.testing.assert_array_equal(grad_remote, grad_local)


def test_loss_gradient_blocks_sum_to_full(problem):
    net, X, y = problem
    value, gradient = mld.value_and_gradient(net, X, y, chunk_rows=30)
    full_value, full_gradient = net.value_and_gradient(X, y)
    # Both are means of B per-sample terms, summed in different orders.
    magnitude = np.abs(mld.per_sample_gradients(net, X, y)).mean(axis=0)
    terms = X.shape[0] + _chain_rule_terms(net)
    assert np.all(np.abs(gradient - full_gradient) <= 4 * terms * EPS64 * magnitude)
    assert abs(value - full_value) <= 4 * terms * EPS64 * full_value


def test_loss_gradient_dask_input(client, problem):
    net, X, y = problem
    Xd = da.from_array(X, chunks=(70, 5))
    yd = da.from_array(y, chunks=(35, 3))
    value, gradient = mld.value_and_gradient(net, Xd, yd, client=client)
    value_local, gradient_local = mld.value_and_gradient(net, X, y, chunk_rows=Xd.chunks[0])
    assert value == value_local
    np.testing.assert_array_equal(gradient, gradient_local)
    np.testing.assert_array_equal(mld.loss_gradient(net, Xd, yd, client=client), gradient_local)


def test_loss_gradient_trains_like_local(client, problem):
    net, X, y = problem
    remote, local = net.copy(), net.copy()
    for _ in range(3):
        remote.params = remote.params - 0.1 * mld.loss_gradient(remote, X, y, client=client, chunk_rows=64)
        local.params = local.params - 0.1 * mld.loss_gradient(local, X, y, chunk_rows=64)
    np.testing.assert_array_equal(remote.params, local.params)
    assert remote.loss(X, y) < net.loss(X, y)


def test_dask_dataframe_input(client, problem):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    net, X, y = problem
    frame = dd.from_pandas(pd.DataFrame(X, columns=[f"x{i}" for i in range(5)]), npartitions=3)
    J = mld.jacobian(net, frame)
    np.testing.assert_array_equal(J.compute(), net.jacobian(X))
    value, gradient = mld.value_and_gradient(net, frame, y, client=client)
    sizes = tuple(int(n) for n in frame.map_partitions(len).compute())
    np.testing.assert_array_equal(gradient, mld.loss_gradient(net, X, y, chunk_rows=sizes))


# ----------------------------------------------------------------------
# Shapley attributions


@pytest.fixture
def shapley_problem():
    rng = np.random.default_rng(6)
    net = ml.MLP([4, 8, 2], activation="tanh", seed=7)
    X = rng.standard_normal((17, 4))
    X[3, 1] = 0.25  # a feature equal to every background row is a null player
    background = rng.standard_normal((12, 4))
    background[:, 1] = 0.25
    return net, X, background


def test_explain_exact_client_equals_local(client, shapley_problem):
    net, X, background = shapley_problem
    local = mld.explain(net.forward, X, background, chunk_rows=5)
    remote = mld.explain(net.forward, X, background, client=client, chunk_rows=5)
    single = shapley_explain(net.forward, X, background)
    for result in (remote, single):
        np.testing.assert_array_equal(result.values, local.values)
        np.testing.assert_array_equal(result.base_values, local.base_values)
        assert result.n_evaluations == local.n_evaluations
    assert local.values.shape == (17, 4, 2)
    assert np.all(local.values[3, 1] == 0)


def test_explain_exact_dask_input(client, shapley_problem):
    net, X, background = shapley_problem
    remote = mld.explain(net.forward, da.from_array(X, chunks=(4, 4)), background, client=client)
    np.testing.assert_array_equal(remote.values, shapley_explain(net.forward, X, background).values)


@pytest.mark.parametrize("method", ["antithetic", "kernel"])
def test_explain_sampled_client_equals_local(client, shapley_problem, method):
    net, X, background = shapley_problem
    local = mld.explain(net.forward, X, background, method=method, budget=40, seed=11, chunk_rows=6)
    remote = mld.explain(net.forward, X, background, method=method, budget=40, seed=11, client=client, chunk_rows=4)
    np.testing.assert_array_equal(remote.values, local.values)
    np.testing.assert_array_equal(remote.std_errors, local.std_errors)
    assert remote.n_evaluations == local.n_evaluations


def test_explain_sampled_rows_use_spawned_seeds():
    # 8 players, so that a budget of 30 evaluations samples rather than enumerates.
    rng = np.random.default_rng(15)
    net = ml.MLP([8, 6, 1], activation="tanh", seed=16)
    X = rng.standard_normal((17, 8))
    background = rng.standard_normal((5, 8))
    result = mld.explain(net.forward, X, background, method="permutation", budget=30, seed=12)
    children = np.random.SeedSequence(12).spawn(2)[1].spawn(X.shape[0])
    for r in (0, 9, 16):
        expected = shapley_explain(
            net.forward, X[r : r + 1], background, method="permutation", budget=30,
            seed=np.random.default_rng(children[r]),
        )
        np.testing.assert_array_equal(result.values[r], expected.values[0])
    other = mld.explain(net.forward, X, background, method="permutation", budget=30, seed=13)
    assert not np.array_equal(other.values, result.values)


def test_row_seed_equals_spawn():
    children = np.random.SeedSequence(5).spawn(2)[1].spawn(4)
    for r, child in enumerate(children):
        assert mld.row_seed(5, r).generate_state(4).tolist() == child.generate_state(4).tolist()


def test_explain_max_background_on_client(client, shapley_problem):
    net, X, background = shapley_problem
    kwargs = dict(method="stratified", budget=48, seed=14, max_background=5)
    local = mld.explain(net.forward, X, background, **kwargs)
    remote = mld.explain(net.forward, da.from_array(X, chunks=(8, 4)), background, client=client, **kwargs)
    np.testing.assert_array_equal(remote.values, local.values)


def test_explain_empty_rows(shapley_problem):
    net, X, background = shapley_problem
    result = mld.explain(net.forward, X[:0], background)
    assert result.values.shape == (0, 4, 2)
    assert result.base_values.shape == (0, 2)


# ----------------------------------------------------------------------
# The model reaches each worker once


def _counting_model_type(log_path):
    """Return a model class that appends its process id to log_path when unpickled.

    The class is built inside a function so that cloudpickle sends it by
    value, and the workers need not import this test module.
    """

    class CountingModel:
        path = str(log_path)

        def __init__(self, net):
            self.net = net

        def __call__(self, X):
            return self.net.forward(X)

        def __getstate__(self):
            return {"sizes": self.net.layer_sizes, "activation": self.net.activation, "params": self.net.params}

        def __setstate__(self, state):
            with open(self.path, "a", encoding="ascii") as fh:
                fh.write(f"{os.getpid()}\n")
            net = ml.MLP(state["sizes"], activation=state["activation"], seed=0)
            net.params = state["params"]
            self.net = net

    return CountingModel


def _unpickles_on_workers(log_path, worker_pids):
    if not log_path.exists():
        return {}
    pids = [int(line) for line in log_path.read_text(encoding="ascii").split()]
    return {pid: pids.count(pid) for pid in worker_pids if pid in pids}


@pytest.mark.parametrize("as_dask", [False, True], ids=["scatter", "dask-graph"])
def test_model_sent_once_per_worker(client, shapley_problem, tmp_path, as_dask):
    net, X, background = shapley_problem
    log_path = tmp_path / "unpickled.txt"
    model = _counting_model_type(log_path)(net)
    rows = da.from_array(X, chunks=(2, 4)) if as_dask else X
    result = mld.explain(model, rows, background, client=client, chunk_rows=None if as_dask else 2)
    # 17 rows in blocks of 2 make 9 tasks on 2 workers.
    worker_pids = _worker_pids(client)
    counts = _unpickles_on_workers(log_path, worker_pids)
    log = log_path.read_text(encoding="ascii").split() if log_path.exists() else []
    assert counts, f"the model was never unpickled on a worker {worker_pids}; unpickled in {log}"
    assert all(count == 1 for count in counts.values()), f"unpickled per worker: {counts}"
    # The wrapper hides the MLP, so both sides take the generic model path.
    expected = shapley_explain(net.forward, X, background, mlp_kernel=False).values
    np.testing.assert_array_equal(result.values, expected)


# ----------------------------------------------------------------------
# A worker killed in the middle of a job


def _slow_model_type(log_path, delay):
    """Return a model class that logs its process id and sleeps at every call."""

    class SlowModel:
        path = str(log_path)

        def __init__(self, net):
            self.sizes, self.activation, self.params = net.layer_sizes, net.activation, net.params
            self.net = None

        def __call__(self, X):
            if self.net is None:
                self.net = ml.MLP(self.sizes, activation=self.activation, seed=0)
                self.net.params = self.params
            with open(self.path, "a", encoding="ascii") as fh:
                fh.write(f"{os.getpid()}\n")
            time.sleep(delay)
            return self.net.forward(X)

        def __getstate__(self):
            return {"sizes": self.sizes, "activation": self.activation, "params": self.params, "net": None}

    return SlowModel


@pytest.fixture
def fault_client():
    cluster = _loopback_cluster()
    client = distributed.Client(cluster)
    try:
        client.wait_for_workers(2, timeout=60)
        yield client
    finally:
        client.close()
        cluster.close()


def test_worker_killed_mid_job(fault_client, shapley_problem, tmp_path):
    net, X, background = shapley_problem
    log_path = tmp_path / "calls.txt"
    model = _slow_model_type(log_path, delay=0.02)(net)
    pids_before = _worker_pids(fault_client)
    kwargs = dict(method="antithetic", budget=24, seed=21)

    with ThreadPoolExecutor(max_workers=1) as pool:
        job = pool.submit(mld.explain, model, X, background, client=fault_client, chunk_rows=1, **kwargs)
        deadline = time.monotonic() + 30
        victim = None
        while victim is None and time.monotonic() < deadline:
            if log_path.exists():
                callers = [int(p) for p in log_path.read_text(encoding="ascii").split()]
                busy = [p for p in callers if p in pids_before]
                if len(busy) >= 5:
                    victim = busy[-1]
            time.sleep(0.01)
        assert victim is not None, "no worker started the job within 30 s"
        assert not job.done(), "the job finished before a worker could be killed"
        os.kill(victim, signal.SIGKILL)
        result = job.result(timeout=120)

    assert victim not in _worker_pids(fault_client)
    # The same wrapped model without a client: the same (generic) model path.
    expected = mld.explain(model, X, background, **kwargs)
    np.testing.assert_array_equal(result.values, expected.values)
    np.testing.assert_array_equal(result.std_errors, expected.std_errors)
    assert result.n_evaluations == expected.n_evaluations


# ----------------------------------------------------------------------
# Bad input


def test_client_of_wrong_type(problem):
    net, X, _ = problem
    with pytest.raises(TypeError, match="client must be a dask.distributed.Client"):
        mld.jacobian(net, X, client="tcp://127.0.0.1:8786")


def test_chunk_rows_must_cover_rows(problem):
    net, X, y = problem
    with pytest.raises(ValueError, match="chunk_rows must sum to the number of rows, 203; got sizes summing to 200"):
        mld.jacobian(net, X, chunk_rows=(100, 100))
    with pytest.raises(ValueError, match="chunk_rows must be >= 1; got 0"):
        mld.loss_gradient(net, X, y, chunk_rows=0)
    with pytest.raises(TypeError, match="chunk_rows must be None, a positive int"):
        mld.jacobian(net, X, chunk_rows=2.5)


def test_target_rows_must_match(problem):
    net, X, y = problem
    with pytest.raises(ValueError, match="y must have 203 rows"):
        mld.loss_gradient(net, X, y[:-1])
    with pytest.raises(ValueError, match="y must have 203 rows"):
        mld.per_sample_gradients(net, da.from_array(X, chunks=50), y[:-1])


def test_dask_input_columns_checked(problem):
    net, X, _ = problem
    with pytest.raises(ValueError, match="X must have 5 columns"):
        mld.jacobian(net, da.from_array(X[:, :4], chunks=50))


def test_explain_needs_budget_for_sampling(shapley_problem):
    net, X, background = shapley_problem
    with pytest.raises(ValueError, match="budget is required for method='antithetic'"):
        mld.explain(net.forward, X, background, method="antithetic")
    with pytest.raises(ValueError, match="background must have at least one row"):
        mld.explain(net.forward, X, background[:0])
    with pytest.raises(ValueError, match="seed must be >= 0"):
        mld.explain(net.forward, X, background, method="antithetic", budget=10, seed=-1)


def test_empty_loss_rejected(problem):
    net, X, y = problem
    with pytest.raises(ValueError, match="at least one sample"):
        mld.value_and_gradient(net, X[:0], y[:0])
