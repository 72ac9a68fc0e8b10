"""Exact Shapley values: the three Numba methods, the model game and the reference.

Run from the repository root::

    .venv/bin/python -m pytest benchmarks/bench_shapley.py --benchmark-only

Table games are random normal tables of 2**n float64 values, n = 10, 16
and 20, and one vector game with n = 16 and m = 4 outputs. The subset method reads the table once per player, n passes in
parallel over players. The potential method reads it once but writes a
second table of the same size. The gray method reads the table in
Gray-code order in chunks and adds each value to all its players. The ``read_table`` benchmark measures the machine limit in
the same run: one ``numpy.sum`` pass over the n = 20 table (8 MiB).

The model game is a two-layer numpy model with 32 tanh units at n = 10
features and K = 100 background rows, so ``exact`` evaluates f on
2**10 * 100 = 102,400 hybrid rows. ``model_forward`` times one call of f
on the same rows, the floor for that benchmark.

At n = 8 the n!-order pure-Python reference runs beside the Numba kernel
on the same game. Every benchmark checks its result by efficiency, and
the reference and the kernel must agree.

The peer is the exact explainer of shap 0.51, ``explainers.Exact`` with a
``maskers.Independent`` masker over the same K rows. It is skipped when
shap is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest

from mathlearn import shapley
from mathlearn.reference.shapley import shapley_by_permutations, table_value

U = np.finfo(np.float64).eps / 2


def random_table_game(n: int, seed: int = 0) -> shapley.TableGame:
    return shapley.TableGame(np.random.default_rng(seed).normal(size=2**n))


def efficiency_atol(n: int, M: float) -> float:
    # Each phi_i is a sum of 2**(n-1) weighted differences whose weights sum
    # to 1, so it is within about 2**n u 2M of the exact value. Efficiency sums n of them.
    return 4 * n * 2**n * U * M


def check_efficiency(game, phi):
    M = float(np.abs(game.table()).max())
    shapley.check_efficiency(game, phi, atol=efficiency_atol(game.n_players, M))


class TwoLayerModel:
    """f(Z) = tanh(Z W1 + b1) w2 + c, a numpy stand-in for an MLP forward pass."""

    def __init__(self, n: int, hidden: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.W1 = rng.normal(size=(n, hidden)) / np.sqrt(n)
        self.b1 = rng.normal(size=hidden)
        self.w2 = rng.normal(size=hidden) / np.sqrt(hidden)
        self.c = 0.1

    def __call__(self, Z):
        return np.tanh(Z @ self.W1 + self.b1) @ self.w2 + self.c


@pytest.mark.parametrize("method", shapley.METHODS)
@pytest.mark.parametrize("n", [10, 16, 20])
def test_exact_table_game(benchmark, n, method):
    game = random_table_game(n)
    shapley.exact(game, method=method)  # compile before timing
    benchmark.group = f"table game n={n}"
    phi = benchmark(shapley.exact, game, method=method)
    check_efficiency(game, phi)


@pytest.mark.parametrize("method", shapley.METHODS)
def test_exact_vector_table_game(benchmark, method):
    n, m = 16, 4
    game = shapley.TableGame(np.random.default_rng(0).normal(size=(2**n, m)))
    shapley.exact(game, method=method)
    benchmark.group = f"table game n={n} m={m}"
    phi = benchmark(shapley.exact, game, method=method)
    check_efficiency(game, phi)


def test_read_table(benchmark):
    table = random_table_game(20).table()
    benchmark.group = "table game n=20"
    total = benchmark(np.sum, table)
    assert np.isfinite(total)


@pytest.mark.parametrize("method", shapley.METHODS)
def test_exact_model_game(benchmark, method):
    n, K = 10, 100
    rng = np.random.default_rng(1)
    model = TwoLayerModel(n, hidden=32)
    game = shapley.ModelGame(model, rng.normal(size=n), rng.normal(size=(K, n)))
    shapley.exact(game, method=method)
    benchmark.group = "model game n=10 K=100"
    phi = benchmark(shapley.exact, game, method=method)
    check_efficiency(game, phi)


def test_model_forward(benchmark):
    n, K = 10, 100
    rng = np.random.default_rng(1)
    model = TwoLayerModel(n, hidden=32)
    Z = rng.normal(size=(2**n * K, n))
    benchmark.group = "model game n=10 K=100"
    out = benchmark(model, Z)
    assert out.shape == (2**n * K,)


def test_shap_exact_model_game(benchmark):
    shap = pytest.importorskip("shap")
    n, K = 10, 100
    rng = np.random.default_rng(1)
    model = TwoLayerModel(n, hidden=32)
    x, background = rng.normal(size=n), rng.normal(size=(K, n))
    explainer = shap.explainers.Exact(model, shap.maskers.Independent(background, max_samples=K))
    benchmark.group = "model game n=10 K=100"
    explanation = benchmark(explainer, x[None, :])
    game = shapley.ModelGame(model, x, background)
    check_efficiency(game, explanation.values[0])


def test_reference_n8(benchmark):
    n = 8
    game = random_table_game(n, seed=8)
    table = game.table()
    benchmark.group = "table game n=8"
    phi = benchmark.pedantic(
        shapley_by_permutations, args=(lambda S: table_value(table, S), n), rounds=1, iterations=1
    )
    phi = np.array(phi, dtype=np.float64)
    check_efficiency(game, phi)
    # The reference sums 8! terms per player in float64: within 8! u 2M of exact.
    M = float(np.abs(table).max())
    np.testing.assert_allclose(phi, shapley.exact(game), rtol=0, atol=2 * 40320 * U * 2 * M)


def test_exact_n8(benchmark):
    game = random_table_game(8, seed=8)
    shapley.exact(game)
    benchmark.group = "table game n=8"
    phi = benchmark(shapley.exact, game)
    check_efficiency(game, phi)
