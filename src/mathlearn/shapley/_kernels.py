"""Numba kernels for exact Shapley values over a full coalition table.

Every kernel reads a C-contiguous table of shape (2**n, m) in float32 or
float64. Row S of the table is v(S) for the coalition mask S, whose bit i
is set when player i is in the coalition. The kernels accumulate in
float64 and write into output arrays that the caller allocates. Nothing is compiled at import: each kernel compiles
on its first call and is cached on disk (``cache=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _popcount(mask):
    # Bit count of a non-negative int64 by the SWAR method (H. S. Warren,
    # Hacker's Delight, chapter 5), because Numba exposes no popcount intrinsic.
    x = np.uint64(mask)
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


# Terms per partial sum in _marginal_sum. Summing 2**(n-1) terms in blocks
# of B bounds the rounding error by about (B + 2**(n-1) / B) u times the sum
# of |terms|, instead of 2**(n-1) u for one running sum (u = 2**-53).
SUM_BLOCK = 1024


@njit(cache=True)
def _marginal_sum(table, weights, i):
    # sum over S not containing i of w(|S|) (v(S u {i}) - v(S)) for a table
    # with one output column, in scalar accumulators that stay in registers.
    n = weights.shape[0]
    half = np.int64(1) << (n - 1)
    bit = np.int64(1) << i
    low = bit - 1
    total = 0.0
    for start in range(0, half, SUM_BLOCK):
        partial = 0.0
        for j in range(start, min(start + SUM_BLOCK, half)):
            # Spread j over the bits other than i, which enumerates every S without i.
            S = ((j & ~low) << 1) | (j & low)
            partial += weights[_popcount(S)] * (np.float64(table[S | bit, 0]) - np.float64(table[S, 0]))
        total += partial
    return total


@njit(cache=True)
def _marginal_sums(table, weights, i, out):
    # The sums of _marginal_sum for every output column at once, written to
    # out (shape (m,)). One pass over the table per player serves all m
    # columns, and each column is summed in the same order as _marginal_sum.
    n = weights.shape[0]
    m = out.shape[0]
    half = np.int64(1) << (n - 1)
    bit = np.int64(1) << i
    low = bit - 1
    partial = np.empty(m)
    out[:] = 0.0
    for start in range(0, half, SUM_BLOCK):
        partial[:] = 0.0
        for j in range(start, min(start + SUM_BLOCK, half)):
            S = ((j & ~low) << 1) | (j & low)
            w = weights[_popcount(S)]
            T = S | bit
            for o in range(m):
                partial[o] += w * (np.float64(table[T, o]) - np.float64(table[S, o]))
        for o in range(m):
            out[o] += partial[o]


@njit(cache=True, parallel=True)
def subset_phi(table, weights, phi):
    """Write the Shapley values of the game ``table`` into ``phi`` by the subset formula.

    phi_i = sum over S not containing i of w(|S|) (v(S u {i}) - v(S)), with
    w(s) = s! (n - s - 1)! / n! (Shapley 1953). The n players run in
    parallel, and each sum runs in the same order as in
    ``subset_phi_serial``, so both give identical results.

    Parameters
    ----------
    table : ndarray, shape (2**n, m), float32 or float64, C-contiguous
        Coalition values v(S) at row S.
    weights : ndarray, shape (n,), float64
        ``weights[s]`` is w(s).
    phi : ndarray, shape (n, m), float64
        Output; every entry is overwritten.
    """
    n, m = phi.shape
    if m == 1:
        for i in prange(n):
            phi[i, 0] = _marginal_sum(table, weights, i)
    else:
        for i in prange(n):
            _marginal_sums(table, weights, i, phi[i])


@njit(cache=True)
def subset_phi_serial(table, weights, phi):
    """Run ``subset_phi`` on one thread, for tables too small to pay for a parallel launch."""
    n, m = phi.shape
    for i in range(n):
        if m == 1:
            phi[i, 0] = _marginal_sum(table, weights, i)
        else:
            _marginal_sums(table, weights, i, phi[i])


@njit(cache=True)
def potential_phi(table, P, phi):
    """Write the Shapley values of ``table`` into ``phi`` through the potential.

    With v0(S) = v(S) - v(empty), the Hart and Mas-Colell potential is
    P(empty) = 0 and P(S) = (v0(S) + sum over i in S of P(S \\ {i})) / |S|,
    and phi_i = P(N) - P(N \\ {i}) (S. Hart and A. Mas-Colell, Potential,
    value, and consistency, Econometrica 57(3), 1989). The paper assumes
    v(empty) = 0. Shifting v by v(empty) meets that and leaves phi unchanged.

    Parameters
    ----------
    table : ndarray, shape (2**n, m), float32 or float64, C-contiguous
        Coalition values v(S) at row S.
    P : ndarray, shape (2**n, m), float64
        Work array; receives the potential of every coalition.
    phi : ndarray, shape (n, m), float64
        Output; every entry is overwritten.
    """
    n = phi.shape[0]
    m = phi.shape[1]
    size = np.int64(1) << n
    for o in range(m):
        P[0, o] = 0.0
    # Ascending masks visit every S \ {i} before S because S \ {i} < S.
    # NOTE: this loop runs on one thread. Blocks of masks that share their
    # high bits can run in parallel, layer by layer of the high bits' count.
    # On 2 shared cores that was 1.6x faster at n = 17 but up to 9x slower
    # at n = 20, because each of the layers waited for a thread.
    for S in range(1, size):
        s = _popcount(S)
        for o in range(m):
            acc = np.float64(table[S, o]) - np.float64(table[0, o])
            rest = S
            while rest != 0:
                lowest = rest & -rest
                acc += P[S ^ lowest, o]
                rest ^= lowest
            P[S, o] = acc / s
    full = size - 1
    for i in range(n):
        without_i = full ^ (np.int64(1) << i)
        for o in range(m):
            phi[i, o] = P[full, o] - P[without_i, o]


@njit(cache=True)
def gray_accumulate(values, first, v_empty, weights, inside, outside):
    """Add the terms of coalitions in Gray-code order to the running sums of ``gray`` exact values.

    Row t of ``values`` is v(S) for S = g(first + t), where g(r) = r xor (r >> 1)
    is the reflected binary Gray code, so consecutive rows differ by one
    player. With w(s) = s! (n - s - 1)! / n! and w(n) = 0,
    phi_i = sum over S containing i of (w(|S| - 1) + w(|S|)) v0(S) - sum over all S of w(|S|) v0(S),
    where v0 = v - v(empty) (the shift leaves phi unchanged and keeps the
    two sums from cancelling). The first sum goes to ``inside[i]``, the
    second to ``outside``.

    Parameters
    ----------
    values : ndarray, shape (k, m), float32 or float64
    first : int
        Gray-code index r of row 0.
    v_empty : ndarray, shape (m,), float64
    weights : ndarray, shape (n + 1,), float64
        w(0), ..., w(n - 1) and w(n) = 0.
    inside : ndarray, shape (n, m), float64
    outside : ndarray, shape (m,), float64
    """
    k, m = values.shape
    if k == 0:
        return
    r = np.int64(first)
    S = r ^ (r >> 1)
    s = _popcount(S)
    for t in range(k):
        if t > 0:
            # g(r) and g(r - 1) differ in the bit of the lowest set bit of r.
            r = first + t
            flip = r & -r
            S ^= flip
            s += 1 if S & flip else -1
        both = weights[s - 1] + weights[s] if s > 0 else 0.0
        for o in range(m):
            v0 = np.float64(values[t, o]) - v_empty[o]
            outside[o] += weights[s] * v0
            rest = S
            while rest != 0:
                lowest = rest & -rest
                inside[_popcount(lowest - 1), o] += both * v0
                rest ^= lowest
