"""Bad input to the Shapley API: each error names the argument, rule and value."""

from __future__ import annotations

import numpy as np
import pytest

import mathlearn._validation as validation
from mathlearn import shapley


def linear(Z):
    return Z.sum(axis=1)


@pytest.fixture
def point():
    rng = np.random.default_rng(0)
    return rng.normal(size=3), rng.normal(size=(4, 3))


@pytest.mark.parametrize("length", [1, 3, 6, 12])
def test_table_length_not_power_of_two(length):
    with pytest.raises(ValueError, match=rf"values must have 2\*\*n rows.*got {length} rows"):
        shapley.TableGame(np.zeros(length))


def test_table_empty():
    with pytest.raises(ValueError, match="values must not be empty"):
        shapley.TableGame([])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_table_not_finite(bad):
    table = np.zeros(8)
    table[5] = bad
    with pytest.raises(ValueError, match="values must contain only finite values.*index 5"):
        shapley.TableGame(table)


def test_table_wrong_dimensions():
    with pytest.raises(ValueError, match=r"values must have 1 or 2 dimension\(s\)"):
        shapley.TableGame(np.zeros((4, 2, 2)))
    with pytest.raises(ValueError, match=r"values must not be empty; got an array of shape \(4, 0\)"):
        shapley.TableGame(np.zeros((4, 0)))


def test_table_wrong_dtype():
    with pytest.raises(TypeError, match="values must be a real numeric array"):
        shapley.TableGame(np.zeros(4, dtype=complex))
    with pytest.raises(TypeError, match="values must be a numeric array"):
        shapley.TableGame("0101")


def test_table_masks_out_of_range():
    game = shapley.TableGame(np.zeros(16))
    with pytest.raises(ValueError, match=r"masks must be in \[0, 2\*\*4 - 1\].*got 16"):
        game.values([3, 16])
    with pytest.raises(ValueError, match="got -1"):
        game.values([-1])
    with pytest.raises(TypeError, match="masks must be an array of integer"):
        game.values([0.5])
    with pytest.raises(ValueError, match="masks must be 1-D"):
        game.values([[1, 2]])
    with pytest.raises(ValueError, match=f"got {2**64 - 1}"):
        game.values(np.array([2**64 - 1], dtype=np.uint64))


def test_model_f_not_callable(point):
    x, background = point
    with pytest.raises(TypeError, match="f must be a callable.*got ndarray"):
        shapley.ModelGame(np.zeros(3), x, background)


def test_model_x_wrong_shape(point):
    x, background = point
    with pytest.raises(ValueError, match=r"x and background must have the same number of features; got x of length 4 and background of shape \(4, 3\)"):
        shapley.ModelGame(linear, np.zeros(4), background)
    with pytest.raises(ValueError, match=r"x must have 1 dimension\(s\)"):
        shapley.ModelGame(linear, x[None, :], background)
    with pytest.raises(ValueError, match="x must not be empty"):
        shapley.ModelGame(linear, np.zeros(0), np.zeros((4, 0)))


def test_model_background_wrong_shape(point):
    x, background = point
    with pytest.raises(ValueError, match=r"x and background must have the same number of features; got x of length 3 and background of shape \(4, 2\)"):
        shapley.ModelGame(linear, x, background[:, :2])
    with pytest.raises(ValueError, match=r"background must have 2 dimension\(s\)"):
        shapley.ModelGame(linear, x, background[0])
    with pytest.raises(ValueError, match="background must have at least one row"):
        shapley.ModelGame(linear, x, np.zeros((0, 3)))


def test_model_inputs_nan_reach_model(point):
    x, background = point
    x = x.copy()
    x[1] = np.nan
    background = background.copy()
    background[2, 0] = np.inf
    seen = []

    def f(Z):
        seen.append(Z.copy())
        return np.nan_to_num(Z, nan=0.0, posinf=0.0).sum(axis=1)

    game = shapley.ModelGame(f, x, background)
    assert np.isinf(game.background[2, 0])
    game.values([2])
    assert np.isnan(seen[-1][:, 1]).all()


def test_model_returns_wrong_number_of_rows(point):
    x, background = point
    with pytest.raises(ValueError, match=r"f must return one row per input row, shape \(4,\).*got shape \(3,\)"):
        shapley.ModelGame(lambda Z: Z[:-1].sum(axis=1), x, background)
    with pytest.raises(ValueError, match=r"got shape \(4, 2, 1\)"):
        shapley.ModelGame(lambda Z: np.zeros((Z.shape[0], 2, 1)), x, background)
    with pytest.raises(ValueError, match="at least one output column"):
        shapley.ModelGame(lambda Z: np.zeros((Z.shape[0], 0)), x, background)


