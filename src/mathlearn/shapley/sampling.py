"""Shapley values estimated by sampling, with standard errors and a budget.

``sample(game, budget, method)`` spends at most ``budget`` game
evaluations (coalition values v(S)); v(empty) and v(N) count as two.
A budget of at least 2**n gives the exact values from the full table,
with standard errors 0. A budget below the minimum of a method raises a
``ValueError`` that names the minimum.

Methods
-------
``"permutation"``
    Marginal contributions along uniformly random orders of the players
    (S. Castro, D. Gomez and J. Tejada, Polynomial calculation of the
    Shapley value based on sampling, Computers & Operations Research 36,
    2009). The orders come in blocks of up to n, the rows of a randomized
    Latin square, so no player takes a position twice within a block and
    a full block gives every player one contribution per coalition size.
    Each order is uniform on its own. Each order costs n - 1 evaluations.
    Minimum 2n (two orders).
``"antithetic"``
    Orders drawn in pairs (pi, reversed pi); each pair's mean is one
    sample. For v with interactions of order at most 2,
    v(S) = c + sum_i a_i [i in S] + sum_{i<j} b_ij [i, j in S], the mean over a
    pair is a_i + sum_j b_ij / 2 = phi_i, so one pair is exact. The pairs
    come in blocks of up to n - 1 from orthonormal directions (see
    ``_orthogonal_block``). A pair costs 2(n - 1) evaluations.
    Minimum 2n (one pair, standard errors NaN).
    A pair puts player i at positions s and n - 1 - s (fold stratum s).
    Strata s = 1, 2, ... next to the ends are enumerated while they cost
    at most ``EXACT_STRATA_SHARE`` of the budget, and a pair mean in such a
    stratum is replaced by the stratum's exact mean. Each pair's efficiency
    gap then has mean 0, and every player gets 1/n of it subtracted, so
    the estimate stays unbiased, linear in v, efficient and exact for
    interactions of order at most 2. A null player then gets a small
    estimate of mean 0 instead of exactly 0.
``"stratified"``
    phi_i = (1/n) sum_s (E[v(S) | i in S, |S| = s + 1] - E[v(S) | i not in S,
    |S| = s]), so every coalition value serves all n players (stratified
    SVARM: P. Kolpaczki, V. Bengs, M. Muschalik and E. Huellermeier,
    Approximating the Shapley value without marginal contributions, AAAI
    2024). Coalitions are drawn in complementary pairs (S, N minus S)
    without replacement, in equal numbers for each class {k, n - k},
    k = 2, ..., n // 2. A class that its share covers is enumerated.
    Classes 0 and 1 are evaluated exactly. The additive game with
    a_i = (v({i}) - v(empty) + v(N) - v(N minus {i})) / 2, whose Shapley
    values are a, is a control variate: the method estimates phi(v - w) + a.
    A null player gets a small nonzero estimate, within its standard
    error. Minimum 2 + 2n plus min(n, P_k) pairs for each class, where
    P_k is the number of pairs the class holds.
``"kernel"``
    Kernel SHAP (S. M. Lundberg and S.-I. Lee, A unified approach to
    interpreting model predictions, NeurIPS 2017): the weighted least
    squares fit of v(S) - v(empty) by sum_{i in S} phi_i with the Shapley
    kernel weights, with efficiency sum_i phi_i = v(N) - v(empty) imposed
    exactly through a Lagrange multiplier and every player kept (no
    feature selection). Coalition sizes whose expected sample count covers
    all their coalitions are enumerated; the others are sampled in
    complementary pairs (S, N minus S) without replacement (I. Covert and
    S.-I. Lee, Improving KernelSHAP, AISTATS 2021), with the number of
    pairs of each size class {k, n - k} fixed in proportion to its kernel
    weight. Sizes 1 and n - 1 are always enumerated, so the minimum is
    2n + 2.

Every method evaluates each distinct coalition once. Permutation and
antithetic sampling keep drawing orders while repeated prefixes leave
budget, up to 50 orders per unit of budget. A repeated order or pair is
skipped, so the kept ones are distinct. Whether an order is kept
depends on its coalitions, not on v. The stratified and kernel methods
spend the budget to within one evaluation.

Standard errors are the standard deviation of the mean. For permutation
and antithetic sampling they come from the spread between the
independent blocks of orders, and the blocks shrink at small budgets so
that there are at least ``MIN_BLOCKS`` of them. For ``"stratified"``
they add the per-stratum variances, and for ``"kernel"`` they come from
a delete-one-pair jackknife of the constrained least squares solution
within each size class. All four apply the finite population
correction of sampling without replacement. They measure the sampling
spread, not the O(1/budget) bias of Kernel SHAP.

A standard error is 0 when the sampled part is the whole population
(every order drawn, every class enumerated) and the estimate is exact,
or when all samples of a player agree, as for a null player. With few
samples the latter also happens to players whose samples could differ,
for example in voting games. It is NaN when the sampled part gives
fewer than two independent samples, and for Kernel SHAP at its minimum
budget, where no pair is sampled. ``SamplingWarning`` is issued when
permutation or antithetic errors rest on fewer than ``MIN_BLOCKS``
independent samples, and when Kernel SHAP samples at most
one pair of some size class. The errors are then unreliable.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .._validation import as_generator, check_choice, check_int
from .exact import exact, full_table, game_shape
from .games import MAX_EXACT_PLAYERS, TableGame

SAMPLING_METHODS = ("permutation", "antithetic", "stratified", "kernel")


@dataclass(frozen=True)
class Estimate:
    """Estimated Shapley values.

    Attributes
    ----------
    values : ndarray, shape (n,) or (n, m), float64
    std_errors : ndarray, same shape as ``values``
        Standard deviation of each estimate: 0 for exact values and for
        players whose samples all agree, NaN when the samples give no
        variance estimate (see the module documentation).
    n_evaluations : int
        Game evaluations spent, at most the budget.
    method : str
    """

    values: np.ndarray
    std_errors: np.ndarray
    n_evaluations: int
    method: str


class SamplingWarning(UserWarning):
    """Warning that a sampled estimate or its standard errors are known to be unreliable.

    ``sample`` issues it in two cases. The first is standard errors that
    rest on fewer than ``MIN_BLOCKS`` independent samples: normal 95%
    intervals then cover well below 95%, and a player whose few samples
    agree gets a standard error of 0. The second is Kernel SHAP sampling no
    pair, or a single pair, of some size class. Raising the budget removes it.
    """


def _warn_unreliable(message):
    # stacklevel 4 points at the caller of sample(): _warn_unreliable <- method <- sample <- caller.
    warnings.warn(message + " Raise the budget for reliable standard errors.", SamplingWarning, stacklevel=4)


def minimum_budget(n_players: int, method: str) -> int:
    """Return the smallest budget that ``sample`` accepts for ``method`` on n players."""
    n = n_players
    check_choice(method, "method", SAMPLING_METHODS)
    if n <= 2:
        return 2**n
    if method in ("permutation", "antithetic"):
        return 2 * n
    if method == "stratified":
        return _stratified_minimum(n)
    return 2 * n + 2


def _budget_hint(n_players: int, method: str, minimum: int) -> str:
    """Return the advice for a budget below ``minimum``: raise it, or a method that needs less."""
    others = {other: minimum_budget(n_players, other) for other in SAMPLING_METHODS if other != method}
    cheapest = min(others, key=others.get)
    if others[cheapest] < minimum:
        return (
            f"Raise the budget to {minimum} or choose method={cheapest!r} "
            f"(minimum {others[cheapest]})."
        )
    return f"Raise the budget to {minimum}."


def sample(game, budget, method: str = "antithetic", seed=None) -> Estimate:
    """Estimate the Shapley values of a game from at most ``budget`` evaluations.

    Parameters
    ----------
    game : Game
        Any game of this package or an object with ``n_players``,
        ``n_outputs`` and ``values(masks)``.
    budget : int
        Maximum number of coalition values v(S) to evaluate.
    method : {"antithetic", "permutation", "stratified", "kernel"}
        See the module documentation.
    seed : None, int or numpy.random.Generator

    Returns
    -------
    Estimate
        ``values`` and ``std_errors`` of shape (n,) or (n, m).

    Raises
    ------
    ValueError
        If ``budget`` is below ``minimum_budget(n, method)``; the message
        names that minimum.
    """
    check_choice(method, "method", SAMPLING_METHODS)
    n, n_outputs = game_shape(game)
    if isinstance(game, TableGame):
        game.check_finite()
    budget = check_int(budget, "budget", minimum=1)
    rng = as_generator(seed)
    if n <= MAX_EXACT_PLAYERS and budget >= 2**n:
        phi = exact(game)
        return Estimate(phi, np.zeros_like(phi), 2**n, method)
    minimum = minimum_budget(n, method)
    if budget < minimum:
        raise ValueError(
            f"budget must be at least {minimum} game evaluations for method={method!r} with "
            f"{n} players; got {budget}. {_budget_hint(n, method, minimum)}"
        )
    evaluate = _Evaluator(game, n_outputs)
    if method == "permutation":
        phi, se = _permutation(evaluate, n, budget, rng, antithetic=False)
    elif method == "antithetic":
        phi, se = _permutation(evaluate, n, budget, rng, antithetic=True)
    elif method == "stratified":
        phi, se = _stratified(evaluate, n, budget, rng)
    else:
        phi, se = _kernel(evaluate, n, budget, rng)
    if n_outputs is None:
        phi, se = phi[:, 0], se[:, 0]
    return Estimate(phi, se, evaluate.count, method)


class _Evaluator:
    """Evaluate a game at masks as a float64 array, each distinct coalition once.

    ``count`` is the number of distinct coalitions evaluated so far, the
    quantity that the budget limits. Values are cached, so a coalition
    drawn again costs nothing.
    """

    def __init__(self, game, n_outputs):
        self.game = game
        self.width = 1 if n_outputs is None else n_outputs
        self.cache: dict[int, np.ndarray] = {}

    @property
    def count(self) -> int:
        return len(self.cache)

    def _values(self, masks: np.ndarray) -> np.ndarray:
        if hasattr(self.game, "values"):
            return self.game.values(masks)
        # A game that offers only table() is read from its checked full table.
        n, n_outputs = game_shape(self.game)
        return full_table(self.game, n, n_outputs)[masks]

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        """Return v at ``masks`` (any shape) as an array of shape ``masks.shape + (width,)``."""
        masks = np.ascontiguousarray(masks, dtype=np.int64)
        unique, inverse = np.unique(masks.ravel(), return_inverse=True)
        new = np.array([m for m in unique.tolist() if m not in self.cache], dtype=np.int64)
        if new.size:
            out = np.asarray(self._values(new), dtype=np.float64).reshape(new.size, self.width)
            self.cache.update(zip(new.tolist(), out))
        table = np.array([self.cache[m] for m in unique.tolist()]).reshape(unique.size, self.width)
        return table[inverse].reshape(masks.shape + (self.width,))


def _ends(evaluate, n):
    v = evaluate(np.array([0, (1 << n) - 1], dtype=np.int64))
    return v[0], v[1]


# Minimum number of independent blocks of orders that permutation and
# antithetic sampling aim for. The standard error from B blocks gives a t
# statistic with B - 1 degrees of freedom, whose tails are heavy for small B.
MIN_BLOCKS = 8

# Stop drawing once this many samples in a row brought no new coalition:
# the coalitions that the method can draw are then nearly all cached.
MAX_FREE_DRAWS = 10_000


def _accept_within_budget(seen, accepted_keys, rows, keys, budget_left):
    """Return the indices of the rows accepted within ``budget_left`` new coalitions, the budget left, and whether the scan stopped.

    Rows are scanned in order and the scan stops at the first row whose
    masks not yet in ``seen`` do not fit. A row whose key is already in
    ``accepted_keys`` repeats an accepted order: it costs nothing but
    carries no new information, so it is skipped rather than counted as
    an independent replicate. ``seen`` and ``accepted_keys`` are updated
    in place.
    """
    accepted = []
    free_streak = 0
    stopped = False
    for index, (row, key) in enumerate(zip(rows, keys)):
        if key in accepted_keys:
            fresh = set()
        else:
            fresh = {m for m in row.tolist() if m not in seen}
            if len(fresh) > budget_left:
                stopped = True
                break
            seen.update(fresh)
            accepted_keys.add(key)
            budget_left -= len(fresh)
            accepted.append(index)
        free_streak = 0 if fresh else free_streak + 1
        if free_streak >= MAX_FREE_DRAWS:
            stopped = True
            break
    return np.array(accepted, dtype=np.int64), budget_left, stopped


def _unit_keys(units):
    """Return a hashable key per unit that is equal for equal orders or equal antithetic pairs."""
    forward = units[:, 0, :]
    if units.shape[1] == 1:
        return [row.tobytes() for row in forward]
    backward = forward[:, ::-1]
    return [min(f.tobytes(), b.tobytes()) for f, b in zip(forward, backward)]


def _latin_block(rng, n, size):
    """Return ``size`` <= n orders, shape (size, 1, n), in which no player takes a position twice.

    The positions are ``size`` rows of the Latin square
    pos[k, i] = c[(a_k + b_i) mod n] with the rows a, the columns b and
    the symbols c permuted at random, so each order alone is uniform over
    the n! orders. With size = n every player takes every position once.
    """
    a, b, c = rng.permutation(n)[:size], rng.permutation(n), rng.permutation(n)
    position = c[(a[:, None] + b[None, :]) % n]
    return np.argsort(position, axis=1)[:, None, :]


def _orthogonal_block(rng, n, size):
    """Return ``size`` <= n - 1 antithetic pairs of orders, shape (size, 2, n), from orthogonal directions.

    An order is read off a direction x in the plane sum(x) = 0 by sorting
    the players by x_i, so -x gives the reversed order. The ``size``
    directions are a uniformly random orthonormal set in that plane
    (permutations from the sphere S^(n-2), R. Mitchell, J. Cooper, E. Frank and
    G. Holmes, Sampling permutations for Shapley value estimation, JMLR
    23, 2022). Each pair alone is a uniform order and its reverse.
    """
    G = rng.normal(size=(n, size))
    G -= G.mean(axis=0)
    Q, R = np.linalg.qr(G)
    Q *= np.sign(np.diag(R))  # sign fix that makes the basis Haar-distributed
    directions = Q.T
    forward = np.argsort(directions, axis=1)
    return np.stack([forward, forward[:, ::-1]], axis=1)


def _permutation(evaluate, n, budget, rng, antithetic):
    v_empty, v_full = _ends(evaluate, n)
    strata = _affordable_strata(n, budget) if antithetic else []
    exact_strata = _exact_pair_strata(evaluate, n, strata) if strata else {}
    seen = set(evaluate.cache)
    budget_left = budget - evaluate.count
    make_block = _orthogonal_block if antithetic else _latin_block
    # With strata 1, ..., m enumerated, prefixes of sizes up to m + 1 and
    # from n - m - 1 are cached, so an order costs at most n - 3 - 2m.
    order_cost = n - 1
    if exact_strata:
        order_cost -= 2 * max(exact_strata) + 2
    unit_cost = (2 if antithetic else 1) * order_cost
    # The standard error comes from the spread between blocks, so blocks
    # shrink at small budgets to leave at least MIN_BLOCKS of them.
    # unit_cost ignores other cached prefixes, so there are usually more.
    largest = n - 1 if antithetic else n
    block_size = int(min(largest, max(1, budget_left // (unit_cost * MIN_BLOCKS))))

    accepted_units, accepted_blocks = [], []
    accepted_keys: set[bytes] = set()
    n_drawn = 0
    # Draw whole blocks until the budget of distinct coalitions is spent;
    # repeated prefixes (small and large coalitions recur) cost nothing.
    # A repeated unit is skipped, so the accepted units are distinct and
    # form a sample without replacement from the n! orders (n!/2 pairs).
    while budget_left >= 1 and n_drawn < 50 * budget:
        n_blocks = budget_left // (unit_cost * block_size) + 1
        units = np.concatenate([make_block(rng, n, block_size) for _ in range(n_blocks)])
        prefixes = np.bitwise_or.accumulate(np.int64(1) << units, axis=2)[:, :, :-1]
        accepted, budget_left, stopped = _accept_within_budget(
            seen, accepted_keys, prefixes.reshape(units.shape[0], -1), _unit_keys(units), budget_left
        )
        accepted_units.append(units[accepted])
        accepted_blocks.append((n_drawn + accepted) // block_size)
        n_drawn += units.shape[0]
        if stopped:
            break

    units = np.concatenate(accepted_units)  # (units, orders per unit, n)
    n_units, per_unit = units.shape[:2]
    orders = units.reshape(n_units * per_unit, n)
    prefixes = np.bitwise_or.accumulate(np.int64(1) << orders, axis=1)
    inner = evaluate(prefixes[:, :-1])  # the last prefix is N
    chain = np.concatenate(
        [np.broadcast_to(v_empty, (orders.shape[0], 1, evaluate.width)), inner,
         np.broadcast_to(v_full, (orders.shape[0], 1, evaluate.width))],
        axis=1,
    )

    contributions = np.diff(chain, axis=1)
    per_order = np.empty_like(contributions)
    rows = np.arange(orders.shape[0])[:, None]
    per_order[rows, orders] = contributions  # per_order[k, i] is the contribution of i in order k
    per_unit_mean = per_order.reshape(n_units, per_unit, n, evaluate.width).mean(axis=1)
    if exact_strata:
        # A player's pair mean at fold stratum s is replaced by its expectation
        # M_i(s), which the enumeration gives exactly. Each order is uniform, so
        # the estimate stays unbiased and loses the within-stratum variance.
        position = np.argsort(units[:, 0, :], axis=1)  # position[u, i] in the forward order
        fold = np.minimum(position, n - 1 - position)
        for s, M in exact_strata.items():
            hit = fold == s
            per_unit_mean[hit] = np.broadcast_to(M, per_unit_mean.shape)[hit]
        per_unit_mean = _restore_efficiency(per_unit_mean, v_full - v_empty)
    # Distinct units are drawn without replacement from a population of
    # n! orders (n!/2 pairs), so the variance carries the finite population
    # correction. It is 0 when every order was drawn and the mean is exact.
    population = math.factorial(n) // (2 if antithetic else 1)
    blocks = np.concatenate(accepted_blocks)
    mean, error = _cluster_mean_and_error(per_unit_mean, blocks)
    n_samples = np.unique(blocks).size if np.unique(blocks).size >= 2 else n_units
    if n_samples < MIN_BLOCKS and n_units < population:
        _warn_unreliable(f"The standard errors rest on {n_samples} independent samples (fewer than {MIN_BLOCKS}).")
    return mean, error * math.sqrt(max(0.0, 1.0 - n_units / population))


def _restore_efficiency(samples, total):
    """Subtract from each player 1/n of the efficiency gap of its pair.

    After the exact strata replace some pair means, the gap
    g_u = sum_i samples[u, i] - total is no longer 0 but has expectation 0.
    Subtracting g_u / n from every player keeps the estimate unbiased and
    linear in v, and makes the players' samples sum to ``total`` in every
    pair (efficiency). A null player then gets a small nonzero estimate,
    within its standard error.
    """
    gap = samples.sum(axis=1) - total  # (units, width)
    return samples - gap[:, None, :] / samples.shape[1]


# Largest share of the budget that antithetic sampling spends on
# enumerating the fold strata next to the ends. This was measured on
# tanh network games with 10 to 14 players, over 60 to 100 seeds each.
# Strata costing up to 40% of the budget lowered the mean squared error
# by 11 to 51% in 7 of 8 cases and left it unchanged in one. Strata
# costing 42% and 47% of the budget raised it by 17% and about 25%.
# NOTE: the best share depends on the game, and 0.3 is a margin below
# the measured break-even, not an optimum.
EXACT_STRATA_SHARE = 0.3


def _affordable_strata(n, budget):
    """Return the fold strata 1, ..., m whose coalitions fit in ``EXACT_STRATA_SHARE`` of the budget.

    Fold stratum s contains positions s and n - 1 - s of an order, and its pair
    contributions use coalitions of sizes s, s + 1, n - 1 - s and n - s.
    Enumerating strata 1 to m costs every coalition of sizes 1 to m + 1 and
    n - m - 1 to n - 1. Only strata with s + 1 < n - 1 - s are taken, so
    the middle of the order is always sampled.
    """
    strata = []
    cost = 2 * n  # sizes 1 and n - 1
    s = 1
    while s + 1 < n - 1 - s:
        cost += 2 * math.comb(n, s + 1)
        if cost > EXACT_STRATA_SHARE * budget:
            break
        strata.append(s)
        s += 1
    return strata


def _exact_pair_strata(evaluate, n, strata):
    """Return {s: M} with M[i] the mean pair contribution of player i at fold stratum s.

    The pair contribution of i with predecessors T (|T| = s) is
    (v(T + i) - v(T) + v(N - T) - v(N - T - i)) / 2, the mean over the
    orders pi and reversed pi that put i at positions s and n - 1 - s.
    M[i] is its mean over every T of size s without i. The differences are
    taken before the mean, so a null player gets exactly 0.
    """
    full = (1 << n) - 1
    # Sizes 1 and n - 1 are evaluated even without strata, as the cost in
    # _affordable_strata assumes.
    singles = np.int64(1) << np.arange(n, dtype=np.int64)
    evaluate(np.concatenate([singles, full ^ singles]))
    exact = {}
    for s in strata:
        T = _masks_of_size(n, s)
        M = np.empty((n, evaluate.width))
        for i in range(n):
            bit = np.int64(1) << i
            Ti = T[(T & bit) == 0]
            v = evaluate(np.stack([Ti | bit, Ti, full ^ Ti, full ^ Ti ^ bit], axis=1))
            M[i] = (0.5 * ((v[:, 0] - v[:, 1]) + (v[:, 2] - v[:, 3]))).mean(axis=0)
        exact[s] = M
    return exact


def _cluster_mean_and_error(samples, cluster):
    """Return the mean of ``samples`` over axis 0 and its standard error from whole clusters.

    The units of one block are dependent by design, and the blocks are
    independent. The error is the linearization (ratio) estimator over
    the blocks, which allows a last block cut short. With one block it
    falls back to the spread of the units.
    """
    count = samples.shape[0]
    mean = samples.mean(axis=0)
    labels, index = np.unique(cluster, return_inverse=True)
    n_clusters = labels.size
    if n_clusters < 2:
        # NOTE: this treats the units of the block as independent. The
        # balanced blocks are built to make them negatively correlated, so
        # the error is then expected to be an overestimate, not a bound.
        return _mean_and_error(samples)
    totals = np.zeros((n_clusters,) + samples.shape[1:])
    np.add.at(totals, index, samples - mean)
    variance = n_clusters / (n_clusters - 1) * np.sum(totals**2, axis=0) / count**2
    return mean, np.sqrt(variance)


def _mean_and_error(samples):
    count = samples.shape[0]
    mean = samples.mean(axis=0)
    if count < 2:
        return mean, np.full_like(mean, np.nan)
    return mean, samples.std(axis=0, ddof=1) / math.sqrt(count)


def _pair_populations(n):
    """Return the number of complementary pairs (S, N minus S) with |S| = k, for k = 0, ..., n // 2."""
    return [math.comb(n, k) // (2 if 2 * k == n else 1) for k in range(n // 2 + 1)]


def _even_allocation(total, populations):
    """Split ``total`` pairs evenly over classes, none above its population (water filling)."""
    counts = np.zeros(len(populations), dtype=np.int64)
    open_classes = sorted(range(len(populations)), key=lambda c: populations[c])
    left = total
    while open_classes:
        share = left // len(open_classes)
        smallest = open_classes[0]
        if populations[smallest] <= share:
            counts[smallest] = populations[smallest]
            left -= populations[smallest]
            open_classes.pop(0)
            continue
        counts[open_classes] = share
        for c in open_classes[: left - share * len(open_classes)]:
            counts[c] += 1
        break
    return counts


def _stratified_minimum(n):
    populations = _pair_populations(n)
    return 2 + 2 * n + sum(2 * min(n, populations[k]) for k in range(2, n // 2 + 1))


def _stratified(evaluate, n, budget, rng):
    v_empty, v_full = _ends(evaluate, n)
    players = np.arange(n, dtype=np.int64)
    full = (1 << n) - 1
    singles = evaluate(np.int64(1) << players)
    all_but = evaluate(full ^ (np.int64(1) << players))

    # Control variate: the additive game w(S) = sum_{j in S} a_j has phi(w) = a,
    # so phi(v) = phi(v - w) + a for any fixed a. The a_j below are fixed by
    # the exactly evaluated strata s = 0 and s = n - 1, and r = v - w keeps
    # only the part of v that is not additive.
    a = 0.5 * ((singles - v_empty) + (v_full - all_but))

    def residual(masks):
        return evaluate(masks) - _members(masks, n) @ a

    # Class 0 is the pair (empty, N) and class 1 the pairs ({j}, N minus {j}),
    # all evaluated already. A pair contributes r(T) - r(N minus T) to
    # player i, where T is the member of the pair that contains i.
    r_empty, r_full = v_empty, v_full - a.sum(axis=0)
    r_single, r_all_but = singles - a, all_but - (a.sum(axis=0) - a)
    swapped = r_all_but - r_single
    total = (r_full - r_empty) + (r_single - r_all_but) + (swapped.sum(axis=0) - swapped) / (n - 1)
    variance = np.zeros_like(total)

    populations = _pair_populations(n)
    counts = _even_allocation((budget - 2 - 2 * n) // 2, populations[2:])
    for k, count in zip(range(2, n // 2 + 1), counts.tolist()):
        S = _distinct_subsets(rng, n, k, count)
        pair_r = residual(np.stack([S, full ^ S], axis=1))
        inside = _members(S, n).astype(bool)  # inside[p, i]: player i is in S_p
        sign = np.where(inside, 1.0, -1.0)[:, :, None]
        d = sign * (pair_r[:, 0] - pair_r[:, 1])[:, None, :]  # d[p, i] = r(T) - r(N minus T)
        fraction_left = 1.0 - count / populations[k]  # finite population correction
        domains = [np.ones_like(inside)] if 2 * k == n else [inside, ~inside]
        for i in range(n):
            mean, var = _class_term(d[:, i], [domain[:, i] for domain in domains], n, k, count)
            total[i] += mean
            variance[i] += fraction_left * var
    return total / n + a, np.sqrt(variance) / n


# Expected number of pairs in each domain of a class (pairs whose S contains
# the player, pairs whose S does not) from which the class term is the sum of
# the two domain means. The choice then depends on the design alone, and a
# domain with fewer than two pairs, which would need the other estimator,
# has probability below 1e-3 (hypergeometric tail at mean 10).
MIN_DOMAIN_PAIRS = 10


def _class_term(d, domains, n, k, count):
    """Return the estimate of one player's class term and its variance, before the correction.

    The class term is the sum over the domains of the mean of d in the
    domain. With at least ``MIN_DOMAIN_PAIRS`` pairs expected in each
    domain it is estimated by the domain means (post-stratification).
    Below that it is estimated by inverse inclusion probabilities over all
    ``count`` pairs of the class, which is unbiased whatever the domain
    counts turn out to be.
    """
    counts = [int(domain.sum()) for domain in domains]
    expected = [count] if len(domains) == 1 else [count * k / n, count * (n - k) / n]
    if min(expected) >= MIN_DOMAIN_PAIRS and min(counts) >= 2:
        mean = sum(d[domain].mean(axis=0) for domain in domains)
        var = sum(d[domain].var(axis=0, ddof=1) / c for domain, c in zip(domains, counts))
        return mean, var
    inside = domains[0]
    y = d * np.where(inside, n / k, n / (n - k))[:, None] if len(domains) == 2 else d
    if y.shape[0] < 2:
        return y.mean(axis=0), np.full(y.shape[1:], np.nan)
    return y.mean(axis=0), y.var(axis=0, ddof=1) / y.shape[0]


def _kernel(evaluate, n, budget, rng):
    v_empty, v_full = _ends(evaluate, n)
    full = (1 << n) - 1
    sizes = np.arange(1, n)
    mass = (n - 1) / (sizes * (n - sizes))
    mass = mass / mass.sum()  # p_s, the kernel's total weight on coalitions of size s

    # Enumerate size pairs (k, n - k) while sampling would be expected to
    # draw at least as many coalitions as they hold (the border rule).
    left = budget - 2
    enumerated = []
    open_sizes = set(range(1, n))
    for k in range(1, n // 2 + 1):
        pair = {k, n - k}
        count = sum(math.comb(n, s) for s in pair)
        remaining = sum(mass[s - 1] for s in open_sizes)
        expected = left * sum(mass[s - 1] for s in pair) / remaining
        # Sizes 1 and n - 1 are always enumerated (the minimum budget covers
        # them), so the system is nonsingular whatever the draw.
        if k > 1 and (count > left or expected < count):
            break
        enumerated.extend(sorted(pair))
        open_sizes -= pair
        left -= count

    rows, weights = [], []
    for s in enumerated:
        masks = _masks_of_size(n, s)
        rows.append(masks)
        weights.append(np.full(masks.shape[0], mass[s - 1] / math.comb(n, s)))
    Z_enum = _members(np.concatenate(rows), n) if rows else np.zeros((0, n))
    w_enum = np.concatenate(weights) if weights else np.zeros(0)
    v_enum = evaluate(np.concatenate(rows)) - v_empty if rows else np.zeros((0, evaluate.width))

    # The sizes left are sampled in complementary pairs (S, N minus S),
    # stratified by the class {k, n - k} of |S|: class k gets a number of
    # pairs c_k proportional to its kernel mass, which removes the spread
    # of random per-size counts. Each coalition of class k then carries the
    # weight omega_k = (mass of the class) / (2 c_k).
    classes = sorted({min(s, n - s) for s in open_sizes})
    class_mass = np.array([sum(mass[s - 1] for s in {k, n - k}) for k in classes])
    n_pairs = left // 2 if classes else 0
    counts = _largest_remainder(n_pairs, class_mass) if n_pairs else np.zeros(len(classes), dtype=np.int64)
    # Pairs are drawn without replacement, so every pair costs two new
    # evaluations. A class is never asked for more pairs than it holds.
    populations = np.array([_pair_populations(n)[k] for k in classes], dtype=np.int64)
    counts = np.minimum(counts, populations)
    n_pairs = int(counts.sum())
    S = np.concatenate(
        [_distinct_subsets(rng, n, k, int(c)) for k, c in zip(classes, counts)] + [np.zeros(0, dtype=np.int64)]
    )
    pair_masks = np.stack([S, full ^ S], axis=1)
    pair_class = np.repeat(np.arange(len(classes)), counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        omega_class = np.where(counts > 0, class_mass / (2 * counts), 0.0)
    omega = omega_class[pair_class]  # per pair, for each of its two coalitions
    if n_pairs:
        v_pairs = evaluate(pair_masks) - v_empty  # (pairs, 2, width)
        Z_pairs = _members(pair_masks, n)  # (pairs, 2, n)
    else:
        v_pairs = np.zeros((0, 2, evaluate.width))
        Z_pairs = np.zeros((0, 2, n))

    # A = sum omega z z^T and b = sum omega z v0 over enumerated and sampled coalitions.
    Zw = Z_pairs * omega[:, None, None]
    A = (Z_enum * w_enum[:, None]).T @ Z_enum + np.einsum("pkn,pkj->nj", Zw, Z_pairs)
    b = (Z_enum * w_enum[:, None]).T @ v_enum + np.einsum("pkn,pkw->nw", Zw, v_pairs)
    KKT = np.zeros((n + 1, n + 1))
    KKT[:n, :n] = A
    KKT[:n, n] = 1.0
    KKT[n, :n] = 1.0
    if np.linalg.cond(KKT) > 1e12:
        raise ValueError(
            f"budget of {budget} evaluations left the Kernel SHAP system singular for {n} "
            f"players, because the sampled coalitions do not determine every phi_i. Raise the "
            f"budget or use another seed."
        )
    inverse_kkt = np.linalg.inv(KKT)
    rhs = np.vstack([b, (v_full - v_empty)[None, :]])
    phi = (inverse_kkt @ rhs)[:n]

    if n_pairs == 0:
        # Every sampled size was left out, so phi is a deterministic fit whose
        # error (bias) the coalitions cannot measure.
        _warn_unreliable("Kernel SHAP sampled no coalition pair, so its estimate is a biased fit and std_errors are NaN.")
        return phi, np.full_like(phi, np.nan)
    if (counts == 1).any():
        _warn_unreliable("Kernel SHAP sampled a single pair in some size class, which underestimates the standard errors.")
    if n_pairs == 1:
        return phi, np.full_like(phi, np.nan)
    variance = _kernel_jackknife_variance(
        KKT, rhs, Z_pairs, v_pairs, pair_class, counts, populations, class_mass, omega_class
    )
    return phi, np.sqrt(variance)


def _kernel_jackknife_variance(KKT, rhs, Z_pairs, v_pairs, pair_class, counts, populations, class_mass, omega):
    """Return the stratified delete-one-pair jackknife variance of the Kernel SHAP solution.

    Deleting pair u of class k refits phi with the other c_k - 1 pairs of
    the class, each weighted by (mass of the class) / (2 (c_k - 1)). Within
    class k, Var = (1 - c_k / P_k) (c_k - 1) / c_k sum_u (phi_(-u) -
    mean phi_(-u))**2. A first-order linearization uses fitted residuals,
    which shrink with each pair's leverage, and gave 0.35 to 0.65 of the
    spread over seeds at a few pairs per class, but the refit does not
    shrink. A class with one pair has no
    within-class spread and gets the pooled linearization of all pairs.
    """
    n = Z_pairs.shape[2]
    a_pair = np.einsum("pkn,pkj->pnj", Z_pairs, Z_pairs)  # sum of z z^T over the two coalitions
    b_pair = np.einsum("pkn,pkw->pnw", Z_pairs, v_pairs)
    variance = np.zeros((n, v_pairs.shape[2]))
    lonely = []
    for k, count in enumerate(counts.tolist()):
        members = np.flatnonzero(pair_class == k)
        if count == 0:
            continue
        if count == 1:
            lonely.append(k)
            continue
        reweight = class_mass[k] / (2 * (count - 1))
        A_k, b_k = a_pair[members].sum(axis=0), b_pair[members].sum(axis=0)
        systems = np.broadcast_to(KKT, (count,) + KKT.shape).copy()
        systems[:, :n, :n] += (reweight - omega[k]) * A_k - reweight * a_pair[members]
        right = np.broadcast_to(rhs, (count,) + rhs.shape).copy()
        right[:, :n] += (reweight - omega[k]) * b_k - reweight * b_pair[members]
        phi_deleted = np.linalg.solve(systems, right)[:, :n]
        spread = ((phi_deleted - phi_deleted.mean(axis=0)) ** 2).sum(axis=0)
        variance += (1.0 - count / populations[k]) * (count - 1) / count * spread
    if lonely:
        # Linearization: pair u moves phi by omega_u M r_u, with M the top-left
        # block of the inverse KKT matrix and r_u the weighted residual of u.
        inverse_kkt = np.linalg.inv(KKT)
        phi = (inverse_kkt @ rhs)[:n]
        residual = v_pairs - np.einsum("pkn,nw->pkw", Z_pairs, phi)
        r = np.einsum("pkn,pkw->pnw", Z_pairs, residual)
        pooled = np.einsum("ij,pjw->piw", inverse_kkt[:n, :n], r).var(axis=0, ddof=1)
        for k in lonely:
            variance += (1.0 - 1 / populations[k]) * omega[k] ** 2 * pooled
    return variance


def _largest_remainder(total, shares):
    """Split the integer ``total`` in proportion to ``shares`` by the largest-remainder rule."""
    exact = total * shares / shares.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - int(counts.sum())]] += 1
    return counts


def _members(masks, n):
    return ((masks[..., None] >> np.arange(n, dtype=np.int64)) & 1).astype(np.float64)


def _masks_of_size(n, s):
    from itertools import combinations

    masks = [sum(1 << i for i in c) for c in combinations(range(n), s)]
    return np.array(masks, dtype=np.int64)


def _distinct_subsets(rng, n, k, count):
    """Return ``count`` distinct uniform random k-subsets of N as masks, drawn without replacement.

    For 2k = n a subset and its complement form the same pair, so the
    draws are distinct up to complement. ``count`` must not exceed the
    population, ``_pair_populations(n)[k]``.
    """
    weights = np.int64(1) << np.arange(n, dtype=np.int64)
    full = (1 << n) - 1
    chosen: dict[int, None] = {}  # keeps the order of the draws
    while len(chosen) < count:
        needed = count - len(chosen)
        keys = rng.random((needed + needed // 4 + 8, n))
        ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
        for S in ((ranks < k).astype(np.int64) @ weights).tolist():
            key = min(S, full ^ S) if 2 * k == n else S
            if key not in chosen:
                chosen[key] = None
                if len(chosen) == count:
                    break
    return np.fromiter(chosen, dtype=np.int64, count=count)


__all__ = ["Estimate", "SAMPLING_METHODS", "SamplingWarning", "minimum_budget", "sample"]
