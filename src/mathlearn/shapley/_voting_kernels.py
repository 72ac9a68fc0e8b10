"""Numba kernels for the power indices of weighted voting games.

Counts are indexed by coalition weight w in [0, q), because only
coalitions that lose without player i can be swings for i. Removing
player i from the counts of all players ("deconvolution") uses
C_{-i}[w] = C[w] - C_{-i}[w - w_i], which reads only lower weights, so the
truncation to [0, q) is exact.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def count_by_weight(weights, quota):
    """Return C[w], the number of coalitions of all players with weight w < quota, int64."""
    C = np.zeros(quota, dtype=np.int64)
    C[0] = 1
    for j in range(weights.shape[0]):
        wj = weights[j]
        if wj >= quota:
            continue
        for w in range(quota - 1, wj - 1, -1):
            C[w] += C[w - wj]
    return C


@njit(cache=True, parallel=True)
def banzhaf_swings(C, targets, quota, swings):
    """Write into ``swings[t]`` the swings of a player of weight ``targets[t]``.

    A swing is a coalition without the player that the player turns from
    losing to winning. ``C`` counts the coalitions of all players, the
    player included, and players of equal weight have equal swings.
    """
    for i in prange(targets.shape[0]):
        wi = targets[i]
        if wi == 0:
            swings[i] = 0
            continue
        D = C.copy()
        if wi < quota:
            for w in range(wi, quota):
                D[w] = C[w] - D[w - wi]
        total = 0
        for w in range(max(0, quota - wi), quota):
            total += D[w]
        swings[i] = total


@njit(cache=True)
def count_by_size_and_weight(weights, quota):
    """Return C[s, w], the number of coalitions of s players with weight w < quota, int64."""
    n = weights.shape[0]
    C = np.zeros((n + 1, quota), dtype=np.int64)
    C[0, 0] = 1
    for j in range(n):
        wj = weights[j]
        for s in range(j + 1, 0, -1):
            for w in range(quota - 1, wj - 1, -1):
                C[s, w] += C[s - 1, w - wj]
    return C


@njit(cache=True, parallel=True)
def shapley_shubik_swings(C, targets, quota, swings):
    """Write into ``swings[t, s]`` the swings, in coalitions of s others, of a player of weight ``targets[t]``."""
    n = C.shape[0] - 1
    for i in prange(targets.shape[0]):
        wi = targets[i]
        if wi == 0:
            swings[i, :] = 0
            continue
        D = np.zeros((n, quota), dtype=np.int64)
        for s in range(n):
            for w in range(quota):
                D[s, w] = C[s, w]
                if s > 0 and w >= wi:
                    D[s, w] -= D[s - 1, w - wi]
        for s in range(n):
            total = 0
            for w in range(max(0, quota - wi), quota):
                total += D[s, w]
            swings[i, s] = total


@njit(cache=True)
def size_weight_distribution(weights, total_weight):
    """Return A[s, w] = C[s, w] / C(n, s) over all weights w in [0, total_weight], float64.

    Adding a player to a set of m players mixes two distributions with
    weights (m + 1 - s) / (m + 1) and s / (m + 1). Every entry is thus a
    convex combination, so the table neither overflows nor cancels.
    """
    # NOTE: runs on one thread. A parallel loop over s with a second buffer
    # was slower at n = 1000 on 2 loaded cores, with one thread launch per player.
    n = weights.shape[0]
    A = np.zeros((n + 1, total_weight + 1))
    A[0, 0] = 1.0
    for j in range(n):
        wj = weights[j]
        m = j
        for s in range(j + 1, 0, -1):
            keep = (m + 1 - s) / (m + 1)
            add = s / (m + 1)
            for w in range(total_weight, -1, -1):
                value = keep * A[s, w]
                if w >= wj:
                    value += add * A[s - 1, w - wj]
                A[s, w] = value
    return A


@njit(cache=True, parallel=True)
def shapley_shubik_float(A, targets, quota, phi):
    """Write into ``phi[t]`` the Shapley-Shubik index of a player of weight ``targets[t]``.

    B[s, w] = C_{-i}[s, w] / C(n - 1, s) solves
    A[s, w] = (n - s) / n B[s, w] + s / n B[s - 1, w - w_i]. The rows
    s < n / 2 are solved upward from B[0] and the rows s >= n / 2 downward
    from B[n - 1], so each step multiplies the earlier rounding errors by
    s / (n - s) < 1 or (n - s - 1) / (s + 1) <= 1 and they do not grow.
    """
    n = A.shape[0] - 1
    W = A.shape[1] - 1
    half = n // 2
    for i in prange(targets.shape[0]):
        wi = targets[i]
        if wi == 0:
            phi[i] = 0.0
            continue
        B = np.zeros((n, W + 1))
        B[0, 0] = 1.0
        for s in range(1, min(half, n - 1) + 1):
            for w in range(W + 1):
                value = n * A[s, w]
                if w >= wi:
                    value -= s * B[s - 1, w - wi]
                B[s, w] = max(value / (n - s), 0.0)
        if n - 1 > half:
            B[n - 1, W - wi] = 1.0
            for t in range(n - 2, half, -1):
                for u in range(W + 1):
                    if u + wi <= W:
                        value = (n * A[t + 1, u + wi] - (n - t - 1) * B[t + 1, u + wi]) / (t + 1)
                        B[t, u] = max(value, 0.0)
        total = 0.0
        for s in range(n):
            mass = 0.0
            for w in range(max(0, quota - wi), min(quota, W + 1)):
                mass += B[s, w]
            total += mass
        phi[i] = total / n
