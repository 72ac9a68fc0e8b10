"""Sampled Shapley values: budgets, exactness cases, axioms and standard errors."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from mathlearn import shapley
from mathlearn.shapley import sampling

U = np.finfo(np.float64).eps / 2


def member_bits(n):
    masks = np.arange(2**n)
    return ((masks[:, None] >> np.arange(n)) & 1).astype(np.float64)


def order_two_game(n, seed):
    """v(S) = c + sum a_i [i in S] + sum_{i<j} b_ij [i, j in S], interactions of order <= 2."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    B = np.triu(rng.normal(size=(n, n)), 1)
    Z = member_bits(n)
    return shapley.TableGame(3.0 + Z @ a + np.einsum("ki,ij,kj->k", Z, B, Z)), a, B


class CountingGame:
    """A table game that counts the coalitions it is requested_masks for."""

    def __init__(self, table):
        self.inner = shapley.TableGame(table)
        self.n_players = self.inner.n_players
        self.n_outputs = self.inner.n_outputs
        self.evaluated = 0

    def values(self, masks):
        self.evaluated += len(masks)
        return self.inner.values(masks)


@pytest.mark.parametrize("method", shapley.SAMPLING_METHODS)
def test_full_budget_gives_exact_values(method):
    game = shapley.TableGame(np.random.default_rng(0).normal(size=2**6))
    estimate = shapley.sample(game, 2**6, method=method, seed=0)
    np.testing.assert_array_equal(estimate.values, shapley.exact(game))
    np.testing.assert_array_equal(estimate.std_errors, 0.0)
    assert estimate.n_evaluations == 2**6


@pytest.mark.parametrize("method", shapley.SAMPLING_METHODS)
def test_budget_below_minimum_names_it(method):
    game = shapley.TableGame(np.zeros(2**9))
    minimum = shapley.minimum_budget(9, method)
    with pytest.raises(ValueError, match=f"budget must be at least {minimum} game evaluations"):
        shapley.sample(game, minimum - 1, method=method, seed=0)
    if method == "stratified":
        shapley.sample(game, minimum, method=method, seed=0)
    else:
        # At the minimum the other methods have too few samples for a spread.
        with pytest.warns(shapley.SamplingWarning):
            shapley.sample(game, minimum, method=method, seed=0)


def test_minimum_budgets_follow_the_methods():
    n = 9
    assert shapley.minimum_budget(n, "permutation") == 2 + 2 * (n - 1)
    assert shapley.minimum_budget(n, "antithetic") == 2 + 2 * (n - 1)
    # Stratified: v(empty), v(N), the n singletons and their complements, then
    # n complementary pairs for each class {k, n - k}, k = 2, 3, 4 (each contains
    # more than n pairs at n = 9).
    assert shapley.minimum_budget(n, "stratified") == 2 + 2 * n + 3 * 2 * n
    assert shapley.minimum_budget(n, "kernel") == 2 * n + 2


@pytest.mark.parametrize("method", shapley.SAMPLING_METHODS)
@pytest.mark.parametrize("budget", [700, 1001])
def test_evaluations_counted_and_within_budget(method, budget):
    game = CountingGame(np.random.default_rng(1).normal(size=2**11))
    estimate = shapley.sample(game, budget, method=method, seed=3)
    assert estimate.n_evaluations == game.evaluated
    assert estimate.n_evaluations <= budget


@pytest.mark.parametrize("seed", range(5))
def test_antithetic_pair_exact_on_order_two_game(seed):
    n = 9
    game, a, B = order_two_game(n, seed)
    with pytest.warns(shapley.SamplingWarning, match="1 independent samples"):
        estimate = shapley.sample(game, 2 * n, method="antithetic", seed=seed)
    closed_form = a + (B.sum(axis=0) + B.sum(axis=1)) / 2
    # Each estimate is a mean of two sums of n differences of table values
    # bounded by M, so rounding stays below 4 n u M.
    M = float(np.abs(game.table()).max())
    np.testing.assert_allclose(estimate.values, closed_form, rtol=0, atol=4 * n * U * M)
    assert np.isnan(estimate.std_errors).all()  # one pair gives no variance estimate


