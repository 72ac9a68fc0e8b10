"""Value iteration: the Numba kernel against a NumPy sweep and QuantEcon.

Run from the repository root::

    .venv/bin/python -m pytest benchmarks/bench_mdp.py --benchmark-only

The models are random dense MDPs with A = 8, gamma = 0.95 and S = 100 or
S = 500. At S = 500, P has A S^2 = 2e6 float64 entries (16 MB), so each
sweep reads 16 MB for 2e6 multiply-adds. That is memory-bound, and the
``read_P`` benchmark measures the machine limit for it in the same run:
one pass over P with ``numpy.sum``.

Every benchmark checks its result: a full solve must be within
epsilon / 2 of v* from an exact policy-iteration solve, and a single
sweep must equal the pure-Python reference sweep up to round-off.
"""

from __future__ import annotations

import numpy as np
import pytest

from mathlearn import mdp
from mathlearn.mdp import _kernels
from mathlearn.reference import mdp as ref

EPSILON = 1e-8
SIZES = [(100, 8), (500, 8)]


def random_model(n_states, n_actions, gamma=0.95, seed=0):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(n_states), size=(n_actions, n_states))
    R = rng.standard_normal((n_states, n_actions))
    return mdp.FiniteMDP(P, R, gamma)


def numpy_value_iteration(P, R, gamma, epsilon, max_iter=10_000):
    """Value iteration with one batched matrix-vector product per sweep."""
    threshold = epsilon * (1 - gamma) / (2 * gamma)
    v = np.zeros(R.shape[0])
    for n_iter in range(1, max_iter + 1):
        v_new = (R + gamma * (P @ v).T).max(axis=1)
        delta = np.abs(v_new - v).max()
        v = v_new
        if delta < threshold:
            break
    return v, n_iter


def numpy_sweep(P, R, gamma, v):
    return (R + gamma * (P @ v).T).max(axis=1)


def kernel_sweep(sweep, model, v):
    v_new = np.empty_like(v)
    q = np.empty((model.n_states, model.n_actions))
    policy = np.empty(model.n_states, dtype=np.int64)
    sweep(model.P, model.R, model.gamma, v, v_new, q, policy)
    return v_new


def roundoff(model, v):
    scale = max(1.0, float(np.abs(v).max()) + float(np.abs(model.R).max()))
    return 4 * (model.n_states + 2) * np.finfo(np.float64).eps * scale


@pytest.fixture(scope="module", params=SIZES, ids=lambda size: f"S{size[0]}-A{size[1]}")
def problem(request):
    n_states, n_actions = request.param
    model = random_model(n_states, n_actions)
    v_star = mdp.evaluate_policy(model, mdp.policy_iteration(model).policy)
    # Warm the Numba kernels so compilation is not timed.
    for parallel in (False, True):
        mdp.value_iteration(model, epsilon=1.0, parallel=parallel)
    for sweep in (_kernels.sweep_serial, _kernels.sweep_parallel):
        kernel_sweep(sweep, model, np.zeros(n_states))
    return model, v_star


def check_solution(model, v, v_star):
    slack = roundoff(model, v_star) / (1 - model.gamma)
    assert np.abs(v - v_star).max() <= EPSILON / 2 + slack


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_value_iteration_numba(benchmark, problem, parallel):
    model, v_star = problem
    result = benchmark(mdp.value_iteration, model, epsilon=EPSILON, parallel=parallel)
    assert result.converged
    check_solution(model, result.v, v_star)
    benchmark.extra_info["n_iter"] = result.n_iter


def test_value_iteration_numpy(benchmark, problem):
    model, v_star = problem
    v, n_iter = benchmark(numpy_value_iteration, model.P, model.R, model.gamma, EPSILON)
    check_solution(model, v, v_star)
    benchmark.extra_info["n_iter"] = n_iter


def test_value_iteration_quantecon(benchmark, problem):
    quantecon_markov = pytest.importorskip("quantecon.markov")
    model, v_star = problem
    ddp = quantecon_markov.DiscreteDP(model.R, np.ascontiguousarray(model.P.transpose(1, 0, 2)), model.gamma)
    ddp.solve(method="value_iteration", epsilon=1.0)
    result = benchmark(ddp.solve, method="value_iteration", epsilon=EPSILON, max_iter=10_000)
    check_solution(model, result.v, v_star)
    benchmark.extra_info["n_iter"] = int(result.num_iter)


@pytest.fixture(scope="module")
def sweep_case(problem):
    model, _ = problem
    v = np.random.default_rng(1).standard_normal(model.n_states)
    expected = np.array(ref.value_iteration_sweep(model.P, model.R, model.gamma, v))
    return model, v, expected


@pytest.mark.parametrize("kernel", ["serial", "parallel"])
def test_sweep_numba(benchmark, sweep_case, kernel):
    model, v, expected = sweep_case
    sweep = getattr(_kernels, f"sweep_{kernel}")
    v_new = benchmark(kernel_sweep, sweep, model, v)
    np.testing.assert_allclose(v_new, expected, rtol=0, atol=roundoff(model, v))


def test_sweep_numpy(benchmark, sweep_case):
    model, v, expected = sweep_case
    v_new = benchmark(numpy_sweep, model.P, model.R, model.gamma, v)
    np.testing.assert_allclose(v_new, expected, rtol=0, atol=roundoff(model, v))


def test_read_P(benchmark, problem):
    model, _ = problem
    total = benchmark(np.sum, model.P)
    # Every row of P sums to 1 within 1e-10.
    assert total == pytest.approx(model.n_actions * model.n_states, abs=1e-10 * model.P.size)
    benchmark.extra_info["bytes"] = model.P.nbytes
