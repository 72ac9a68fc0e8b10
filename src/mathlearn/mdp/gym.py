"""Finite MDPs from the transition tables of Gymnasium's toy-text environments.

Gymnasium (optional dependency, the ``gym`` extra) exposes the dynamics of
FrozenLake, CliffWalking and Taxi as ``env.unwrapped.P``, where
``P[s][a]`` is a list of ``(prob, next_state, reward, terminated)``
tuples. ``terminated`` means the episode ends after this transition, so
the value of ``next_state`` must not be added to its reward.
:func:`from_gymnasium` therefore sends every
terminated transition to one extra absorbing state with reward 0, index
``S``, and keeps its reward. Time limits (``truncated``) are not part of
the table and are ignored, as the MDP has no clock.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import _short, check_int
from .model import FiniteMDP


def from_gymnasium(env, gamma: float, sparse: bool = True, n_states=None, n_actions=None) -> FiniteMDP:
    """Build a FiniteMDP from a Gymnasium environment's transition table.

    Parameters
    ----------
    env : gymnasium.Env or dict
        An environment whose ``unwrapped`` has the table ``P`` and whose
        observation and action spaces are ``Discrete``, or the table itself
        (a dict ``P[s][a]`` of lists of ``(prob, next_state, reward,
        terminated)``), in which case pass ``n_states`` and ``n_actions``.
    gamma : float
        Discount factor in [0, 1]; 1 only if every policy terminates, or all
        rewards are negative (see :class:`FiniteMDP`).
    sparse : bool
        Build P as CSR over state-action pairs (default), or dense.
    n_states, n_actions : int, optional
        Sizes of the table, read from the environment's spaces otherwise.

    Returns
    -------
    FiniteMDP
        With ``S + 1`` states: the S states of the environment and the
        absorbing terminal state ``S`` that terminated transitions lead to.
    """
    if isinstance(env, dict):
        table = env
        if n_states is None or n_actions is None:
            raise ValueError(
                "n_states and n_actions must be given when env is a transition table (dict); "
                f"got n_states={n_states!r}, n_actions={n_actions!r}."
            )
    else:
        unwrapped = getattr(env, "unwrapped", env)
        table = getattr(unwrapped, "P", None)
        if not isinstance(table, dict):
            raise TypeError(
                f"env must have a transition table env.unwrapped.P (dict), as Gymnasium's "
                f"toy-text environments do; got {type(env).__name__} without one."
            )
        n_states = _space_size(env.observation_space, "observation_space")
        n_actions = _space_size(env.action_space, "action_space")
    n_states = check_int(n_states, "n_states", minimum=1)
    n_actions = check_int(n_actions, "n_actions", minimum=1)

    end = n_states
    rows = []
    for s in range(n_states):
        if s not in table:
            raise ValueError(f"the transition table has no entry for state {s} of 0 .. {n_states - 1}.")
        for a in range(n_actions):
            if a not in table[s]:
                raise ValueError(f"the transition table has no entry for action {a} in state {s}.")
            for entry in table[s][a]:
                try:
                    prob, s_next, reward, terminated = entry
                except (TypeError, ValueError):
                    raise ValueError(
                        f"P[{s}][{a}] must contain (prob, next_state, reward, terminated) tuples; "
                        f"got {_short(entry)}."
                    ) from None
                if not isinstance(terminated, (bool, np.bool_, numbers.Integral)):
                    raise TypeError(f"terminated in P[{s}][{a}] must be a bool; got {_short(terminated)}.")
                rows.append((s, a, end if terminated else s_next, reward, prob))
    for a in range(n_actions):
        rows.append((end, a, end, 0.0, 1.0))
    return FiniteMDP.from_transitions(rows, n_states + 1, n_actions, gamma, sparse=sparse)


def _space_size(space, name: str) -> int:
    n = getattr(space, "n", None)
    if not isinstance(n, (numbers.Integral, np.integer)):
        raise TypeError(f"env.{name} must be Discrete (with an integer n); got {_short(space)}.")
    return int(n)
