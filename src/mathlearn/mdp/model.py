"""The finite MDP in matrix form, and its constructors.

Notation (Sutton and Barto, Reinforcement Learning, 2nd ed., section 3.1):
a finite MDP has states ``s = 0 .. S-1``, actions ``a = 0 .. A-1`` and
dynamics ``p(s', r | s, a)``. Its matrix form keeps what the Bellman
equations need (Sutton and Barto, section 3.1):

``P[a, s, s'] = Pr(s' | s, a)``, shape ``(A, S, S)``
    Transition probabilities. Each row ``P[a, s, :]`` is a distribution.
``R[s, a] = E[r | s, a]``, shape ``(S, A)``
    Expected reward of taking action ``a`` in state ``s``.
``gamma`` in ``[0, 1]``
    Discount factor. ``gamma = 1`` is accepted only for episodic MDPs in
    which every policy reaches a terminal state with probability 1.

A sparse model stores ``P`` as a ``scipy.sparse.csr_matrix`` of shape
``(S * A, S)`` whose row ``s * A + a`` is the distribution ``Pr(. | s, a)``.
The rows of one state are adjacent, so a sweep over states reads ``P``
front to back, and a Gauss-Seidel sweep can update state by state.
Nothing in this package converts a sparse ``P`` to a dense array.

Terminal states (Sutton and Barto, section 3.4) are the absorbing states
with reward 0 under every action: ``P(s | s, a) = 1`` and ``R[s, a] = 0``
for all ``a``. Their value is 0 under every policy.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._validation import _short, as_float_array, check_int, check_memory, check_real, float_dtype_of

#: Maximum deviation from 1 accepted for the sum of a float64 distribution.
ROW_SUM_ATOL = 1e-10

_GAMMA_HINT = (
    "Use gamma < 1, or gamma = 1 for an episodic MDP whose terminal states are "
    "absorbing with reward 0 and reached by every policy."
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
    """Return ``gamma`` as a float after checking that it is in [0, 1].

    Whether ``gamma = 1`` suits a given model is checked by :class:`FiniteMDP`.
    """
    return check_real(gamma, "gamma", low=0.0, high=1.0, hint=_GAMMA_HINT)


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
    """A finite Markov decision process in matrix form, dense or sparse.

    Parameters
    ----------
    P : array_like of shape (A, S, S), or scipy.sparse matrix of shape (S * A, S)
        Transition probabilities. Dense: ``P[a, s, s'] = Pr(s' | s, a)``.
        Sparse: row ``s * A + a`` contains ``Pr(. | s, a)``; any scipy.sparse
        format is converted to CSR with sorted indices and summed
        duplicates. Entries are >= 0 and every distribution sums to 1
        within 1e-10 (float64) or within the float32 round-off of a
        normalized row (float32, see :func:`row_sum_tolerance`).
    R : array_like, shape (S, A)
        Expected rewards, ``R[s, a] = E[r | s, a]``, all finite.
    gamma : float
        Discount factor in [0, 1]. ``gamma = 1`` needs at least one
        terminal state and is rejected unless every policy reaches a
        terminal state with probability 1.

    Attributes
    ----------
    P : ndarray of float64, shape (A, S, S), or scipy.sparse.csr_matrix (S * A, S)
        Read-only (the arrays behind the CSR matrix too).
    R : ndarray of float64, shape (S, A), C-contiguous, read-only
    gamma : float
    n_states, n_actions : int
    is_sparse : bool
    terminal : ndarray of bool, shape (S,)
        The terminal states.

    Notes
    -----
    P and R are stored as float64 even when given as float32, because the
    value iteration stopping threshold ``epsilon (1 - gamma) / (2 gamma)``
    is far below float32 resolution for the default epsilon. float32 rows
    of P are renormalized after promotion so that every row is a
    distribution to float64 precision. Integer, bool and float16 input is
    converted to float64 by the rule of ``mathlearn._validation``.

    The arrays are copied and the copies marked read-only, so the model
    cannot change behind a solver. A sparse model needs O(nnz + S A)
    memory to build and to check.

    With ``gamma = 1`` the model is a stochastic shortest path problem.
    A stationary policy fails to reach a terminal state from some state
    exactly when its actions never leave some set C of non-terminal
    states. So every policy terminates exactly when there is no set C
    where some action at each of its states keeps the process inside C. The
    constructor finds the largest such C in O(nnz) time (see
    :attr:`episodic` for the models accepted when C is not empty).
    """

    def __init__(self, P, R, gamma):
        gamma = check_gamma(gamma)
        if _is_sparse(P):
            P, n_actions, n_states = _sparse_transitions(P, R)
        else:
            P = _dense_transitions(P)
            n_actions, n_states = P.shape[0], P.shape[1]
        R = as_float_array(R, "R", ndim=2, dtype=np.float64, finite=True)
        if R.shape != (n_states, n_actions):
            raise ValueError(
                f"R must have shape (S, A) = ({n_states}, {n_actions}) to match P; got shape "
                f"{R.shape}. Transpose R if it is (A, S)."
            )

        if gamma < 1.0 and R.size:
            # |v_pi| <= max |R| / (1 - gamma) for every policy, so this bound
            # being finite in float64 keeps every solver's values finite.
            value_bound = float(np.max(np.abs(R))) / (1.0 - gamma)
            if not np.isfinite(value_bound) or value_bound > 1e300:
                raise ValueError(
                    f"R is too large for float64 values: max |R| / (1 - gamma) = {value_bound:.3g} "
                    "exceeds 1e300. Rescale R (for example divide it by its largest magnitude)."
                )

        self._P = P
        self._R = _read_only(np.array(R, order="C"))
        self._gamma = gamma
        self._terminal = _read_only(self._find_terminal())
        self._cache = {}
        self._episodic = None
        if gamma == 1.0:
            self._check_episodic()

    @property
    def P(self):
        """Transition probabilities: (A, S, S) ndarray, or CSR matrix (S * A, S)."""
        return self._P

    @property
    def R(self) -> np.ndarray:
        """Expected rewards ``R[s, a]``, shape (S, A), float64."""
        return self._R

    @property
    def gamma(self) -> float:
        """Discount factor in [0, 1]."""
        return self._gamma

    @property
    def n_states(self) -> int:
        """Number of states S."""
        return self._R.shape[0]

    @property
    def n_actions(self) -> int:
        """Number of actions A."""
        return self._R.shape[1]

    @property
    def is_sparse(self) -> bool:
        """Whether P is stored as a CSR matrix over state-action pairs."""
        return not isinstance(self._P, np.ndarray)

    @property
    def terminal(self) -> np.ndarray:
        """Mask (S,) of the terminal states: absorbing, with reward 0 under every action."""
        return self._terminal

    @property
    def nbytes(self) -> int:
        """Bytes held by P and R."""
        if self.is_sparse:
            P = self._P
            return P.data.nbytes + P.indices.nbytes + P.indptr.nbytes + self._R.nbytes
        return self._P.nbytes + self._R.nbytes

    def __repr__(self) -> str:
        kind = "sparse" if self.is_sparse else "dense"
        return (
            f"FiniteMDP(n_states={self.n_states}, n_actions={self.n_actions}, "
            f"gamma={self.gamma}, {kind})"
        )

    def to_sparse(self) -> "FiniteMDP":
        """Return the same MDP with P as a CSR matrix of shape (S * A, S)."""
        if self.is_sparse:
            return self
        import scipy.sparse as sp

        rows = np.ascontiguousarray(self._P.transpose(1, 0, 2)).reshape(-1, self.n_states)
        return FiniteMDP(sp.csr_matrix(rows), self._R, self._gamma)

    def to_dense(self) -> "FiniteMDP":
        """Return the same MDP with P as a dense (A, S, S) array; needs A S^2 floats."""
        if not self.is_sparse:
            return self
        S, A = self.n_states, self.n_actions
        check_memory(8 * A * S * S, f"The dense P of shape ({A}, {S}, {S})", "Keep the model sparse.")
        dense = self._P.toarray().reshape(S, A, S).transpose(1, 0, 2)
        return FiniteMDP(np.ascontiguousarray(dense), self._R, self._gamma)

    def transitions_csr(self):
        """Return (indptr, indices, data) of P over state-action pairs, row ``s * A + a``.

        For a dense model these arrays are built from the nonzero entries.
        """
        if self.is_sparse:
            return self._P.indptr, self._P.indices, self._P.data
        if "csr" not in self._cache:
            self._cache["csr"] = self.to_sparse().P
        P = self._cache["csr"]
        return P.indptr, P.indices, P.data

    def _find_terminal(self) -> np.ndarray:
        S, A = self.n_states, self.n_actions
        zero_reward = np.all(self._R == 0.0, axis=1)
        if self.is_sparse:
            # P(s | s, a) for every pair, read from the CSR rows in O(nnz).
            P = self._P
            rows = np.repeat(np.arange(S * A), np.diff(P.indptr))
            on_diagonal = P.indices == rows // A
            stay = np.zeros(S * A)
            np.add.at(stay, rows[on_diagonal], P.data[on_diagonal])
            stay = stay.reshape(S, A)
        else:
            stay = self._P[:, np.arange(S), np.arange(S)].T
        # A row whose diagonal entry is 1 within the row-sum tolerance has no
        # other mass beyond that tolerance, so it is absorbing.
        absorbing = np.all(np.abs(stay - 1.0) <= ROW_SUM_ATOL, axis=1)
        return absorbing & zero_reward

    @property
    def episodic(self) -> str | None:
        """Which undiscounted case the model is: None when ``gamma < 1``.

        ``"proper"``: every policy reaches a terminal state with probability 1.
        ``"costly"``: some policy may never terminate, but every state can
        reach a terminal state and every reward at a non-terminal state is
        negative, so a policy that never terminates has value -inf there.
        """
        return self._episodic

    def _check_episodic(self) -> None:
        from . import _kernels

        S, A = self.n_states, self.n_actions
        if not self._terminal.any():
            raise ValueError(
                "gamma = 1 needs an episodic MDP with a terminal state (absorbing, with "
                "reward 0 under every action); this model has none. Use gamma < 1, or add a "
                "terminal state that every policy reaches."
            )
        import scipy.sparse as sp

        indptr, indices, data = self.transitions_csr()
        # The support of P: entries with positive probability only.
        support = sp.csr_matrix(
            ((data > 0).astype(np.int8), indices, indptr), shape=(S * A, S), copy=True
        )
        support.eliminate_zeros()
        by_state = support.tocsc()
        trapped, trap_action = _kernels.trapped_states(
            support.indptr, support.indices, by_state.indptr, by_state.indices,
            self._terminal, A,
        )
        if not trapped.any():
            self._episodic = "proper"
            return

        # Some policy can avoid the terminal states. The optimal value is
        # still finite and unique when some policy terminates from every
        # state and every other policy has value -inf somewhere (Bertsekas
        # and Tsitsiklis, 1991, "An analysis of stochastic shortest path
        # problems"). Negative rewards at all non-terminal states ensure
        # the latter, because a policy that never terminates collects them forever.
        reaches, action = _kernels.reach_terminal(
            by_state.indptr, by_state.indices, self._terminal, A
        )
        negative = bool(np.all(self._R[~self._terminal] < 0))
        if negative and reaches.all():
            self._episodic = "costly"
            self._cache["proper_policy"] = np.where(self._terminal, 0, action)
            return
        s = int(np.flatnonzero(trapped)[0])
        if not reaches.all():
            reason = (
                f"no action sequence leads from state {int(np.flatnonzero(~reaches)[0])} "
                "to a terminal state"
            )
        else:
            s_pos = np.flatnonzero((~self._terminal) & np.any(self._R >= 0, axis=1))
            reason = (
                f"state {int(s_pos[0])} has a reward >= 0, so a policy that never terminates "
                "could have a finite or infinite positive value"
            )
        raise ValueError(
            f"gamma = 1 needs every policy to reach a terminal state with probability 1, "
            f"but {int(trapped.sum())} non-terminal state(s) can avoid the terminal states "
            f"forever: e.g. from state {s}, action {int(trap_action[s])} leads only to "
            f"states of that set. Such a model is accepted only when every state can reach "
            f"a terminal state and all rewards at non-terminal states are negative; here "
            f"{reason}. Use gamma < 1, or change the dynamics or rewards."
        )

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
    def from_transitions(cls, rows, n_states, n_actions, gamma, sparse: bool = False) -> "FiniteMDP":
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
            Discount factor in [0, 1].
        sparse : bool
            Build P as a CSR matrix over state-action pairs, in memory
            proportional to the number of rows, instead of a dense array.

        Returns
        -------
        FiniteMDP
            With ``P(s_next | s, a) = sum prob`` and ``R[s, a] = sum prob * r`` over
            the rows of ``(s, a)``.
        """
        n_states = check_int(n_states, "n_states", minimum=1)
        n_actions = check_int(n_actions, "n_actions", minimum=1)
        gamma = check_gamma(gamma)
        if not isinstance(sparse, (bool, np.bool_)):
            raise TypeError(f"sparse must be True or False; got {sparse!r}.")
        if sparse:
            return cls._from_transitions_sparse(rows, n_states, n_actions, gamma)
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
        _check_missing_pairs(sums)
        _check_distributions(sums, ROW_SUM_ATOL, "rows", ("s", "a"))
        return cls(P, R, gamma)

    @classmethod
    def _from_transitions_sparse(cls, rows, n_states, n_actions, gamma) -> "FiniteMDP":
        import scipy.sparse as sp

        _check_rows_iterable(rows)
        pairs, targets, probs = [], [], []
        R = np.zeros((n_states, n_actions))
        for i, row in enumerate(rows):
            s, a, s_next, r, prob = _check_transition(row, i, n_states, n_actions)
            pairs.append(s * n_actions + a)
            targets.append(s_next)
            probs.append(prob)
            R[s, a] += prob * r
        # coo -> csr sums the probabilities of repeated (s, a, s_next) rows.
        P = sp.coo_matrix(
            (np.array(probs, dtype=np.float64), (np.array(pairs, dtype=np.int64), np.array(targets, dtype=np.int64))),
            shape=(n_states * n_actions, n_states),
        ).tocsr()
        sums = np.asarray(P.sum(axis=1)).reshape(n_states, n_actions)
        _check_missing_pairs(sums)
        _check_distributions(sums, ROW_SUM_ATOL, "rows", ("s", "a"))
        return cls(P, R, gamma)


