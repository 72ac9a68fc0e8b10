"""Requests whose output cannot fit fail before allocating, with the bytes and a way out.

Some cases make requests far beyond any machine (hundreds of GiB), so the
guard must trip on real memory. Others shrink the available memory that
``mathlearn._validation`` reads, so that a small request trips it. In both
cases ``tracemalloc`` (which NumPy reports its buffers to) shows that the
peak traced allocation stayed far below the request.
"""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

import mathlearn as ml
import mathlearn._validation as validation
from mathlearn import mdp, shapley


def _bytes_in(message):
    """Return the first 'N bytes' count named in an error message."""
    match = re.search(r"needs ([\d,]+) bytes", message)
    assert match, f"no byte count in: {message}"
    return int(match.group(1).replace(",", ""))


def _raises_before_allocating(call, error_pattern, max_peak=64 * 2**20):
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=error_pattern) as info:
            call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < max_peak, f"peak traced allocation {peak:,} bytes before the error"
    return str(info.value)


@pytest.fixture
def little_memory(monkeypatch):
    monkeypatch.setattr(validation, "available_memory", lambda: 2**20)


def test_jacobian_beyond_any_machine():
    net = ml.MLP([1, 300, 300, 1], seed=0)
    X = np.zeros((1_000_000, 1))
    message = _raises_before_allocating(
        lambda: net.jacobian(X), r"jacobian of 1000000 samples.*needs [\d,]+ bytes.*slices of X of at most \d+ rows"
    )
    assert _bytes_in(message) >= 1_000_000 * net.n_params * 8


def test_jacobian_slice_hint_fits():
    # The number of rows the message suggests must itself pass the guard.
    net = ml.MLP([1, 300, 300, 1], seed=0)
    message = _raises_before_allocating(lambda: net.jacobian(np.zeros((1_000_000, 1))), r"slices of X")
    rows = int(re.search(r"at most (\d+) rows", message).group(1))
    available = validation.available_memory()
    assert rows * net.n_params * 8 <= available


def test_huge_network_rejected():
    message = _raises_before_allocating(lambda: ml.MLP([100_000, 100_000, 100_000]), r"MLP with layer sizes .*Use smaller layer sizes")
    assert _bytes_in(message) == (100_001 * 100_000 * 2) * 8


def test_exact_table_too_large(little_memory):
    calls = []

    def v(coalitions):
        calls.append(len(coalitions))
        return coalitions.sum(axis=1).astype(float)

    game = shapley.CallableGame(v, 20)
    calls.clear()  # the constructor may probe v once for its output shape
    message = _raises_before_allocating(lambda: shapley.exact(game), r"exact\(method='subset'\).*n_players=20.*shapley.sample")
    assert _bytes_in(message) == 2**20 * 8
    assert calls == []


def test_exact_too_many_players_without_patch():
    game = shapley.CallableGame(lambda masks: masks.sum(axis=1).astype(float), 40)
    message = _raises_before_allocating(lambda: shapley.exact(game), r"n_players must be <= 30 for a full coalition table; got n_players=40")
    assert "shapley.sample" in message


def test_model_game_exact_guard(little_memory):
    rng = np.random.default_rng(0)
    net = ml.MLP([18, 4, 3], seed=0)
    game = shapley.ModelGame(net.forward, rng.normal(size=18), rng.normal(size=(4, 18)))
    message = _raises_before_allocating(lambda: shapley.exact(game), r"n_players=18")
    assert _bytes_in(message) == 2**18 * 3 * 8


def test_dense_mdp_from_sparse_beyond_any_machine():
    S, A = 200_000, 2
    rows = np.arange(S * A)
    P = sp.csr_matrix((np.ones(S * A), (rows, rows // A)), shape=(S * A, S))
    model = mdp.FiniteMDP(P, np.zeros((S, A)), gamma=0.9)
    message = _raises_before_allocating(lambda: model.to_dense(), r"dense P of shape \(2, 200000, 200000\).*Keep the model sparse")
    assert _bytes_in(message) == 8 * A * S * S


def test_dense_from_transitions_guard():
    message = _raises_before_allocating(
        lambda: mdp.FiniteMDP.from_transitions([], 300_000, 3, 0.9),
        r"dense P of shape \(3, 300000, 300000\).*Use fewer states",
    )
    assert _bytes_in(message) == 8 * 3 * 300_000**2


def test_voting_guard(little_memory):
    game = shapley.WeightedVotingGame(5_000, [1_000] * 10)
    message = _raises_before_allocating(lambda: shapley.shapley_shubik(game), r"shapley_shubik with n=10 players and quota 5000.*dividing all weights")
    assert _bytes_in(message) == 11 * 5_000 * 8 * 3


def test_guard_passes_when_memory_suffices():
    # The same guard with enough memory: the computation runs and is right.
    v = np.array([0.0, 1.0, 1.0, 3.0])
    np.testing.assert_allclose(shapley.exact(shapley.TableGame(v)), [1.5, 1.5], rtol=0, atol=1e-15)