@pytest.mark.parametrize("batch_size", [None, 3])
def test_model_returns_nan_for_one_coalition(point, batch_size):
    x, background = point
    x = np.full(3, 5.0)  # no background entry is 5.0, so only coalition {0, 2} hits NaN

    def f(Z):
        out = Z.sum(axis=1)
        out[(Z[:, 0] == 5.0) & (Z[:, 1] != 5.0) & (Z[:, 2] == 5.0)] = np.nan
        return out

    game = shapley.ModelGame(f, x, background, batch_size=batch_size)
    with pytest.raises(ValueError, match="f must return finite values.*coalition mask 5"):
        shapley.exact(game)


def test_model_returns_nan_on_probe(point):
    x, background = point
    with pytest.raises(ValueError, match="f must return finite values"):
        shapley.ModelGame(lambda Z: np.full(Z.shape[0], np.nan), x, background)


def test_model_returns_complex(point):
    x, background = point
    with pytest.raises(TypeError, match=r"f\(Z\) must be a real numeric array.*complex128"):
        shapley.ModelGame(lambda Z: Z.sum(axis=1) + 1j, x, background)


def test_model_changes_output_shape(point):
    x, background = point
    calls = []

    def f(Z):
        calls.append(1)
        return Z.sum(axis=1) if len(calls) == 1 else Z[:, :2]

    game = shapley.ModelGame(f, x, background)
    with pytest.raises(ValueError, match=r"same output shape for every batch.*\(32, 2\).*\(32,\)"):
        game.table()


@pytest.mark.parametrize("batch_size, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError), ("8", TypeError)])
def test_model_bad_batch_size(point, batch_size, error):
    x, background = point
    with pytest.raises(error, match="batch_size must"):
        shapley.ModelGame(linear, x, background, batch_size=batch_size)


def test_exact_unknown_method():
    with pytest.raises(ValueError, match="method must be one of 'subset', 'potential', 'gray'; got 'shapley'"):
        shapley.exact(shapley.TableGame(np.zeros(4)), method="shapley")


def test_exact_rejects_non_game():
    with pytest.raises(TypeError, match="game must have n_players"):
        shapley.exact(np.zeros(8))


class _HugeGame(shapley.Game):
    """A game too large to tabulate; any evaluation is a test failure."""

    def __init__(self, n):
        self.n_players = n
        self.n_outputs = None

    def values(self, masks):
        raise AssertionError("values() must not be called for an oversized game")


def test_exact_player_cap_before_evaluation():
    with pytest.raises(ValueError, match=r"n_players must be <= 30.*n_players=31.*17,179,869,184 bytes.*sampling"):
        shapley.exact(_HugeGame(31))
    with pytest.raises(ValueError, match="n_players=31"):
        _HugeGame(31).table()


def test_exact_user_game_with_wrong_table():
    class Short(shapley.Game):
        n_players = 3
        n_outputs = None

        def values(self, masks):
            return np.zeros(5)

    with pytest.raises(ValueError, match=r"game.table\(\) must have shape \(8,\).*got shape \(5,\)"):
        shapley.exact(Short())


@pytest.mark.parametrize("method, n_tables", [("subset", 0), ("potential", 1)])
def test_memory_guard_table_game(monkeypatch, method, n_tables):
    game = shapley.TableGame(np.zeros((2**10, 2)))
    table_bytes = 2**10 * 2 * 8
    monkeypatch.setattr(validation, "available_memory", lambda: table_bytes - 1)
    if n_tables == 0:
        shapley.exact(game, method=method)  # the stored table needs no new memory
        return
    with pytest.raises(ValueError, match=rf"n_players=10 needs {table_bytes:,} bytes.*sampling"):
        shapley.exact(game, method=method)


def test_memory_guard_model_game_before_evaluation(monkeypatch, point):
    x, background = point
    calls = []

    def f(Z):
        calls.append(Z.shape)
        return Z.sum(axis=1)

    game = shapley.ModelGame(f, x, background)
    monkeypatch.setattr(validation, "available_memory", lambda: 10)
    with pytest.raises(ValueError, match=r"needs 64 bytes.*but only 10 bytes"):
        shapley.exact(game)
    with pytest.raises(ValueError, match=r"ModelGame.table\(\) with n_players=3 needs 64 bytes"):
        game.table()
    assert len(calls) == 1  # the constructor's probe only


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("method", ["subset", "potential", "gray"])
def test_table_written_after_build_exact(bad, method):
    values = np.arange(8.0)
    game = shapley.TableGame(values)
    values[5] = bad
    with pytest.raises(ValueError, match=rf"only finite values; got {bad!r} at coalition mask 5"):
        shapley.exact(game, method=method)


def test_table_written_after_build_sample():
    values = np.arange(64.0).reshape(32, 2)
    game = shapley.TableGame(values)
    values[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"only finite values; got nan at coalition mask 3"):
        shapley.sample(game, budget=20, seed=0)