def _check_rows_iterable(rows) -> None:
    if isinstance(rows, (str, bytes)) or not hasattr(rows, "__iter__"):
        raise TypeError(
            f"rows must be an iterable of (s, a, s_next, r, prob) tuples; got {_short(rows)}."
        )


def _check_missing_pairs(sums: np.ndarray) -> None:
    """Raise ValueError if some (s, a) pair of ``sums`` (S, A) has no probability mass."""
    missing = np.argwhere(sums == 0)
    if missing.size:
        s, a = (int(i) for i in missing[0])
        raise ValueError(
            f"rows must give every (s, a) pair a distribution over next states; pair "
            f"s={s}, a={a} has no transition with positive probability "
            f"({len(missing)} pair(s) in all). Add rows for it, e.g. (s, a, s, 0.0, 1.0) "
            "for a self-loop."
        )


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


def _is_sparse(x) -> bool:
    import sys

    # scipy.sparse loads only if the caller already imported it.
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(x)


def _dense_transitions(P) -> np.ndarray:
    """Return a read-only float64 copy of a dense P (A, S, S) after checking it."""
    P = as_float_array(P, "P", ndim=3, finite=True)
    input_dtype = P.dtype
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
    _check_nonnegative(P, "P", ("a", "s", "s'"))
    # A copy, so that marking it read-only leaves the caller's array alone.
    P = np.array(P, dtype=np.float64, order="C")
    sums = P.sum(axis=2)
    _check_distributions(sums, row_sum_tolerance(input_dtype, n_states), "P", ("a", "s"))
    if input_dtype == np.float32:
        P /= sums[:, :, None]
    return _read_only(P)