def test_plain_permutations_not_exact_on_order_two_game():
    game, a, B = order_two_game(9, 0)
    with pytest.warns(shapley.SamplingWarning):
        estimate = shapley.sample(game, 2 * 9, method="permutation", seed=0)
    closed_form = a + (B.sum(axis=0) + B.sum(axis=1)) / 2
    assert np.abs(estimate.values - closed_form).max() > 1e-3


@pytest.mark.parametrize("method", ["permutation", "antithetic", "kernel"])
@pytest.mark.parametrize("n_outputs", [None, 2])
def test_efficiency_holds_exactly(method, n_outputs):
    n = 10
    shape = (2**n,) if n_outputs is None else (2**n, n_outputs)
    game = shapley.TableGame(np.random.default_rng(2).normal(size=shape))
    estimate = shapley.sample(game, 400, method=method, seed=0)
    assert estimate.values.shape == ((n,) if n_outputs is None else (n, n_outputs))
    # Permutation sums telescope to v(N) - v(empty); Kernel SHAP solves the
    # constraint with a solve of condition below 1e12.
    atol = 1e-9 if method == "kernel" else 4 * n * U * float(np.abs(game.table()).max())
    shapley.check_efficiency(game, estimate.values, atol=atol)


def null_player_game(n):
    """A random table game in which player 3 adds nothing to any coalition."""
    table = np.random.default_rng(4).normal(size=2**n)
    masks = np.arange(2**n)
    table[masks & 8 != 0] = table[masks[masks & 8 != 0] ^ 8]
    return shapley.TableGame(table)


@pytest.mark.parametrize(("method", "budget"), [("permutation", 1000), ("antithetic", 200)])
def test_null_player_gets_zero(method, budget):
    # At budget 200 with 10 players antithetic sampling enumerates no
    # strata, so every sample of player 3 is a difference of equal values.
    assert method != "antithetic" or not sampling._affordable_strata(10, budget)
    game = null_player_game(10)
    estimate = shapley.sample(game, budget, method=method, seed=1)
    result = shapley.check_null_player(game, estimate.values, atol=0.0)
    assert result.checked == (3,)
    assert estimate.std_errors[3] == 0.0


def test_antithetic_null_player_within_errors():
    # With enumerated strata each pair's efficiency gap is shared by all
    # players, so a null player gets a small estimate of mean 0.
    assert sampling._affordable_strata(10, 1000)
    estimate = shapley.sample(null_player_game(10), 1000, method="antithetic", seed=1)
    assert abs(estimate.values[3]) <= 6 * estimate.std_errors[3]


