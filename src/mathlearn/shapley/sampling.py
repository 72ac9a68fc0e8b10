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
    2009). Each order costs n - 1 evaluations. Minimum 2n (two orders).
``"antithetic"``
    Orders drawn in pairs (pi, reversed pi); each pair's mean is one
    sample. For v with interactions of order at most 2,
    v(S) = c + sum_i a_i [i in S] + sum_{i<j} b_ij [i, j in S], the mean over a
    pair is a_i + sum_j b_ij / 2 = phi_i, so one pair is exact. A pair
    costs 2(n - 1) evaluations. Minimum 2n (one pair, standard errors NaN).
``"stratified"``
    phi_i = (1/n) sum_s E[v(S u {i}) - v(S)] over S of size s drawn
    uniformly from N minus {i} (J. Maleki et al., Bounding the estimation
    error of sampling-based Shapley value approximation, arXiv:1306.4265,
    2013). The strata s = 0 and s = n - 1 are computed exactly, and so are
    the pairs {k, n - 1 - k} from the ends inward while enumerating them
    costs no more than sampling would spend on them. The
    others share half of the budget evenly (at least two samples each)
    and the rest in proportion to their estimated standard deviations
    (Neyman allocation).
    Minimum 2 + 2n + 4 n (n - 2).
``"kernel"``
    Kernel SHAP (S. M. Lundberg and S.-I. Lee, A unified approach to
    interpreting model predictions, NeurIPS 2017): the weighted least
    squares fit of v(S) - v(empty) by sum_{i in S} phi_i with the Shapley
    kernel weights, with efficiency sum_i phi_i = v(N) - v(empty) imposed
    exactly through a Lagrange multiplier and every player kept (no
    feature selection). Coalition sizes whose expected sample count covers
    all their coalitions are enumerated; the others are sampled in
    complementary pairs (S, N minus S) (I. Covert and S.-I. Lee, Improving
    KernelSHAP, AISTATS 2021), with the number of pairs of each size class
    {k, n - k} fixed in proportion to its kernel weight. Sizes 1 and n - 1
    are always enumerated, so the minimum is 2n + 2.

Every method evaluates each distinct coalition once. Permutation and
antithetic sampling keep drawing orders while repeated prefixes leave
budget, up to 50 orders per unit of budget. The orders stay independent,
because whether one is kept depends on its coalitions, not on v.

Standard errors are the standard deviation of the mean, sqrt(var / N)
with the sample variance of the N independent samples (orders, pairs of
orders, stratum samples). For ``"kernel"`` they come from the
linearization of the constrained least squares solution in the sampled
pairs, within each size class. They measure the sampling spread,
not the O(1/budget) bias of Kernel SHAP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validation import as_generator, check_choice, check_int
from .exact import exact, full_table, game_shape
from .games import MAX_EXACT_PLAYERS

SAMPLING_METHODS = ("permutation", "antithetic", "stratified", "kernel")


@dataclass(frozen=True)
class Estimate:
    """Estimated Shapley values.

    Attributes
    ----------
    values : ndarray, shape (n,) or (n, m), float64
    std_errors : ndarray, same shape as ``values``
        Standard deviation of each estimate, 0 for exact values and NaN
        when a single sample gives no variance estimate.
    n_evaluations : int
        Game evaluations spent, at most the budget.
    method : str
    """

    values: np.ndarray
    std_errors: np.ndarray
    n_evaluations: int
    method: str


