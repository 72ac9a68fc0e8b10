"""The finite MDP in matrix form, and its constructors.

Notation (Sutton and Barto, Reinforcement Learning, 2nd ed., section 3.1):
a finite MDP has states ``s = 0 .. S-1``, actions ``a = 0 .. A-1`` and
dynamics ``p(s', r | s, a)``. Its matrix form keeps what the Bellman
equations need (Sutton and Barto, section 3.1):

``P[a, s, s'] = Pr(s' | s, a)``, shape ``(A, S, S)``
    Transition probabilities. Each row ``P[a, s, :]`` is a distribution.
``R[s, a] = E[r | s, a]``, shape ``(S, A)``
    Expected reward of taking action ``a`` in state ``s``.
``gamma`` in ``[0, 1)``
    Discount factor.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._validation import _short, as_float_array, check_int, check_memory, check_real

#: Maximum deviation from 1 accepted for the sum of a float64 distribution.
ROW_SUM_ATOL = 1e-10

_GAMMA_HINT = (
    "Use gamma < 1; for an episodic task, make the terminal state absorbing with "
    "reward 0 and use a gamma close to 1."
)


def row_sum_tolerance(dtype: np.dtype, n_outcomes: int) -> float:
    """Return the accepted deviation from 1 of a row sum of ``n_outcomes`` entries.

    float64 rows must sum to 1 within ``ROW_SUM_ATOL``. A float32 row is held to
    the float32 round-off of a normalized row: rounding each entry to float32
    moves the sum by at most eps/2, and normalizing in float32 with pairwise
    summation adds about ``log2(n_outcomes)`` eps more.
    """
    if np.dtype(dtype) == np.float32:
        eps = float(np.finfo(np.float32).eps)
        return (2 + math.ceil(math.log2(max(n_outcomes, 2)))) * eps
    return ROW_SUM_ATOL


def check_gamma(gamma) -> float:
    """Return ``gamma`` as a float after checking that it is in [0, 1)."""
    return check_real(gamma, "gamma", low=0.0, high=1.0, high_open=True, hint=_GAMMA_HINT)


def _check_distributions(sums: np.ndarray, tol: float, name: str, index_names: tuple[str, ...]) -> None:
    """Raise ValueError unless every entry of ``sums`` is within ``tol`` of 1."""
    deviation = np.abs(sums - 1.0)
    if deviation.size and deviation.max() > tol:
        where = np.unravel_index(int(np.argmax(deviation)), sums.shape)
        position = ", ".join(f"{label}={int(i)}" for label, i in zip(index_names, where))
        raise ValueError(
            f"{name} must contain probability distributions summing to 1 within {tol:.3g}; "
            f"the distribution at {position} sums to {float(sums[where])!r} "
            f"(off by {float(deviation[where]):.3g}). Normalize it."
        )


def _check_nonnegative(x: np.ndarray, name: str, index_names: tuple[str, ...]) -> None:
    if x.size and x.min() < 0:
        where = np.unravel_index(int(np.argmin(x)), x.shape)
        position = ", ".join(f"{label}={int(i)}" for label, i in zip(index_names, where))
        raise ValueError(
            f"{name} must contain probabilities >= 0; got {float(x[where])!r} at {position}."
        )


class FiniteMDP:
    """A finite Markov decision process in matrix form.

    Parameters
    ----------
    P : array_like, shape (A, S, S)
        Transition probabilities, ``P[a, s, s'] = Pr(s' | s, a)``. Entries are
        >= 0 and every row ``P[a, s, :]`` sums to 1 within 1e-10 (float64) or
        within the float32 round-off of a normalized row (float32, see
        :func:`row_sum_tolerance`).
    R : array_like, shape (S, A)
        Expected rewards, ``R[s, a] = E[r | s, a]``, all finite.
    gamma : float
        Discount factor in [0, 1).

    Attributes
    ----------
    P : ndarray of float64, shape (A, S, S), C-contiguous, read-only
    R : ndarray of float64, shape (S, A), C-contiguous, read-only
    gamma : float
    n_states, n_actions : int

    Notes
    -----
    P and R are stored as float64 even when given as float32, because the
    value iteration stopping threshold ``epsilon (1 - gamma) / (2 gamma)``
    is far below float32 resolution for the default epsilon. float32 rows
    of P are renormalized after promotion so that every row is a
    distribution to float64 precision. Integer, bool and float16 input is
    converted to float64 by the rule of ``mathlearn._validation``.

    Both arrays are copied and the copies marked read-only, so the model
    cannot change behind a solver.
    """

    def __init__(self, P, R, gamma):
        P = as_float_array(P, "P", ndim=3, finite=True)
        input_dtype = P.dtype
        R = as_float_array(R, "R", ndim=2, dtype=np.float64, finite=True)
        gamma = check_gamma(gamma)

        n_actions, n_states, n_next = P.shape
        if n_actions < 1 or n_states < 1:
            raise ValueError(
                f"P must have at least one action and one state; got shape {P.shape}, "
                "which is (A, S, S)."
            )
        if n_next != n_states:
            raise ValueError(
                f"P must have shape (A, S, S) with P[a, s, s'] = Pr(s' | s, a); got shape "
                f"{P.shape}, whose last two axes differ."
            )
        if R.shape != (n_states, n_actions):
            raise ValueError(
                f"R must have shape (S, A) = ({n_states}, {n_actions}) to match P of shape "
                f"{P.shape}; got shape {R.shape}. Transpose R if it is (A, S)."
            )

        _check_nonnegative(P, "P", ("a", "s", "s'"))
        # A copy, so that marking it read-only leaves the caller's array alone.
        P = np.array(P, dtype=np.float64, order="C")
        sums = P.sum(axis=2)
        _check_distributions(sums, row_sum_tolerance(input_dtype, n_states), "P", ("a", "s"))
        if input_dtype == np.float32:
            P /= sums[:, :, None]

        self._P = _read_only(P)
        self._R = _read_only(np.array(R, order="C"))
        self._gamma = gamma

    @property
    def P(self) -> np.ndarray:
        """Transition probabilities ``P[a, s, s']``, shape (A, S, S), float64."""
        return self._P

    @property
    def R(self) -> np.ndarray:
        """Expected rewards ``R[s, a]``, shape (S, A), float64."""
        return self._R

    @property
    def gamma(self) -> float:
        """Discount factor in [0, 1)."""
        return self._gamma

    @property
    def n_states(self) -> int:
        """Number of states S."""
        return self._P.shape[1]

    @property
    def n_actions(self) -> int:
        """Number of actions A."""
        return self._P.shape[0]

    def __repr__(self) -> str:
        return f"FiniteMDP(n_states={self.n_states}, n_actions={self.n_actions}, gamma={self.gamma})"

    @classmethod
    def from_dynamics(cls, p, rewards, gamma) -> "FiniteMDP":
        """Build the matrix form from the four-argument dynamics ``p(s', r | s, a)``.

        Parameters
        ----------
        p : array_like, shape (S, A, S, K)
            ``p[s, a, s', k] = Pr(S_t = s', R_t = rewards[k] | S_{t-1} = s, A_{t-1} = a)``.
            For each ``(s, a)`` the entries over ``(s', k)`` are >= 0 and sum to 1
            (Sutton and Barto, section 3.1).
        rewards : array_like, shape (K,)
            The finite set of reward values, all finite.
        gamma : float
            Discount factor in [0, 1).

        Returns
        -------
        FiniteMDP
            With ``P[a, s, s'] = sum_k p[s, a, s', k]`` and
            ``R[s, a] = sum_{s', k} rewards[k] p[s, a, s', k]``.
        """
        p = as_float_array(p, "p", ndim=4, finite=True)
        rewards = as_float_array(rewards, "rewards", ndim=1, dtype=np.float64, finite=True)
        n_states, n_actions, n_next, n_rewards = p.shape
        if n_next != n_states:
            raise ValueError(
                f"p must have shape (S, A, S, K) with p[s, a, s', k] = p(s', r_k | s, a); got "
                f"shape {p.shape}, whose first and third axes differ."
            )
        if rewards.shape != (n_rewards,):
            raise ValueError(
                f"rewards must have shape (K,) = ({n_rewards},) to match the last axis of p "
                f"(shape {p.shape}); got shape {rewards.shape}."
            )
        _check_nonnegative(p, "p", ("s", "a", "s'", "k"))
        sums = p.sum(axis=(2, 3), dtype=np.float64)
        tol = row_sum_tolerance(p.dtype, n_states * n_rewards)
        _check_distributions(sums, tol, "p", ("s", "a"))

        if p.dtype == np.float32:
            # Renormalize as the constructor does for float32 P, so that the
            # float64 P passes its 1e-10 check.
            p = p.astype(np.float64) / sums[:, :, None, None]
        P = np.ascontiguousarray(p.sum(axis=3).transpose(1, 0, 2))
        R = p.sum(axis=2) @ rewards
        return cls(P, R, gamma)

    @classmethod
    def from_transitions(cls, rows, n_states, n_actions, gamma) -> "FiniteMDP":
        """Build the matrix form from a list of transitions.

        Parameters
        ----------
        rows : iterable of (s, a, s_next, r, prob)
            Each row states that action ``a`` in state ``s`` leads to ``s_next``
            with reward ``r`` with probability ``prob``. Rows with the same
            ``(s, a, s_next)`` add up, so one transition may carry several
            rewards. For each ``(s, a)`` the probabilities sum to 1 within 1e-10.
        n_states, n_actions : int
            S and A, both >= 1.
        gamma : float
            Discount factor in [0, 1).

        Returns
        -------
        FiniteMDP
            With ``P[a, s, s_next] = sum prob`` and ``R[s, a] = sum prob * r`` over
            the rows of ``(s, a)``.
        """
        n_states = check_int(n_states, "n_states", minimum=1)
        n_actions = check_int(n_actions, "n_actions", minimum=1)
        gamma = check_gamma(gamma)
        check_memory(
            8 * n_actions * n_states * n_states,
            f"The dense P of shape ({n_actions}, {n_states}, {n_states})",
            "Use fewer states or actions.",
        )
        if isinstance(rows, (str, bytes)) or not hasattr(rows, "__iter__"):
            raise TypeError(
                f"rows must be an iterable of (s, a, s_next, r, prob) tuples; got {_short(rows)}."
            )

        P = np.zeros((n_actions, n_states, n_states))
        R = np.zeros((n_states, n_actions))
        for i, row in enumerate(rows):
            s, a, s_next, r, prob = _check_transition(row, i, n_states, n_actions)
            P[a, s, s_next] += prob
            R[s, a] += prob * r

        sums = P.sum(axis=2).T
        missing = np.argwhere(sums == 0)
        if missing.size:
            s, a = (int(i) for i in missing[0])
            raise ValueError(
                f"rows must give every (s, a) pair a distribution over next states; pair "
                f"s={s}, a={a} has no transition with positive probability "
                f"({len(missing)} pair(s) in all). Add rows for it, e.g. (s, a, s, 0.0, 1.0) "
                "for a self-loop."
            )
        _check_distributions(sums, ROW_SUM_ATOL, "rows", ("s", "a"))
        return cls(P, R, gamma)


def _check_transition(row, i: int, n_states: int, n_actions: int):
    """Return row ``i`` of ``from_transitions`` as (s, a, s_next, r, prob) after checking it."""
    try:
        s, a, s_next, r, prob = row
    except (TypeError, ValueError):
        raise ValueError(
            f"rows[{i}] must be a tuple (s, a, s_next, r, prob); got {_short(row)}."
        ) from None
    s = _check_index(s, f"rows[{i}] state s", n_states)
    a = _check_index(a, f"rows[{i}] action a", n_actions)
    s_next = _check_index(s_next, f"rows[{i}] next state s_next", n_states)
    r = check_real(r, f"rows[{i}] reward r")
    prob = check_real(prob, f"rows[{i}] probability prob", low=0.0, high=1.0)
    return s, a, s_next, r, prob


def _check_index(value, name: str, size: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer; got {_short(value)} of type {type(value).__name__}.")
    return check_int(value, name, minimum=0, maximum=size - 1)


def _read_only(x: np.ndarray) -> np.ndarray:
    x.flags.writeable = False
    return x