def test_exact_pair_strata_match_all_orders():
    # M[i] at fold stratum s is the mean of (c_i(pi) + c_i(reversed pi)) / 2
    # over the orders pi that put i at position s, where c_i is the marginal
    # contribution of i. The reference averages over all 6! orders.
    n = 6
    table = np.random.default_rng(12).normal(size=2**n)
    evaluate = sampling._Evaluator(shapley.TableGame(table), None)
    exact = sampling._exact_pair_strata(evaluate, n, [1, 2])
    for s in (1, 2):
        totals, counts = np.zeros(n), np.zeros(n)
        for order in itertools.permutations(range(n)):
            i = order[s]
            before = sum(1 << j for j in order[:s])
            after = sum(1 << j for j in order[s + 1:])  # the predecessors of i in the reversed order
            totals[i] += 0.5 * (table[before | 1 << i] - table[before] + table[after | 1 << i] - table[after])
            counts[i] += 1
        np.testing.assert_allclose(exact[s][:, 0], totals / counts, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_strata_keep_order_two_exactness(seed):
    # Every pair mean and every enumerated stratum mean equals phi_i on such
    # a game, and the efficiency gaps are 0 up to rounding. The rounding of
    # the samples stays below 4 n u M as in the single pair, and the shared
    # gap adds at most as much again.
    n = 9
    assert sampling._affordable_strata(n, 400)
    game, a, B = order_two_game(n, seed)
    estimate = shapley.sample(game, 400, method="antithetic", seed=seed)
    closed_form = a + (B.sum(axis=0) + B.sum(axis=1)) / 2
    M = float(np.abs(game.table()).max())
    np.testing.assert_allclose(estimate.values, closed_form, rtol=0, atol=8 * n * U * M)


@pytest.mark.parametrize("method", shapley.SAMPLING_METHODS)
@pytest.mark.parametrize("budget", [700, 1001])
def test_budget_spent_up_to_one_unit(method, budget):
    # What is left is smaller than one more sample unit: an order for
    # permutation sampling, a pair of orders for antithetic sampling, and a
    # complementary pair of coalitions for the stratified and kernel methods.
    n = 11
    game = CountingGame(np.random.default_rng(1).normal(size=2**n))
    estimate = shapley.sample(game, budget, method=method, seed=3)
    unit = {"permutation": n - 1, "antithetic": 2 * (n - 1), "stratified": 2, "kernel": 2}[method]
    assert budget - unit < game.evaluated <= budget


def tanh_model_game(n, seed):
    """The interventional game of a random tanh network n -> 16 -> 1 over 8 background rows."""
    rng = np.random.default_rng(seed)
    W1 = rng.normal(size=(n, 16)) / np.sqrt(n)
    w2 = rng.normal(size=16) / 4
    x = rng.normal(size=n)
    background = rng.normal(size=(8, n))
    return shapley.ModelGame(lambda X: np.tanh(X @ W1) @ w2, x, background)


@pytest.mark.parametrize("method", shapley.SAMPLING_METHODS)
def test_standard_errors_match_spread_over_seeds(method):
    # The root mean square of the 400 errors (40 seeds, 10 players) and of
    # the 400 reported standard errors each estimate the true spread to a
    # few percent. A factor 1.3 either way catches a standard error that
    # ignores the blocks of orders, drops the finite population correction
    # (budget 600 samples up to 68% of a class) or loses a factor 2.
    n = 10
    game = tanh_model_game(n, 0)
    phi = shapley.exact(game)
    errors, std_errors = [], []
    for seed in range(40):
        estimate = shapley.sample(game, 600, method=method, seed=seed)
        errors.append(estimate.values - phi)
        std_errors.append(estimate.std_errors)
    spread = np.sqrt(np.mean(np.square(errors)))
    reported = np.sqrt(np.mean(np.square(std_errors)))
    assert spread / 1.3 < reported < spread * 1.3


@pytest.mark.parametrize("method", shapley.SAMPLING_METHODS)
def test_estimates_within_standard_errors(method):
    # With a fixed seed, |error| <= 6 standard errors fails with probability
    # below 1e-8 per player for an unbiased, normal-looking estimate; Kernel
    # SHAP's O(1/budget) bias is far below its O(1/sqrt(budget)) spread here.
    n = 12
    game = shapley.TableGame(np.random.default_rng(5).normal(size=2**n))
    phi = shapley.exact(game)
    estimate = shapley.sample(game, 3000, method=method, seed=11)
    assert (np.abs(estimate.values - phi) <= 6 * estimate.std_errors).all()


@pytest.mark.parametrize("method", shapley.SAMPLING_METHODS)
def test_standard_errors_calibrated(method):
    # Over 30 seeds and 12 players, the mean of z**2 = (error / std error)**2
    # is near 1 when the standard errors are right; 0.5 and 2 leave room for
    # the spread of 360 correlated chi-square(1) values and small-sample t tails.
    n = 12
    game = shapley.TableGame(np.random.default_rng(6).normal(size=2**n))
    phi = shapley.exact(game)
    z = []
    for seed in range(30):
        estimate = shapley.sample(game, 3000, method=method, seed=seed)
        z.append((estimate.values - phi) / estimate.std_errors)
    mean_square = float(np.mean(np.square(z)))
    assert 0.5 < mean_square < 2.0


def test_kernel_keeps_every_player():
    # A game where only two players matter: no player is dropped, the others
    # get estimates near 0 and all n values are returned.
    n = 12
    Z = member_bits(n)
    game = shapley.TableGame(5 * Z[:, 0] + 2 * Z[:, 1] * Z[:, 2] + 0.01 * Z[:, 5])
    estimate = shapley.sample(game, 500, method="kernel", seed=0)
    assert estimate.values.shape == (n,)
    assert abs(estimate.values[5] - 0.01) < 0.01


def test_callable_game_sampled_like_table():
    n = 10
    table = np.random.default_rng(7).normal(size=2**n)
    weights = 1 << np.arange(n)
    game = shapley.CallableGame(lambda members: table[members.astype(np.int64) @ weights], n)
    a = shapley.sample(game, 500, method="antithetic", seed=2)
    b = shapley.sample(shapley.TableGame(table), 500, method="antithetic", seed=2)
    np.testing.assert_array_equal(a.values, b.values)


def test_seed_reproducible():
    game = shapley.TableGame(np.random.default_rng(8).normal(size=2**10))
    a = shapley.sample(game, 300, method="kernel", seed=5)
    b = shapley.sample(game, 300, method="kernel", seed=np.random.default_rng(5))
    np.testing.assert_array_equal(a.values, b.values)


def test_sample_bad_arguments():
    game = shapley.TableGame(np.zeros(2**5))
    with pytest.raises(ValueError, match="method must be one of"):
        shapley.sample(game, 10, method="monte carlo")
    with pytest.raises(TypeError, match="budget must be an integer"):
        shapley.sample(game, 10.5)
    with pytest.raises(ValueError, match="budget must be >= 1"):
        shapley.sample(game, 0)


@pytest.mark.parametrize("method", ["permutation", "antithetic", "kernel"])
def test_additivity_with_common_draws(method):
    # With one seed the draws depend on the coalitions only, not on v, so
    # these estimators are linear in v: estimate(v + w) = estimate(v) + estimate(w)
    # up to the rounding of sums of about n * budget terms.
    n = 11
    rng = np.random.default_rng(9)
    v = shapley.TableGame(rng.normal(size=2**n))
    w = shapley.TableGame(rng.normal(size=2**n))

    def estimate(game):
        return shapley.sample(game, 800, method=method, seed=4).values

    shapley.check_additivity(v, w, atol=1e-10, value=estimate)


def test_stratified_null_player_within_errors():
    # The stratified estimate is a difference of means of coalition values,
    # not of marginal contributions, so a null player gets a small nonzero
    # estimate. It must stay within its standard error bound.
    n = 10
    table = np.random.default_rng(4).normal(size=2**n)
    masks = np.arange(2**n)
    table[masks & 8 != 0] = table[masks[masks & 8 != 0] ^ 8]  # player 3 adds nothing
    estimate = shapley.sample(shapley.TableGame(table), 1000, method="stratified", seed=1)
    assert abs(estimate.values[3]) <= 6 * estimate.std_errors[3]


def test_stratified_enumerates_small_classes():
    # n = 8, budget 250: after v(empty), v(N), the n singletons and the n
    # complements, 232 evaluations remain, 116 complementary pairs. The even
    # share, 116 / 3 classes, covers the 28 pairs of class {2, 6}; the rest,
    # 88 / 2, covers the 35 pairs of class {4}; class {3, 5} gets the last
    # 53 of its 56 pairs.
    n = 8
    game = CountingGame(np.random.default_rng(10).normal(size=2**n))
    requested_masks = []
    inner_values = game.values

    def recording_values(masks):
        requested_masks.extend(int(m) for m in masks)
        return inner_values(masks)

    game.values = recording_values
    estimate = shapley.sample(game, 250, method="stratified", seed=0)
    sizes = np.array([bin(m).count("1") for m in set(requested_masks)])
    assert np.sum(sizes == 2) == 28
    assert np.sum(sizes == 6) == 28
    assert np.sum(sizes == 4) == 70
    assert np.sum(sizes == 3) == 53
    assert np.sum(sizes == 5) == 53
    assert len(requested_masks) == len(set(requested_masks)) == estimate.n_evaluations == 250


def test_table_only_game_sampled():
    table = np.random.default_rng(11).normal(size=2**9)

    class TableOnly:
        n_players = 9
        n_outputs = None

        def table(self):
            return table

    a = shapley.sample(TableOnly(), 300, method="antithetic", seed=1)
    b = shapley.sample(shapley.TableGame(table), 300, method="antithetic", seed=1)
    np.testing.assert_array_equal(a.values, b.values)


def spread_over_seeds(game, budget, method, seeds):
    """Return the estimates and reported standard errors over seeds 0, ..., seeds - 1."""
    values, errors = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", shapley.SamplingWarning)
        for seed in range(seeds):
            estimate = shapley.sample(game, budget, method=method, seed=seed)
            values.append(estimate.values)
            errors.append(estimate.std_errors)
    return np.array(values), np.array(errors)


@pytest.mark.parametrize("method", ["permutation", "antithetic"])
@pytest.mark.parametrize("budget", [6, 7])
def test_zero_error_only_when_exact(method, budget):
    # With 3 players a repeated order or pair costs nothing. Accepting it
    # as a replicate gave blocks of identical copies, std_errors 0 and
    # values such as [2, 9, 9] for phi = [5.33, 7.33, 7.33].
    game = shapley.TableGame([0.0, 1, 2, 5, 3, 4, 7, 20])
    phi = shapley.exact(game)
    values, errors = spread_over_seeds(game, budget, method, 40)
    zero = (errors == 0).all(axis=1)
    wrong = np.abs(values - phi).max(axis=1) > 1e-12
    assert not (zero & wrong).any()


def test_single_antithetic_pair_error_nan():
    game = shapley.TableGame([0.0, 1, 2, 5, 3, 4, 7, 20])
    with pytest.warns(shapley.SamplingWarning, match="1 independent samples"):
        estimate = shapley.sample(game, 6, method="antithetic", seed=0)
    assert np.isnan(estimate.std_errors).all()


def test_kernel_minimum_budget_error_nan():
    # At 2n + 2 Kernel SHAP samples no pair: the fit is deterministic and
    # biased, so its error cannot be 0 and is not measurable.
    n = 6
    game = shapley.TableGame(np.random.default_rng(3).standard_normal(2**n))
    with pytest.warns(shapley.SamplingWarning, match="no coalition pair"):
        estimate = shapley.sample(game, shapley.minimum_budget(n, "kernel"), method="kernel", seed=0)
    assert np.isnan(estimate.std_errors).all()


@pytest.mark.parametrize(("n", "seed"), [(6, 3), (8, 4)])
def test_kernel_errors_match_spread_small_budget(n, seed):
    # At twice the minimum budget each sampled size class contains a few
    # pairs. The linearized error was 0.35 to 0.65 of the spread here, and
    # the jackknife refit is within about 10% of it. The bounds leave room
    # for the sampling error of 300 seeds (about 4% on a standard deviation).
    game = shapley.TableGame(np.random.default_rng(seed).standard_normal(2**n))
    values, errors = spread_over_seeds(game, 2 * shapley.minimum_budget(n, "kernel"), "kernel", 300)
    spread = values.std(axis=0, ddof=1)
    reported = np.sqrt(np.mean(errors**2, axis=0))
    assert (reported > 0.8 * spread).all()
    assert (reported < 1.25 * spread).all()


def test_stratified_minimum_budget_unbiased():
    # Choosing the class estimator from the realized domain counts biased
    # the minimum-budget estimate by up to 0.7 of its standard deviation
    # on this kind of voting game, 10 standard errors of the mean over seeds.
    n = 8
    weights = np.random.default_rng(1).integers(1, 10, n)
    game = shapley.WeightedVotingGame(quota=int(weights.sum() * 0.6), weights=weights.tolist())
    phi = shapley.exact(game)
    seeds = 600
    values, errors = spread_over_seeds(game, shapley.minimum_budget(n, "stratified"), "stratified", seeds)
    spread = values.std(axis=0, ddof=1)
    bias_z = (values.mean(axis=0) - phi) / (spread / np.sqrt(seeds))
    assert (np.abs(bias_z) < 4.5).all()
    reported = np.sqrt(np.mean(errors**2, axis=0))
    assert (reported > 0.8 * spread).all()
    assert (reported < 1.25 * spread).all()
    coverage = np.mean(np.abs(values - phi) <= 1.96 * errors)
    assert coverage > 0.88


@pytest.mark.parametrize("method", ["permutation", "antithetic"])
def test_small_game_errors_match_spread(method):
    # With 4 players the orders are drawn without replacement from a
    # population of 24 (12 pairs), so the error needs the finite population
    # correction to match the spread at budget 15 of 16.
    n = 4
    game = shapley.TableGame(np.random.default_rng(7).standard_normal(2**n))
    values, errors = spread_over_seeds(game, 15, method, 400)
    spread = values.std(axis=0, ddof=1)
    reported = np.sqrt(np.nanmean(errors**2, axis=0))
    assert (reported > 0.8 * spread).all()
    assert (reported < 1.25 * spread).all()
