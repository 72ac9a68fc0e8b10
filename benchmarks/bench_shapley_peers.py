"""Shapley values against shap and shapiq: exact speed and sampled accuracy.

Run from the repository root::

    .venv/bin/python -m pytest benchmarks/bench_shapley_peers.py --benchmark-only -s

Peers, each skipped when missing: shap (``explainers.Exact``,
``explainers.Permutation``, ``KernelExplainer`` with ``l1_reg=False``)
and shapiq (``ExactComputer``, ``KernelSHAP``, ``PermutationSamplingSV``).
Versions measured: shap 0.51.0, shapiq 1.4.1.

The model is ``mathlearn.MLP([n, 32, 1], seed=0)`` when that class is
available and otherwise a numpy network of the same shape (tanh, 32
hidden units). shap gets the model and an ``Independent`` masker over
the same K background rows. shapiq evaluates games, not models, so it
gets the interventional game of the same model (a ``ModelGame``) as a
function of a bool coalition matrix, and its time includes the same
model calls as ours.

Groups
------
exact model game n=8, 12, 16 (K = 20)
    ``shapley.explain`` (Gray-code exact) runs on the MLP itself, which
    uses the compiled model-game kernel, and on the same model wrapped in
    a Python function, which uses the generic path. Its peers are shap
    Exact and shapiq ExactComputer. Each contender is called once before
    timing.
exact table game n=10, 16, 20, 24
    ``shapley.exact`` (subset) vs shapiq ExactComputer (n <= 16; at n = 20
    its coalition matrices take minutes).
model game n=20 K=100
    ``shapley.explain`` alone, one round.
sampling accuracy n=14
    Mean squared error over 10 seeds at 2000 game evaluations on the model
    game with n = 14 and K = 10, whose exact values come from
    ``shapley.exact``. The MSE of each estimator is printed and stored in
    ``extra_info``. Each contender runs once untimed first, because shap
    compiles Numba functions on its first call.
"""

from __future__ import annotations

import numpy as np
import pytest

from mathlearn import shapley

SEEDS = range(10)
BUDGET = 2000


def make_model(n: int):
    """Return f(Z) of shape (B,) for an MLP n -> 32 -> 1."""
    try:
        import mathlearn as ml

        net = ml.MLP([n, 32, 1], seed=0)
        return lambda Z: net.forward(np.asarray(Z, dtype=np.float64))[:, 0]
    except (AttributeError, ImportError):
        rng = np.random.default_rng(0)
        W1 = rng.normal(size=(n, 32)) / np.sqrt(n)
        b1 = rng.normal(size=32) * 0.1
        w2 = rng.normal(size=32) / np.sqrt(32)
        return lambda Z: np.tanh(np.asarray(Z, dtype=np.float64) @ W1 + b1) @ w2


