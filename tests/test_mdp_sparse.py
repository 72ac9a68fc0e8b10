"""Sparse CSR models, Gauss-Seidel, modified policy iteration and Krylov
evaluation, against the dense solvers and the pure-Python reference."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from mathlearn import mdp
from mathlearn.mdp import _kernels
from mathlearn.reference import mdp as ref

EPS64 = np.finfo(np.float64).eps


def random_sparse(n_states, n_actions, n_next, gamma, seed):
    """Return a sparse FiniteMDP with n_next random successors per pair."""
    rng = np.random.default_rng(seed)
    n_pairs = n_states * n_actions
    cols = np.stack([rng.choice(n_states, size=n_next, replace=False) for _ in range(n_pairs)])
    probs = rng.dirichlet(np.ones(n_next), size=n_pairs)
    rows = np.repeat(np.arange(n_pairs), n_next)
    P = sp.csr_matrix((probs.ravel(), (rows, cols.ravel())), shape=(n_pairs, n_states))
    R = rng.standard_normal((n_states, n_actions))
    return mdp.FiniteMDP(P, R, gamma)


def slack(model):
    """Round-off allowance for values: S eps times the value scale, times 1 / (1 - gamma)."""
    scale = float(np.abs(model.R).max()) / (1.0 - model.gamma)
    return 8 * (model.n_states + 2) * EPS64 * max(1.0, scale) / (1.0 - model.gamma)


@pytest.fixture(scope="module")
def pair():
    sparse = random_sparse(120, 3, 6, 0.95, seed=1)
    return sparse, sparse.to_dense()


def test_sparse_layout_and_dense_round_trip(pair):
    sparse, dense = pair
    assert sparse.is_sparse and not dense.is_sparse
    assert sparse.P.shape == (120 * 3, 120)
    # Row s * A + a of the CSR matrix is P[a, s, :] of the dense model.
    np.testing.assert_array_equal(sparse.P[2 * 3 + 1].toarray()[0], dense.P[1, 2])
    again = dense.to_sparse()
    assert (again.P != sparse.P).nnz == 0
    assert sparse.nbytes < dense.nbytes


def test_sparse_arrays_read_only(pair):
    sparse, _ = pair
    with pytest.raises(ValueError):
        sparse.P.data[0] = 0.5


def test_csr_sweep_matches_reference(pair):
    sparse, dense = pair
    v = np.random.default_rng(2).standard_normal(sparse.n_states)
    expected = np.asarray(ref.value_iteration_sweep(dense.P, dense.R, dense.gamma, v))
    tol = 8 * (sparse.n_states + 2) * EPS64 * (np.abs(v).max() + np.abs(sparse.R).max())
    for kernel in (_kernels.csr_sweep_serial, _kernels.csr_sweep_parallel):
        out = np.empty_like(v)
        q = np.empty((sparse.n_states, sparse.n_actions))
        policy = np.empty(sparse.n_states, dtype=np.int64)
        delta = kernel(sparse.P.indptr, sparse.P.indices, sparse.P.data, sparse.R, sparse.gamma, v, out, q, policy)
        np.testing.assert_allclose(out, expected, rtol=0, atol=tol)
        assert delta == pytest.approx(np.abs(expected - v).max(), abs=tol)
        np.testing.assert_array_equal(policy, np.argmax(q, axis=1))


def test_csr_sweep_uneven_rows_across_blocks():
    # Rows of 1 to 7 entries reach both the paired loop and its odd leftover,
    # and S spans several parallel blocks of _kernels.CSR_BLOCK states.
    rng = np.random.default_rng(3)
    S, A = 2 * _kernels.CSR_BLOCK + 37, 2
    lengths = rng.integers(1, 8, size=S * A)
    cols = [rng.choice(S, size=n, replace=False) for n in lengths]
    probs = [rng.dirichlet(np.ones(n)) for n in lengths]
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    P = sp.csr_matrix((np.concatenate(probs), np.concatenate(cols), indptr), shape=(S * A, S))
    model = mdp.FiniteMDP(P, rng.standard_normal((S, A)), 0.9)
    v = rng.standard_normal(S)
    # Each q(s, a) sums at most 7 products; the bound is the one of the dense test.
    tol = 8 * (7 + 2) * EPS64 * (np.abs(v).max() + np.abs(model.R).max())
    expected = np.asarray(P @ v).reshape(S, A) * model.gamma + model.R
    for kernel in (_kernels.csr_sweep_serial, _kernels.csr_sweep_parallel):
        out = np.empty(S)
        q = np.empty((S, A))
        policy = np.empty(S, dtype=np.int64)
        delta = kernel(model.P.indptr, model.P.indices, model.P.data, model.R, model.gamma, v, out, q, policy)
        np.testing.assert_allclose(q, expected, rtol=0, atol=tol)
        np.testing.assert_array_equal(out, q.max(axis=1))
        np.testing.assert_array_equal(policy, np.argmax(q, axis=1))
        assert delta == pytest.approx(np.abs(out - v).max(), rel=0, abs=0)


def test_gauss_seidel_sweep_matches_reference(pair):
    sparse, dense = pair
    v = np.random.default_rng(3).standard_normal(sparse.n_states)
    expected = np.asarray(ref.gauss_seidel_sweep(dense.P, dense.R, dense.gamma, v))
    tol = 8 * (sparse.n_states + 2) * EPS64 * (np.abs(v).max() + np.abs(sparse.R).max()) / (1 - sparse.gamma)
    q = np.empty((sparse.n_states, sparse.n_actions))
    policy = np.empty(sparse.n_states, dtype=np.int64)
    v_csr = v.copy()
    _kernels.csr_sweep_serial(sparse.P.indptr, sparse.P.indices, sparse.P.data, sparse.R, sparse.gamma, v_csr, v_csr, q, policy)
    v_dense = v.copy()
    _kernels.dense_gauss_seidel_sweep(dense.P, dense.R, dense.gamma, v_dense, q, policy)
    np.testing.assert_allclose(v_csr, expected, rtol=0, atol=tol)
    np.testing.assert_allclose(v_dense, expected, rtol=0, atol=tol)


SOLVERS = {
    "jacobi": lambda m: mdp.value_iteration(m, epsilon=1e-8),
    "gauss-seidel": lambda m: mdp.value_iteration(m, epsilon=1e-8, method="gauss-seidel"),
    "jacobi-parallel": lambda m: mdp.value_iteration(m, epsilon=1e-8, parallel=True),
    "mpi": lambda m: mdp.modified_policy_iteration(m, epsilon=1e-8),
    "pi-direct": lambda m: mdp.policy_iteration(m, evaluation="direct"),
    "pi-krylov": lambda m: mdp.policy_iteration(m, evaluation="krylov"),
}


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_solvers_agree_within_bounds(pair, solver, kind):
    sparse, dense = pair
    model = sparse if kind == "sparse" else dense
    v_star = mdp.evaluate_policy(dense, mdp.policy_iteration(dense).policy)
    result = SOLVERS[solver](model)
    assert result.converged
    assert np.abs(result.v - v_star).max() <= result.bound + slack(model)
    v_policy = mdp.evaluate_policy(dense, result.policy)
    assert np.abs(v_policy - v_star).max() <= result.policy_bound + slack(model)
    if not solver.startswith("pi"):
        assert result.bound < 1e-8 / 2
        assert result.policy_bound < 1e-8


def test_gauss_seidel_needs_fewer_sweeps(pair):
    sparse, _ = pair
    jacobi = mdp.value_iteration(sparse, epsilon=1e-8)
    seidel = mdp.value_iteration(sparse, epsilon=1e-8, method="gauss-seidel")
    # The in-place sweep contracts at least as fast as gamma, and usually faster.
    assert seidel.n_iter <= jacobi.n_iter


@pytest.mark.parametrize(
    "call",
    [
        lambda m: mdp.value_iteration(m, epsilon=1e-10, max_iter=4, method="gauss-seidel"),
        lambda m: mdp.modified_policy_iteration(m, epsilon=1e-10, max_iter=2, n_eval_sweeps=1),
        lambda m: mdp.value_iteration(m, epsilon=1e-10, max_iter=5),
    ],
    ids=["gauss-seidel", "mpi", "jacobi"],
)
def test_max_iter_honoured_exactly(pair, call):
    sparse, dense = pair
    with pytest.warns(mdp.ConvergenceWarning, match="max_iter"):
        result = call(sparse)
    assert result.converged is False
    assert result.n_iter in (2, 4, 5)
    v_star = mdp.evaluate_policy(dense, mdp.policy_iteration(dense).policy)
    assert np.abs(result.v - v_star).max() <= result.bound + slack(sparse)


def test_mpi_zero_eval_sweeps_is_value_iteration(pair):
    sparse, _ = pair
    mpi = mdp.modified_policy_iteration(sparse, epsilon=1e-8, n_eval_sweeps=0)
    vi = mdp.value_iteration(sparse, epsilon=1e-8, parallel=False)
    assert mpi.n_iter == vi.n_iter
    np.testing.assert_allclose(mpi.v, vi.v, rtol=0, atol=slack(sparse))


def test_krylov_matches_direct():
    model = random_sparse(3000, 2, 5, 0.99, seed=4)
    pi = np.random.default_rng(5).dirichlet(np.ones(2), size=3000)
    tol = 1e-9
    v_krylov = mdp.evaluate_policy(model, pi, method="krylov", tol=tol)
    v_direct = mdp.evaluate_policy(model, pi, method="direct")
    # Direct LU errs by about S eps cond, far below tol here.
    assert np.abs(v_krylov - v_direct).max() <= tol + slack(model)
    # "auto" takes the Krylov solver above DIRECT_MAX_STATES.
    assert model.n_states > mdp.solvers.DIRECT_MAX_STATES
    v_auto = mdp.evaluate_policy(model, pi, tol=tol)
    np.testing.assert_allclose(v_auto, v_krylov, rtol=0, atol=2 * tol)


def test_krylov_warns_when_tol_unreachable(pair):
    sparse, _ = pair
    with pytest.warns(mdp.ConvergenceWarning, match="Krylov solver"):
        mdp.evaluate_policy(sparse, np.zeros(sparse.n_states, dtype=int), method="krylov", tol=1e-300)


def test_stochastic_policy_evaluation_matches_reference(pair):
    sparse, dense = pair
    pi = mdp.softmax_policy(np.random.default_rng(6).standard_normal((120, 3)), temperature=0.5)
    v = mdp.evaluate_policy(sparse, pi)
    v_ref, _ = ref.evaluate_policy_iterative(dense.P, dense.R, dense.gamma, pi, 1e-12)
    bound = dense.gamma * 1e-12 / (1 - dense.gamma) + slack(dense)
    np.testing.assert_allclose(v, v_ref, rtol=0, atol=bound)


def test_solvers_never_densify(monkeypatch):
    model = random_sparse(2500, 2, 4, 0.9, seed=7)

    def reject_densify(self, *args, **kwargs):
        raise AssertionError("a solver converted the sparse P to a dense array")

    for cls in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array, sp.csc_array):
        monkeypatch.setattr(cls, "toarray", reject_densify, raising=False)
        monkeypatch.setattr(cls, "todense", reject_densify, raising=False)
    for solver in ("jacobi", "gauss-seidel", "mpi", "pi-krylov"):
        assert SOLVERS[solver](model).converged
    mdp.q_from_v(model, np.zeros(2500))
    mdp.evaluate_policy(model, mdp.uniform_policy(model))


def test_float32_sparse_renormalized():
    model = random_sparse(50, 2, 4, 0.9, seed=8)
    P32 = model.P.astype(np.float32)
    m32 = mdp.FiniteMDP(P32, model.R, 0.9)
    assert m32.P.dtype == np.float64
    sums = np.asarray(m32.P.sum(axis=1)).ravel()
    np.testing.assert_allclose(sums, 1.0, rtol=0, atol=4 * EPS64)


@pytest.mark.parametrize(
    "change, pattern",
    [
        (lambda P: P.multiply(0.5), r"P must contain probability distributions summing to 1 within 1e-10"),
        (lambda P: P - 2 * sp.csr_matrix((P.data[:1], ([0], [P.indices[0]])), shape=P.shape), r"P must contain probabilities >= 0"),
        (lambda P: P[:-1], r"a sparse P must have shape \(S \* A, S\)"),
    ],
    ids=["row-sums", "negative", "shape"],
)
def test_sparse_validation(change, pattern):
    model = random_sparse(10, 2, 3, 0.9, seed=9)
    with pytest.raises(ValueError, match=pattern):
        mdp.FiniteMDP(change(model.P), model.R, 0.9)


def test_sparse_empty_row_rejected():
    P = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 1, 2], [0, 1, 1])), shape=(4, 2))
    with pytest.raises(ValueError, match=r"the distribution at s=1, a=1 sums to 0.0"):
        mdp.FiniteMDP(P, np.zeros((2, 2)), 0.5)


def test_sparse_non_finite_rejected():
    P = sp.csr_matrix(([np.nan, 1.0], ([0, 1], [0, 0])), shape=(2, 1))
    with pytest.raises(ValueError, match=r"P must contain finite probabilities; got nan in row 0"):
        mdp.FiniteMDP(P, np.zeros((1, 2)), 0.5)


def test_from_transitions_sparse_matches_dense():
    rows = [(0, 0, 1, 2.0, 0.25), (0, 0, 0, -1.0, 0.75), (0, 1, 1, 0.5, 1.0), (1, 0, 1, 0.0, 1.0),
            (1, 1, 0, 3.0, 0.5), (1, 1, 0, 1.0, 0.5)]
    dense = mdp.FiniteMDP.from_transitions(rows, 2, 2, 0.9)
    sparse = mdp.FiniteMDP.from_transitions(rows, 2, 2, 0.9, sparse=True)
    assert sparse.is_sparse
    np.testing.assert_array_equal(sparse.to_dense().P, dense.P)
    np.testing.assert_array_equal(sparse.R, dense.R)
    # Two rows for (1, 1, 0) with rewards 3 and 1 add up to probability 1, reward 2.
    assert sparse.R[1, 1] == 2.0


def test_parallel_none_counts_nonzeros(monkeypatch):
    model = random_sparse(30, 2, 3, 0.9, seed=10)
    monkeypatch.setattr(mdp.solvers, "PARALLEL_MIN_WORK", model.P.nnz)
    monkeypatch.setattr(mdp.solvers, "_numba_threads", lambda: 2)
    assert mdp.solvers._pick_parallel(model, None) is True
    monkeypatch.setattr(mdp.solvers, "PARALLEL_MIN_WORK", model.P.nnz + 1)
    assert mdp.solvers._pick_parallel(model, None) is False


def test_method_names_checked(pair):
    sparse, _ = pair
    with pytest.raises(ValueError, match="method must be one of 'jacobi', 'gauss-seidel'; got 'seidel'"):
        mdp.value_iteration(sparse, method="seidel")
    with pytest.raises(ValueError, match="method must be one of 'auto', 'direct', 'krylov'"):
        mdp.evaluate_policy(sparse, mdp.uniform_policy(sparse), method="lu")
    with pytest.raises(ValueError, match="n_eval_sweeps must be >= 0; got -1"):
        mdp.modified_policy_iteration(sparse, n_eval_sweeps=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mdp.value_iteration(sparse, method="gauss-seidel")


@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_span_stopping_within_bounds(pair, kind):
    sparse, dense = pair
    model = sparse if kind == "sparse" else dense
    v_star = mdp.evaluate_policy(dense, mdp.policy_iteration(dense).policy)
    span = mdp.value_iteration(model, epsilon=1e-8, stopping="span")
    sup = mdp.value_iteration(model, epsilon=1e-8)
    assert span.converged
    assert span.bound < 0.5e-8
    assert np.abs(span.v - v_star).max() <= span.bound + slack(model)
    loss = np.abs(mdp.evaluate_policy(dense, span.policy) - v_star).max()
    assert loss <= span.policy_bound + slack(model)
    # On a random MDP the span contracts much faster than gamma = 0.95.
    assert span.n_iter < sup.n_iter / 3


def test_span_stopping_rejected_where_invalid(pair):
    sparse, _ = pair
    with pytest.raises(ValueError, match="stopping='span' needs method='jacobi' and gamma < 1"):
        mdp.value_iteration(sparse, stopping="span", method="gauss-seidel")
    with pytest.raises(ValueError, match="stopping='span' needs"):
        mdp.value_iteration(mdp.examples.gridworld_4x4().model, stopping="span")
