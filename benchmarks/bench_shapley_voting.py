"""Power indices of weighted voting games by dynamic programming.

Run from the repository root::

    .venv/bin/python -m pytest benchmarks/bench_shapley_voting.py --benchmark-only

Weights are random integers in [1, 9] (seed 0) and the quota is half the
total weight plus one. Each path of ``voting`` gets one case:

- n = 60: int64 counts in Numba (Shapley-Shubik and Banzhaf);
- n = 2000, Banzhaf: Python-integer counts;
- n = 1000, Shapley-Shubik: float64 size-weight distributions in Numba.

Every result is checked: Shapley-Shubik values sum to 1 and the Banzhaf
values lie in [0, 1].
"""

from __future__ import annotations

import numpy as np
import pytest

from mathlearn import shapley


def voting_game(n: int) -> shapley.WeightedVotingGame:
    weights = np.random.default_rng(0).integers(1, 10, size=n)
    return shapley.WeightedVotingGame(int(weights.sum()) // 2 + 1, weights)


@pytest.mark.parametrize("n", [60, 1000])
def test_shapley_shubik(benchmark, n):
    game = voting_game(n)
    shapley.shapley_shubik(voting_game(n if n <= 62 else 70))  # compile the kernels before timing
    benchmark.group = f"voting n={n}"
    phi = benchmark.pedantic(shapley.shapley_shubik, args=(game,), rounds=1, iterations=1)
    assert abs(phi.sum() - 1) < 1e-9


@pytest.mark.parametrize("n", [60, 2000])
def test_banzhaf(benchmark, n):
    game = voting_game(n)
    shapley.banzhaf(voting_game(10))  # compile the kernels before timing
    benchmark.group = f"voting n={n}"
    beta = benchmark.pedantic(shapley.banzhaf, args=(game,), rounds=1, iterations=1)
    assert ((beta >= 0) & (beta <= 1)).all()