def problem(n: int, K: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    return make_model(n), rng.normal(size=n), rng.normal(size=(K, n))


def shapiq_game(game):
    """Wrap a game with masks as a function of a (k, n) or (n,) bool matrix, as shapiq calls it."""
    powers = np.int64(1) << np.arange(game.n_players, dtype=np.int64)

    def v(coalitions):
        members = np.atleast_2d(np.asarray(coalitions, dtype=bool))
        return game.values(members.astype(np.int64) @ powers)

    return v


def shapiq_values(interaction_values, n):
    return np.array([interaction_values[(i,)] for i in range(n)])


# ---------------------------------------------------------------- exact


@pytest.mark.parametrize("n", [8, 12, 16])
def test_exact_model_mathlearn(benchmark, n):
    f, x, background = problem(n, 20)
    shapley.explain(f, x[None, :], background[:1])  # load the compiled kernel before timing
    benchmark.group = f"exact model game n={n} K=20"
    result = benchmark.pedantic(shapley.explain, args=(f, x[None, :], background), rounds=3, iterations=1)
    assert abs(result.base_values[0] + result.values.sum() - f(x[None, :])[0]) < 1e-9


@pytest.mark.parametrize("n", [8, 12, 16])
def test_exact_model_mathlearn_kernel(benchmark, n):
    ml = pytest.importorskip("mathlearn")
    net = ml.MLP([n, 32, 1], seed=0)
    f, x, background = problem(n, 20)
    shapley.explain(net, x[None, :], background[:1])  # load the compiled kernel before timing
    benchmark.group = f"exact model game n={n} K=20"
    result = benchmark.pedantic(shapley.explain, args=(net, x[None, :], background), rounds=5, iterations=1)
    np.testing.assert_allclose(result.values[..., 0], shapley.explain(f, x[None, :], background).values, rtol=0, atol=1e-9)


@pytest.mark.parametrize("n", [8, 12, 16])
def test_exact_model_shap(benchmark, n):
    shap = pytest.importorskip("shap")
    f, x, background = problem(n, 20)
    explainer = shap.explainers.Exact(f, shap.maskers.Independent(background, max_samples=20))
    explainer(x[None, :])  # first call: shap compiles and caches, as ours does above
    benchmark.group = f"exact model game n={n} K=20"
    explanation = benchmark.pedantic(explainer, args=(x[None, :],), rounds=1, iterations=1)
    ours = shapley.explain(f, x[None, :], background).values[0]
    np.testing.assert_allclose(explanation.values[0], ours, rtol=0, atol=1e-9)


@pytest.mark.parametrize("n", [8, 12, 16])
def test_exact_model_shapiq(benchmark, n):
    shapiq = pytest.importorskip("shapiq")
    f, x, background = problem(n, 20)
    game = shapley.ModelGame(f, x, background)

    def run():
        return shapiq.ExactComputer(shapiq_game(game), n_players=n, evaluate_game=True)("SV")

    run()  # first call outside the timing, as for the other libraries
    benchmark.group = f"exact model game n={n} K=20"
    values = shapiq_values(benchmark.pedantic(run, rounds=1, iterations=1), n)
    np.testing.assert_allclose(values, shapley.exact(game), rtol=0, atol=1e-9)


@pytest.mark.parametrize("n", [10, 16, 20, 24])
def test_exact_table_mathlearn(benchmark, n):
    game = shapley.TableGame(np.random.default_rng(n).normal(size=2**n))
    shapley.exact(game)  # compile before timing
    benchmark.group = f"exact table game n={n}"
    phi = benchmark(shapley.exact, game)
    shapley.check_efficiency(game, phi, atol=4 * n * 2**n * 2**-53 * float(np.abs(game.table()).max()))


@pytest.mark.parametrize("n", [10, 16])
def test_exact_table_shapiq(benchmark, n):
    shapiq = pytest.importorskip("shapiq")
    game = shapley.TableGame(np.random.default_rng(n).normal(size=2**n))

    def run():
        return shapiq.ExactComputer(shapiq_game(game), n_players=n, evaluate_game=True)("SV")

    benchmark.group = f"exact table game n={n}"
    values = shapiq_values(benchmark.pedantic(run, rounds=1, iterations=1), n)
    np.testing.assert_allclose(values, shapley.exact(game), rtol=0, atol=1e-9)


def test_model_game_n20_k100(benchmark):
    f, x, background = problem(20, 100)
    shapley.explain(f, x[None, :], background[:1])  # load the compiled kernel before timing
    benchmark.group = "model game n=20 K=100"
    result = benchmark.pedantic(shapley.explain, args=(f, x[None, :], background), rounds=1, iterations=1)
    assert abs(result.base_values[0] + result.values.sum() - f(x[None, :])[0]) < 1e-8


# ------------------------------------------------------------- sampling


@pytest.fixture(scope="module")
def sampling_problem():
    n, K = 14, 10
    f, x, background = problem(n, K, seed=2)
    game = shapley.ModelGame(f, x, background)
    return f, x, background, game, shapley.exact(game)


def mean_squared_error(estimates, phi):
    return float(np.mean([(np.asarray(e) - phi) ** 2 for e in estimates]))


def record(benchmark, name, estimates, phi):
    mse = mean_squared_error(estimates, phi)
    benchmark.extra_info["mse"] = mse
    benchmark.extra_info["budget"] = BUDGET
    print(f"\nsampling n=14 budget={BUDGET}: {name} MSE {mse:.3e}")
    return mse


@pytest.mark.parametrize("method", shapley.SAMPLING_METHODS)
def test_sampling_mathlearn(benchmark, sampling_problem, method):
    _, _, _, game, phi = sampling_problem
    benchmark.group = "sampling n=14"

    def run():
        return [shapley.sample(game, BUDGET, method=method, seed=s) for s in SEEDS]

    estimates = benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=1)
    assert all(e.n_evaluations <= BUDGET for e in estimates)
    record(benchmark, f"mathlearn {method}", [e.values for e in estimates], phi)


@pytest.mark.parametrize("name", ["KernelSHAP", "PermutationSamplingSV"])
def test_sampling_shapiq(benchmark, sampling_problem, name):
    shapiq = pytest.importorskip("shapiq")
    _, _, _, game, phi = sampling_problem
    n = game.n_players
    benchmark.group = "sampling n=14"

    def run():
        out = []
        for s in SEEDS:
            approximator = getattr(shapiq, name)(n, random_state=s)
            out.append(shapiq_values(approximator.approximate(BUDGET, shapiq_game(game)), n))
        return out

    record(benchmark, f"shapiq {name}", benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=1), phi)


def test_sampling_shap_permutation(benchmark, sampling_problem):
    shap = pytest.importorskip("shap")
    f, x, background, _, phi = sampling_problem
    benchmark.group = "sampling n=14"

    def run():
        out = []
        for s in SEEDS:
            explainer = shap.explainers.Permutation(f, shap.maskers.Independent(background, max_samples=10), seed=s)
            out.append(explainer(x[None, :], max_evals=BUDGET, silent=True).values[0])
        return out

    record(benchmark, "shap Permutation", benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=1), phi)


def test_sampling_shap_kernel(benchmark, sampling_problem):
    shap = pytest.importorskip("shap")
    f, x, background, _, phi = sampling_problem
    benchmark.group = "sampling n=14"

    def run():
        out = []
        for s in SEEDS:
            np.random.seed(s)  # KernelExplainer draws from numpy's global state; no other seed exists
            explainer = shap.KernelExplainer(f, background)
            out.append(explainer.shap_values(x[None, :], nsamples=BUDGET, l1_reg=False, silent=True)[0])
        return out

    record(benchmark, "shap KernelExplainer", benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=1), phi)
