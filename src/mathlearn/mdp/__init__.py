"""Finite Markov decision processes and the Bellman equations.

A finite MDP in matrix form has transition probabilities ``P[a, s, s']``
(A, S, S), expected rewards ``R[s, a]`` (S, A) and a discount ``gamma`` in
[0, 1). The sources are Sutton and Barto, Reinforcement Learning, 2nd ed.,
chapters 3 and 4, and Puterman, Markov Decision Processes, 1994, chapter 6.

- The value of a policy solves a linear system: :func:`evaluate_policy`.
- The Bellman optimality operator ``T`` is a gamma-contraction, so value
  iteration converges to ``v*``: :func:`value_iteration`, with the
  stopping rule and error bounds of Puterman, Theorem 6.3.1.
- :func:`policy_iteration` alternates exact evaluation and greedy
  improvement.
- :mod:`mathlearn.mdp.examples` builds the gridworlds of the book.

Greedy policies break ties by the lowest action index.

Examples
--------
>>> from mathlearn import mdp
>>> grid = mdp.examples.gridworld_5x5()
>>> result = mdp.value_iteration(grid.model, epsilon=1e-8)
>>> print(grid.format_values(result.v))  # doctest: +SKIP
"""

from . import examples
from .model import FiniteMDP
from .policies import epsilon_greedy_policy, greedy_set_policy, softmax_policy, uniform_policy
from .solvers import (
    ConvergenceWarning,
    SolverResult,
    bellman_operator,
    evaluate_policy,
    greedy_policy,
    modified_policy_iteration,
    optimal_actions,
    policy_iteration,
    q_from_v,
    value_iteration,
)

__all__ = [
    "ConvergenceWarning",
    "FiniteMDP",
    "SolverResult",
    "bellman_operator",
    "epsilon_greedy_policy",
    "evaluate_policy",
    "examples",
    "greedy_policy",
    "greedy_set_policy",
    "modified_policy_iteration",
    "optimal_actions",
    "policy_iteration",
    "q_from_v",
    "softmax_policy",
    "uniform_policy",
    "value_iteration",
]
