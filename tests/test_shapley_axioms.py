"""The four Shapley axioms on random games, and the checks that test them.

Each axiom is checked on values from both methods and on perturbed
values, so that every check is seen to pass and to fail.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_shapley_exact import kernel_bound

from mathlearn import shapley


def random_game(seed: int, n: int, n_outputs=None) -> shapley.TableGame:
    rng = np.random.default_rng(seed)
    shape = (2**n,) if n_outputs is None else (2**n, n_outputs)
    return shapley.TableGame(rng.uniform(-1.0, 1.0, size=shape))


def swap_bits(mask: np.ndarray, i: int, j: int) -> np.ndarray:
    differ = ((mask >> i) ^ (mask >> j)) & 1
    return mask ^ (differ * ((1 << i) | (1 << j)))


def interchangeable_game(seed: int, n: int, i: int, j: int, n_outputs=None) -> shapley.TableGame:
    """A random game in which players i and j are interchangeable."""
    base = random_game(seed, n, n_outputs).table()
    masks = np.arange(2**n)
    return shapley.TableGame(base[np.minimum(masks, swap_bits(masks, i, j))])


def null_player_game(seed: int, n: int, i: int, n_outputs=None) -> shapley.TableGame:
    """A random game in which player i adds nothing to any coalition."""
    base = random_game(seed, n, n_outputs).table()
    masks = np.arange(2**n)
    return shapley.TableGame(base[masks & ~(1 << i)])


def efficiency_atol(n: int, M: float) -> float:
    # n values each within kernel_bound, summed with n rounding errors of
    # size at most u * n * 2M, against v(N) - v(empty) rounded once.
    u = np.finfo(np.float64).eps / 2
    return n * kernel_bound(n, M) + (n + 1) * u * n * 2 * M


@pytest.mark.parametrize("method", shapley.METHODS)
@pytest.mark.parametrize("n", [1, 2, 5, 9, 12])
@pytest.mark.parametrize("n_outputs", [None, 2])
def test_efficiency_random_games(method, n, n_outputs):
    game = random_game(n, n, n_outputs)
    phi = shapley.exact(game, method=method)
    result = shapley.check_efficiency(game, phi, atol=efficiency_atol(n, 1.0))
    assert result.axiom == "efficiency"
    assert result.max_error <= result.atol


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=8),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    scale=st.floats(min_value=1e-3, max_value=1e6),
)
def test_efficiency_property(n, seed, scale):
    rng = np.random.default_rng(seed)
    table = rng.normal(size=2**n) * scale
    game = shapley.TableGame(table)
    M = float(np.abs(table).max())
    for method in shapley.METHODS:
        shapley.check_efficiency(game, shapley.exact(game, method=method), atol=efficiency_atol(n, M))


def test_efficiency_check_fails_on_wrong_phi():
    n = 6
    game = random_game(1, n)
    phi = shapley.exact(game)
    atol = efficiency_atol(n, 1.0)
    wrong = phi.copy()
    wrong[2] += 10 * atol
    with pytest.raises(AssertionError, match="efficiency fails"):
        shapley.check_efficiency(game, wrong, atol=atol)


@pytest.mark.parametrize("method", shapley.METHODS)
@pytest.mark.parametrize("n_outputs", [None, 3])
def test_symmetry_random_games(method, n_outputs):
    n, i, j = 7, 1, 5
    game = interchangeable_game(2, n, i, j, n_outputs)
    phi = shapley.exact(game, method=method)
    atol = kernel_bound(n, 1.0)
    found = shapley.check_symmetry(game, phi, atol=atol)
    assert found.checked == ((i, j),)
    given_pair = shapley.check_symmetry(game, phi, atol=atol, pairs=[(j, i)])
    assert given_pair.checked == ((j, i),)


def test_symmetry_check_fails_on_wrong_phi():
    n, i, j = 6, 0, 3
    game = interchangeable_game(3, n, i, j)
    phi = shapley.exact(game)
    atol = kernel_bound(n, 1.0)
    wrong = phi.copy()
    wrong[i] += 10 * atol
    with pytest.raises(AssertionError, match="symmetry fails"):
        shapley.check_symmetry(game, wrong, atol=atol)


def test_symmetry_rejects_non_interchangeable_pair():
    game = random_game(4, 5)
    phi = shapley.exact(game)
    with pytest.raises(ValueError, match="not interchangeable"):
        shapley.check_symmetry(game, phi, atol=1e-12, pairs=[(0, 1)])


def test_symmetry_random_game_has_no_pairs():
    # A generic random game has no interchangeable players.
    game = random_game(5, 5)
    result = shapley.check_symmetry(game, shapley.exact(game), atol=1e-12)
    assert result.checked == ()


@pytest.mark.parametrize("method", shapley.METHODS)
@pytest.mark.parametrize("n_outputs", [None, 2])
def test_null_player_random_games(method, n_outputs):
    n, i = 8, 6
    game = null_player_game(6, n, i, n_outputs)
    phi = shapley.exact(game, method=method)
    atol = kernel_bound(n, 1.0)
    result = shapley.check_null_player(game, phi, atol=atol)
    assert result.checked == (i,)
    assert shapley.check_null_player(game, phi, atol=atol, players=[i]).checked == (i,)


def test_null_player_check_fails_on_wrong_phi():
    n, i = 5, 2
    game = null_player_game(7, n, i)
    phi = shapley.exact(game)
    atol = kernel_bound(n, 1.0)
    wrong = phi.copy()
    wrong[i] = 10 * atol
    with pytest.raises(AssertionError, match="null player fails"):
        shapley.check_null_player(game, wrong, atol=atol)


def test_null_player_rejects_contributing_player():
    game = random_game(8, 4)
    with pytest.raises(ValueError, match="not a null player"):
        shapley.check_null_player(game, shapley.exact(game), atol=1e-12, players=[0])


@pytest.mark.parametrize("method", shapley.METHODS)
@pytest.mark.parametrize("n_outputs", [None, 3])
def test_additivity_random_games(method, n_outputs):
    n = 9
    v = random_game(9, n, n_outputs)
    w = random_game(10, n, n_outputs)
    # phi(v), phi(w) and phi(v + w), where |v + w| <= 2, each within its bound.
    atol = 2 * kernel_bound(n, 1.0) + kernel_bound(n, 2.0)
    result = shapley.check_additivity(v, w, atol=atol, value=lambda g: shapley.exact(g, method=method))
    assert result.max_error <= atol


def test_additivity_check_fails_on_nonlinear_value():
    n = 5
    v = random_game(11, n)
    w = random_game(12, n)

    def squared_value(game):
        return shapley.exact(game) ** 2

    with pytest.raises(AssertionError, match="additivity fails"):
        shapley.check_additivity(v, w, atol=1e-6, value=squared_value)


def test_additivity_rejects_games_of_different_sizes():
    with pytest.raises(ValueError, match="same"):
        shapley.check_additivity(random_game(1, 3), random_game(1, 4), atol=1e-12)


def test_axiom_checks_reject_phi_of_wrong_shape():
    game = random_game(13, 4)
    with pytest.raises(ValueError, match="phi must have shape"):
        shapley.check_efficiency(game, np.zeros(3), atol=1e-12)
    with pytest.raises(ValueError, match="phi must have shape"):
        shapley.check_symmetry(game, np.zeros((4, 2)), atol=1e-12)


def test_axiom_checks_reject_negative_atol():
    game = random_game(14, 3)
    with pytest.raises(ValueError, match="atol"):
        shapley.check_efficiency(game, shapley.exact(game), atol=-1.0)


class _TableOnlyGame:
    """A duck-typed game with a table() method and no values()."""

    def __init__(self, table):
        self._table = np.asarray(table)
        self.n_players = self._table.shape[0].bit_length() - 1
        self.n_outputs = None

    def table(self):
        return self._table


def test_axiom_checks_accept_table_only_game():
    n = 5
    base = random_game(15, n).table()
    game = _TableOnlyGame(base[np.arange(2**n) & ~(1 << 3)])  # player 3 is a null player
    phi = shapley.exact(game)
    atol = kernel_bound(n, 1.0)
    shapley.check_efficiency(game, phi, atol=efficiency_atol(n, 1.0))
    assert shapley.check_null_player(game, phi, atol=atol).checked == (3,)
    shapley.check_additivity(game, random_game(16, n), atol=3 * kernel_bound(n, 2.0))
