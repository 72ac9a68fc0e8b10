"""CallableGame and the Gray-code exact method."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import mathlearn._validation as validation
from mathlearn import shapley

# shapley.exact is the function. The module of that name defines GRAY_CHUNK.
exact_module = importlib.import_module("mathlearn.shapley.exact")

U = np.finfo(np.float64).eps / 2


def majority(members):
    return (members.sum(axis=1) * 2 > members.shape[1]).astype(np.float64)


def test_callable_game_receives_bool_batches():
    seen = []

    def v(members):
        seen.append((members.dtype, members.shape))
        return members.sum(axis=1)

    game = shapley.CallableGame(v, 5, batch_size=10)
    values = game.values(np.arange(32))
    np.testing.assert_array_equal(values, [bin(m).count("1") for m in range(32)])
    assert seen[0] == (np.dtype(bool), (1, 5))  # the constructor's probe
    assert [shape for _, shape in seen[1:]] == [(10, 5), (10, 5), (10, 5), (2, 5)]


@pytest.mark.parametrize("method", shapley.METHODS)
def test_callable_majority_game_symmetric(method):
    game = shapley.CallableGame(majority, 7)
    phi = shapley.exact(game, method=method)
    shapley.check_symmetry(game, phi, atol=8 * 2**7 * U)
    shapley.check_efficiency(game, phi, atol=8 * 2**7 * U)
    np.testing.assert_allclose(phi, 1 / 7, rtol=0, atol=8 * 2**7 * U)


def test_callable_vector_game():
    game = shapley.CallableGame(lambda m: np.stack([m[:, 0] * 1.0, m.sum(axis=1) * 2.0], axis=1), 4)
    phi = shapley.exact(game, method="gray")
    assert phi.shape == (4, 2)
    np.testing.assert_allclose(phi[:, 0], [1, 0, 0, 0], atol=1e-15)
    np.testing.assert_allclose(phi[:, 1], 2.0, atol=1e-15)


def test_callable_game_bad_outputs():
    with pytest.raises(TypeError, match="v must be a callable"):
        shapley.CallableGame(3, 4)
    with pytest.raises(ValueError, match=r"v must return shape \(k,\) or \(k, m\)"):
        shapley.CallableGame(lambda m: np.zeros((m.shape[0], 2, 2)), 3)
    game = shapley.CallableGame(lambda m: np.where(m.all(axis=1), np.nan, 0.0), 3)
    with pytest.raises(ValueError, match=r"v must return finite values; got \[nan\] for the coalition \[0, 1, 2\]"):
        shapley.exact(game)
    with pytest.raises(ValueError, match="n_players must be <= 62"):
        shapley.CallableGame(majority, 63)


def test_gray_streams_without_table(monkeypatch):
    # A 2**14 float64 table needs 128 KiB; "gray" must work with less.
    n = 14
    rng = np.random.default_rng(0)
    w = rng.normal(size=n)
    game = shapley.CallableGame(lambda m: m @ w + 0.25 * m[:, 0] * m[:, 1], n)
    monkeypatch.setattr(validation, "available_memory", lambda: 2**14 * 8 - 1)
    phi = shapley.exact(game, method="gray")
    with pytest.raises(ValueError, match="bytes"):
        shapley.exact(game, method="subset")
    closed_form = w.copy()
    closed_form[:2] += 0.125
    np.testing.assert_allclose(phi, closed_form, rtol=0, atol=4 * 2**n * U * float(np.abs(w).sum() + 1))


@pytest.mark.parametrize("chunk", [1000, 2**16])
@pytest.mark.parametrize("n", [3, 11, 15])
def test_gray_agrees_with_subset_and_potential(monkeypatch, n, chunk):
    # A chunk of 1000 coalitions starts chunks at indices that are not powers of two.
    monkeypatch.setattr(exact_module, "GRAY_CHUNK", chunk)
    game = shapley.TableGame(np.random.default_rng(n).normal(size=(2**n, 2)) + 5.0)
    gray = shapley.exact(game, method="gray")
    bound = 4 * 2**n * U * 6.0 * 4
    np.testing.assert_allclose(gray, shapley.exact(game, method="subset"), rtol=0, atol=bound)
    np.testing.assert_allclose(gray, shapley.exact(game, method="potential"), rtol=0, atol=bound)
