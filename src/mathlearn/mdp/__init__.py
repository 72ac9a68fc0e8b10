"""Finite Markov decision processes and the Bellman equations.

A finite MDP in matrix form has transition probabilities ``P``, expected
rewards ``R[s, a]`` (S, A) and a discount ``gamma`` in [0, 1]. ``P`` is
either dense, ``P[a, s, s']`` of shape (A, S, S), or a CSR matrix over
state-action pairs of shape (S * A, S) with row ``s * A + a``.
``gamma = 1`` is accepted for episodic MDPs (see :class:`FiniteMDP`). The sources are Sutton and Barto,
Reinforcement Learning, 2nd ed., chapters 3, 4 and 13, and Puterman,
Markov Decision Processes, 1994, chapter 6.

- The value of a policy solves a linear system: :func:`evaluate_policy`,
  by LU or by a Krylov solver for large sparse models.
- The Bellman optimality operator ``T`` is a gamma-contraction, so value
  iteration converges to ``v*``: :func:`value_iteration` (Jacobi or
  Gauss-Seidel, sup-norm or span stopping), with error bounds reported in
  the result.
- :func:`policy_iteration` alternates exact evaluation and greedy
  improvement; :func:`modified_policy_iteration` evaluates partially.
- Policies: greedy (with the set of optimal actions, :func:`optimal_actions`),
  :func:`epsilon_greedy_policy`, :func:`softmax_policy`.
- :mod:`mathlearn.mdp.examples` builds the book's gridworlds, the Gambler's
  problem and Jack's car rental; :mod:`mathlearn.mdp.gym` reads
  Gymnasium's toy-text environments; :func:`reinforce` trains an MLP
  policy by REINFORCE with a baseline.

Greedy policies break ties by the lowest action index.

Examples
--------
>>> from mathlearn import mdp
>>> grid = mdp.examples.gridworld_5x5()
>>> result = mdp.value_iteration(grid.model, epsilon=1e-8)
>>> print(grid.format_values(result.v))  # doctest: +SKIP
"""

from . import examples, gym, policy_gradient
from .model import FiniteMDP
from .policy_gradient import ReinforceResult, reinforce
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
    "gym",
    "greedy_policy",
    "greedy_set_policy",
    "modified_policy_iteration",
    "optimal_actions",
    "policy_gradient",
    "policy_iteration",
    "q_from_v",
    "reinforce",
    "ReinforceResult",
    "softmax_policy",
    "uniform_policy",
    "value_iteration",
]