def minimum_budget(n_players: int, method: str) -> int:
    """Return the smallest budget that ``sample`` accepts for ``method`` on n players."""
    n = n_players
    check_choice(method, "method", SAMPLING_METHODS)
    if n <= 2:
        return 2**n
    if method in ("permutation", "antithetic"):
        return 2 * n
    if method == "stratified":
        return 2 + 2 * n + 4 * n * (n - 2)
    return 2 * n + 2


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
    budget = check_int(budget, "budget", minimum=1)
    rng = as_generator(seed)
    if n <= MAX_EXACT_PLAYERS and budget >= 2**n:
        phi = exact(game)
        return Estimate(phi, np.zeros_like(phi), 2**n, method)
    minimum = minimum_budget(n, method)
    if budget < minimum:
        raise ValueError(
            f"budget must be at least {minimum} game evaluations for method={method!r} with "
            f"{n} players; got {budget}. Raise the budget or choose method='antithetic' "
            f"(minimum {minimum_budget(n, 'antithetic')})."
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


# Stop drawing once this many samples in a row brought no new coalition:
# the coalitions that the method can draw are then nearly all cached.
MAX_FREE_DRAWS = 10_000


def _accept_within_budget(seen, rows, budget_left):
    """Return how many leading rows of masks fit in ``budget_left`` new coalitions, and the cost.

    Row k is accepted when its masks that are not yet in ``seen`` still fit;
    ``seen`` is updated in place.
    """
    accepted = 0
    free_streak = 0
    for row in rows:
        fresh = {m for m in row.tolist() if m not in seen}
        if len(fresh) > budget_left:
            break
        seen.update(fresh)
        budget_left -= len(fresh)
        accepted += 1
        free_streak = 0 if fresh else free_streak + 1
        if free_streak >= MAX_FREE_DRAWS:
            break
    return accepted, budget_left


def _latin_block(rng, n):
    """Return n orders, shape (n, 1, n), in which every player takes every position once.

    The positions form the Latin square pos[k, i] = c[(a_k + b_i) mod n]
    with the rows a, the columns b and the symbols c permuted at random,
    so each order alone is uniform over the n! orders.
    """
    a, b, c = rng.permutation(n), rng.permutation(n), rng.permutation(n)
    position = c[(a[:, None] + b[None, :]) % n]
    return np.argsort(position, axis=1)[:, None, :]


def _orthogonal_block(rng, n):
    """Return n - 1 antithetic pairs of orders, shape (n - 1, 2, n), from orthogonal directions.

    An order is read off a direction x in the plane sum(x) = 0 by sorting
    the players by x_i, so -x gives the reversed order. The n - 1
    directions are a uniformly random orthonormal basis of that plane
    (orthogonal spherical codes, R. Mitchell, J. Cooper, E. Frank and
    G. Holmes, Sampling permutations for Shapley value estimation, JMLR
    23, 2022). Each pair alone is a uniform order and its reverse.
    """
    G = rng.normal(size=(n, n - 1))
    G -= G.mean(axis=0)
    Q, R = np.linalg.qr(G)
    Q *= np.sign(np.diag(R))  # sign fix that makes the basis Haar-distributed
    directions = Q.T
    forward = np.argsort(directions, axis=1)
    return np.stack([forward, forward[:, ::-1]], axis=1)


def _permutation(evaluate, n, budget, rng, antithetic):
    v_empty, v_full = _ends(evaluate, n)
    seen = {0, (1 << n) - 1}
    budget_left = budget - 2
    make_block = _orthogonal_block if antithetic else _latin_block
    block_size = n - 1 if antithetic else n
    unit_cost = (2 if antithetic else 1) * (n - 1)

    accepted_units = []
    n_drawn = 0
    # Draw whole blocks until the budget of distinct coalitions is spent;
    # repeated prefixes (small and large coalitions recur) cost nothing.
    # Units are accepted in order, so the last block may be cut short.
    while budget_left >= 1 and n_drawn < 50 * budget:
        n_blocks = budget_left // (unit_cost * block_size) + 1
        units = np.concatenate([make_block(rng, n) for _ in range(n_blocks)])
        n_drawn += units.shape[0]
        prefixes = np.bitwise_or.accumulate(np.int64(1) << units, axis=2)[:, :, :-1]
        accepted, budget_left = _accept_within_budget(seen, prefixes.reshape(units.shape[0], -1), budget_left)
        accepted_units.append(units[:accepted])
        if accepted < units.shape[0]:
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
    return _cluster_mean_and_error(per_unit_mean, np.arange(n_units) // block_size)


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


def _random_subsets(rng, players, sizes, n):
    """Return masks of uniform random subsets of the given sizes from N minus {player}."""
    keys = rng.random((players.shape[0], n))
    keys[np.arange(players.shape[0]), players] = 2.0  # the excluded player sorts last
    ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
    members = ranks < sizes[:, None]
    return members.astype(np.int64) @ (np.int64(1) << np.arange(n, dtype=np.int64))


def _stratified(evaluate, n, budget, rng):
    v_empty, v_full = _ends(evaluate, n)
    players = np.arange(n, dtype=np.int64)
    full = (1 << n) - 1
    singles = evaluate(np.int64(1) << players)
    all_but = evaluate(full ^ (np.int64(1) << players))
    exact_sum = (singles - v_empty) + (v_full - all_but)  # strata s = 0 and s = n - 1
    left = budget - 2 - 2 * n

    # Enumerate the strata {k, n - 1 - k} from the ends inward while their
    # coalitions cost no more evaluations than equal sampling would spend on
    # them, keeping two pilot pairs (4n evaluations) for each size left.
    random_sizes = list(range(1, n - 1))
    evaluated_sizes = {0, 1, n - 1, n}
    for k in range(1, n // 2):
        level = sorted({k, n - 1 - k})
        new_sizes = sorted({t for s in level for t in (s, s + 1)} - evaluated_sizes)
        cost = sum(math.comb(n, t) for t in new_sizes)
        expected = left * len(level) / len(random_sizes)
        pilot_need = 4 * n * (len(random_sizes) - len(level))
        if cost > expected or left - cost < pilot_need:
            break
        for t in new_sizes:
            evaluated_sizes.add(t)
        left -= cost
        for size in level:
            exact_sum += _stratum_mean_by_enumeration(evaluate, n, size)
            random_sizes.remove(size)
    if not random_sizes:
        return exact_sum / n, np.zeros_like(exact_sum)

    # Random strata (i, s) for the sizes left, in the order i * R + (index of s).
    n_sizes = len(random_sizes)
    n_strata = n * n_sizes
    stratum_player = np.repeat(players, n_sizes)
    stratum_size = np.tile(np.array(random_sizes, dtype=np.int64), n)
    pairs_left = left // 2

    def draw(counts):
        stratum = np.repeat(np.arange(n_strata), counts)
        S = _random_subsets(rng, stratum_player[stratum], stratum_size[stratum], n)
        values = evaluate(np.stack([S, S | (np.int64(1) << stratum_player[stratum])], axis=1))
        return stratum, values[:, 1] - values[:, 0]

    # A pilot of half the pairs, at least 2 per stratum, spread evenly:
    # Neyman allocation from 2-sample variances starved strata whose pilot
    # happened to agree and then understated their variance.
    pilot = np.full(n_strata, max(2, pairs_left // (2 * n_strata)), dtype=np.int64)
    stratum, diffs = draw(pilot)
    pairs_left -= int(pilot.sum())
    sums = np.zeros((n_strata, evaluate.width))
    squares = np.zeros((n_strata, evaluate.width))
    np.add.at(sums, stratum, diffs)
    np.add.at(squares, stratum, diffs**2)
    counts = pilot.copy()

    if pairs_left > 0:
        spread = np.sqrt(np.maximum(squares - sums**2 / pilot[:, None], 0.0).mean(axis=1))
        share = spread / spread.sum() if spread.sum() > 0 else np.full(n_strata, 1.0 / n_strata)
        extra = np.floor(pairs_left * share).astype(np.int64)
        leftover = pairs_left - int(extra.sum())
        extra[np.argsort(-share, kind="stable")[:leftover]] += 1
        stratum, diffs = draw(extra)
        np.add.at(sums, stratum, diffs)
        np.add.at(squares, stratum, diffs**2)
        counts += extra

    means = sums / counts[:, None]
    variances = np.maximum(squares - counts[:, None] * means**2, 0.0) / (counts[:, None] - 1)
    phi = (exact_sum + means.reshape(n, n_sizes, -1).sum(axis=1)) / n
    var = (variances / counts[:, None]).reshape(n, n_sizes, -1).sum(axis=1) / n**2
    return phi, np.sqrt(var)


def _stratum_mean_by_enumeration(evaluate, n, size):
    """Return E[v(S u {i}) - v(S)] over all S of the given size in N minus {i}, for every i.

    The differences are taken pair by pair, so a null player gets exactly 0.
    """
    masks = _masks_of_size(n, size)
    # One call evaluates every coalition of both sizes; the loop then reads the cache.
    evaluate(np.concatenate([masks, _masks_of_size(n, size + 1)]))
    means = np.empty((n, evaluate.width))
    for i in range(n):
        bit = np.int64(1) << i
        S = masks[(masks & bit) == 0]
        pairs = evaluate(np.stack([S, S | bit], axis=1))
        means[i] = (pairs[:, 1] - pairs[:, 0]).mean(axis=0)
    return means


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
    sizes = np.repeat(np.array(classes, dtype=np.int64), counts)
    S = _uniform_subsets(rng, sizes, n)
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
        return phi, np.zeros_like(phi)
    if n_pairs == 1:
        return phi, np.full_like(phi, np.nan)
    # Pair u changes phi by omega_u g_u to first order, with
    # g_u = M (z (v0(S) - z.phi) + z' (v0(S') - z'.phi)) and M the top-left
    # block of the inverse KKT matrix. Within class k the c_k pairs are
    # independent, so Var(phi) = sum_k c_k omega_k**2 Var_k(g).
    residual = v_pairs - np.einsum("pkn,nw->pkw", Z_pairs, phi)
    r = np.einsum("pkn,pkw->pnw", Z_pairs, residual)
    g = np.einsum("ij,pjw->piw", inverse_kkt[:n, :n], r)
    pooled = g.var(axis=0, ddof=1)
    variance = np.zeros_like(phi)
    for k, count in enumerate(counts):
        if count == 0:
            continue
        within = g[pair_class == k].var(axis=0, ddof=1) if count >= 2 else pooled
        variance += count * omega_class[k] ** 2 * within
    return phi, np.sqrt(variance)


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


def _uniform_subsets(rng, sizes, n):
    keys = rng.random((sizes.shape[0], n))
    ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
    return (ranks < sizes[:, None]).astype(np.int64) @ (np.int64(1) << np.arange(n, dtype=np.int64))


__all__ = ["Estimate", "SAMPLING_METHODS", "minimum_budget", "sample"]