def _sparse_transitions(P, R):
    """Return (CSR copy of P, A, S) for a sparse P of shape (S * A, S) after checking it."""
    import scipy.sparse as sp

    if P.ndim != 2:
        raise ValueError(f"a sparse P must be 2-D with shape (S * A, S); got {P.ndim} dimensions.")
    n_pairs, n_states = P.shape
    R_shape = np.shape(R)
    if n_states < 1 or n_pairs < 1 or n_pairs % n_states != 0:
        raise ValueError(
            f"a sparse P must have shape (S * A, S), with row s * A + a containing Pr(. | s, a); "
            f"got shape {P.shape}, whose row count is not a positive multiple of S = {n_states}."
        )
    n_actions = n_pairs // n_states
    if len(R_shape) == 2 and R_shape[0] != n_states:
        raise ValueError(
            f"R must have shape (S, A) = ({n_states}, {n_actions}) to match the sparse P of "
            f"shape {P.shape}; got shape {R_shape}."
        )
    input_dtype = float_dtype_of(P, "P")
    # tocsr sums duplicate entries; the copy keeps the caller's matrix unchanged.
    P = sp.csr_matrix(P, dtype=np.float64, copy=True)
    P.sum_duplicates()
    P.sort_indices()
    data = P.data
    if data.size and not np.all(np.isfinite(data)):
        i = int(np.flatnonzero(~np.isfinite(data))[0])
        pair = int(np.searchsorted(P.indptr, i, side="right") - 1)
        raise ValueError(
            f"P must contain finite probabilities; got {float(data[i])!r} in row {pair} "
            f"(s={pair // n_actions}, a={pair % n_actions})."
        )
    if data.size and data.min() < 0:
        i = int(np.argmin(data))
        pair = int(np.searchsorted(P.indptr, i, side="right") - 1)
        raise ValueError(
            f"P must contain probabilities >= 0; got {float(data[i])!r} at s={pair // n_actions}, "
            f"a={pair % n_actions}, s'={int(P.indices[i])}."
        )
    sums = np.asarray(P.sum(axis=1)).reshape(n_states, n_actions)
    longest_row = int(np.diff(P.indptr).max())
    _check_distributions(sums, row_sum_tolerance(input_dtype, longest_row), "P", ("s", "a"))
    if input_dtype == np.float32:
        P.data /= np.repeat(sums.ravel(), np.diff(P.indptr))
    for array in (P.data, P.indices, P.indptr):
        _read_only(array)
    return P, n_actions, n_states
