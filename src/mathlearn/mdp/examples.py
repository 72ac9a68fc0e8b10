"""Gridworlds from Sutton and Barto, Reinforcement Learning, 2nd ed.

Cells are numbered row by row from the top left, ``s = row * n_cols + col``.
The four actions are, in index order, north, south, east and west, so a
greedy policy breaks ties in that order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import FiniteMDP, check_gamma
from .policies import action_mask

ACTION_NAMES = ("north", "south", "east", "west")
ACTION_ARROWS = ("↑", "↓", "→", "←")
_MOVES = ((-1, 0), (1, 0), (0, 1), (0, -1))


@dataclass(frozen=True)
class GridWorld:
    """A gridworld MDP with its layout, for building and printing.

    Attributes
    ----------
    model : FiniteMDP
        The MDP, with ``S = n_rows * n_cols`` states and 4 actions.
    shape : tuple of int
        ``(n_rows, n_cols)``.
    actions : tuple of str
        Action names by index: north, south, east, west.
    arrows : tuple of str
        One arrow character per action, in the same order.
    terminal : tuple of int
        States that are absorbing with reward 0; empty for continuing tasks.
    """

    model: FiniteMDP
    shape: tuple
    actions: tuple = ACTION_NAMES
    arrows: tuple = ACTION_ARROWS
    terminal: tuple = ()

    def state(self, row: int, col: int) -> int:
        """Return the state index of the cell at (row, col), row 0 at the top."""
        return row * self.shape[1] + col

    def format_values(self, v, decimals: int = 1) -> str:
        """Format a value function (S,) as a table of the grid, one row per line.

        Values are rounded to ``decimals`` places and right-aligned, as in
        Figures 3.2 and 3.5 of the book.
        """
        v = np.asarray(v, dtype=np.float64)
        if v.shape != (self.model.n_states,):
            raise ValueError(
                f"v must have shape (S,) = ({self.model.n_states},); got shape {v.shape}."
            )
        # Adding 0.0 turns -0.0 into 0.0, so a rounded zero prints without a sign.
        cells = [f"{round(float(x), decimals) + 0.0:.{decimals}f}" for x in v]
        width = max(len(c) for c in cells)
        return self._layout(cells, width)

    def format_policy(self, policy) -> str:
        """Format a policy as arrows on the grid, one row per line.

        ``policy`` is either an integer array (S,) of one action per state, or
        an array (S, A) of probabilities or booleans, in which case every action
        with a positive entry is shown, as in Figure 3.5 of the book. Terminal
        states print as a dot.
        """
        n_states, n_actions = self.model.n_states, self.model.n_actions
        arrow_mask = action_mask(policy, n_states, n_actions)
        cells = []
        for s in range(n_states):
            if s in self.terminal:
                cells.append("·")
            else:
                cells.append("".join(self.arrows[a] for a in range(n_actions) if arrow_mask[s, a]))
        width = max(len(c) for c in cells)
        return self._layout(cells, width)

    def _layout(self, cells: list, width: int) -> str:
        n_rows, n_cols = self.shape
        lines = []
        for row in range(n_rows):
            line = cells[row * n_cols : (row + 1) * n_cols]
            lines.append(" ".join(c.rjust(width) for c in line))
        return "\n".join(lines)


def _grid_arrays(n_rows: int, n_cols: int):
    """Return P (4, S, S) and the bool mask (S, 4) of moves that would leave the grid."""
    n_states = n_rows * n_cols
    P = np.zeros((4, n_states, n_states))
    off_grid = np.zeros((n_states, 4), dtype=bool)
    for row in range(n_rows):
        for col in range(n_cols):
            s = row * n_cols + col
            for a, (d_row, d_col) in enumerate(_MOVES):
                r2, c2 = row + d_row, col + d_col
                if 0 <= r2 < n_rows and 0 <= c2 < n_cols:
                    P[a, s, r2 * n_cols + c2] = 1.0
                else:
                    P[a, s, s] = 1.0
                    off_grid[s, a] = True
    return P, off_grid


def gridworld_5x5(gamma: float = 0.9) -> GridWorld:
    """Build the 5 x 5 gridworld of Sutton and Barto, Example 3.5.

    From cell A = (0, 1) every action moves to A' = (4, 1) with reward +10,
    and from B = (0, 3) every action moves to B' = (2, 3) with reward +5.
    Elsewhere a move that would leave the grid keeps the state and gives
    reward -1, and every other move gives reward 0. The task is continuing,
    with gamma = 0.9 in the book.

    Parameters
    ----------
    gamma : float
        Discount factor in [0, 1).
    """
    gamma = check_gamma(gamma)
    n_rows = n_cols = 5
    P, off_grid = _grid_arrays(n_rows, n_cols)
    R = np.where(off_grid, -1.0, 0.0)
    for (row, col), (row2, col2), reward in (((0, 1), (4, 1), 10.0), ((0, 3), (2, 3), 5.0)):
        s, s_next = row * n_cols + col, row2 * n_cols + col2
        P[:, s, :] = 0.0
        P[:, s, s_next] = 1.0
        R[s, :] = reward
    return GridWorld(model=FiniteMDP(P, R, gamma), shape=(n_rows, n_cols))


def gridworld_4x4(gamma: float = 1.0) -> GridWorld:
    """Build the 4 x 4 episodic gridworld of Sutton and Barto, Example 4.1.

    The corner cells (0, 0) and (3, 3) are terminal: absorbing, with reward 0.
    From the other 14 cells every action gives reward -1, and a move that
    would leave the grid keeps the state.

    Parameters
    ----------
    gamma : float
        Discount factor in [0, 1]; the book's task is undiscounted, gamma = 1.

    Notes
    -----
    With gamma = 1 some policies never terminate (always moving into a
    wall), and their value is -inf. The model is still accepted, as a
    stochastic shortest path problem with negative rewards (see
    :attr:`FiniteMDP.episodic`): the optimal value is finite and every
    solver of :mod:`mathlearn.mdp` finds it. :func:`evaluate_policy`
    rejects a policy that does not terminate.
    """
    gamma = check_gamma(gamma)
    n_rows = n_cols = 4
    P, _ = _grid_arrays(n_rows, n_cols)
    R = np.full((n_rows * n_cols, 4), -1.0)
    terminal = (0, n_rows * n_cols - 1)
    for s in terminal:
        P[:, s, :] = 0.0
        P[:, s, s] = 1.0
        R[s, :] = 0.0
    return GridWorld(model=FiniteMDP(P, R, gamma), shape=(n_rows, n_cols), terminal=terminal)


@dataclass(frozen=True)
class TabularExample:
    """An MDP from the book with the mask of actions its definition allows.

    Attributes
    ----------
    model : FiniteMDP
    valid : ndarray of bool, shape (S, A)
        ``valid[s, a]`` is whether the book allows action ``a`` in state
        ``s``. Each builder states how a disallowed action behaves. It never
        raises a value above the allowed actions' values, so mask ``q`` with
        ``valid`` before reading off optimal actions.
    states : ndarray, shape (S, ...)
        The book's description of each state.
    actions : ndarray, shape (A,)
        The book's description of each action.
    """

    model: FiniteMDP
    valid: np.ndarray
    states: np.ndarray
    actions: np.ndarray


def gamblers_problem(p_heads: float = 0.4, goal: int = 100, gamma: float = 1.0) -> TabularExample:
    """Build the Gambler's problem of Sutton and Barto, Example 4.3.

    States are the capital ``s = 0 .. goal``; 0 and ``goal`` are terminal.
    In state s the gambler stakes ``k = 1 .. min(s, goal - s)`` and wins k
    with probability ``p_heads``, else loses k. The reward is +1 on the
    transition that reaches ``goal`` and 0 otherwise, so ``v*(s)`` is the
    largest probability of reaching the goal.

    Actions are indexed by stake, ``a = k - 1`` for ``k = 1 .. goal // 2``.
    A stake above ``min(s, goal - s)`` is not allowed; it is built as the
    largest allowed stake. The terminal states have every action as an
    absorbing self-loop with reward 0.

    Parameters
    ----------
    p_heads : float
        Probability of winning a flip, in (0, 1).
    goal : int
        Capital that ends the game with a win, >= 2.
    gamma : float
        In [0, 1]; the book uses 1. Every policy ends the game with
        probability 1, because each flip moves the capital by at least 1.
    """
    from .._validation import check_int, check_real

    p_heads = check_real(p_heads, "p_heads", low=0.0, high=1.0, low_open=True, high_open=True)
    goal = check_int(goal, "goal", minimum=2)
    gamma = check_gamma(gamma)
    n_states = goal + 1
    n_actions = goal // 2
    P = np.zeros((n_actions, n_states, n_states))
    R = np.zeros((n_states, n_actions))
    valid = np.zeros((n_states, n_actions), dtype=bool)
    for terminal in (0, goal):
        P[:, terminal, terminal] = 1.0
        valid[terminal, 0] = True
    for s in range(1, goal):
        largest = min(s, goal - s)
        for a in range(n_actions):
            stake = min(a + 1, largest)
            valid[s, a] = a + 1 <= largest
            P[a, s, s + stake] += p_heads
            P[a, s, s - stake] += 1.0 - p_heads
            R[s, a] = p_heads if s + stake == goal else 0.0
    return TabularExample(
        model=FiniteMDP(P, R, gamma),
        valid=valid,
        states=np.arange(n_states),
        actions=np.arange(1, n_actions + 1),
    )


def _poisson_pmf(lam: float, n_max: int) -> np.ndarray:
    """Return Pr(N = 0 .. n_max) for N ~ Poisson(lam), the last entry Pr(N >= n_max)."""
    from math import exp, factorial

    pmf = np.array([exp(-lam) * lam**k / factorial(k) for k in range(n_max)])
    return np.append(pmf, max(0.0, 1.0 - pmf.sum()))


def _location_dynamics(cars_max: int, rent_mean: float, return_mean: float, price: float):
    """Return (T, r) for one location, from the morning count n after moves.

    ``T[n, n']`` is the probability of n' cars next morning and ``r[n]`` the
    expected rental income. Requests and returns are Poisson, rentals are
    limited by the n cars present, and cars beyond ``cars_max`` leave the
    problem, as in Example 4.2.
    """
    size = cars_max + 1
    requests = _poisson_pmf(rent_mean, 2 * size)
    returns = _poisson_pmf(return_mean, 2 * size)
    T = np.zeros((size, size))
    r = np.zeros(size)
    for n in range(size):
        for k, p_k in enumerate(requests):
            rented = min(k, n)
            r[n] += price * rented * p_k
            left = n - rented
            for j, p_j in enumerate(returns):
                T[n, min(left + j, cars_max)] += p_k * p_j
    return T, r


def jacks_car_rental(
    cars_max: int = 20,
    move_max: int = 5,
    gamma: float = 0.9,
    price: float = 10.0,
    move_cost: float = 2.0,
    means=(3.0, 4.0, 3.0, 2.0),
) -> TabularExample:
    """Build Jack's car rental of Sutton and Barto, Example 4.2.

    A state is the pair (cars at the first location, cars at the second) at
    the end of a day, each in ``0 .. cars_max``, with
    ``s = n1 * (cars_max + 1) + n2``. An action moves ``m`` cars overnight
    from the first location to the second (m < 0 moves them back), for
    ``m = -move_max .. move_max`` and action index ``a = m + move_max``, at
    cost ``move_cost |m|``. Cars above ``cars_max`` after a move disappear.
    Next day, rental requests at the two locations are Poisson with means
    ``means[0]`` and ``means[1]``, and returns are Poisson with means
    ``means[2]`` and ``means[3]``. Each rented car earns ``price``, and
    returned cars can be rented from the day after. Returns beyond
    ``cars_max`` disappear.

    Moving more cars than a location has is not allowed; such an action is
    built as moving all the cars there while paying for all m requested, so
    with ``move_cost > 0`` it is strictly worse than the allowed move and
    never greedy. The Poisson tails are lumped at
    ``2 (cars_max + 1)`` events, past which requests and returns cannot
    change the outcome.

    Parameters
    ----------
    cars_max, move_max : int
        >= 1 and >= 0.
    gamma : float
        In [0, 1); the book uses 0.9.
    price, move_cost : float
        Income per rental and cost per car moved, >= 0.
    means : tuple of 4 floats
        Poisson means (requests 1, requests 2, returns 1, returns 2), > 0.
    """
    from .._validation import check_int, check_real

    cars_max = check_int(cars_max, "cars_max", minimum=1)
    move_max = check_int(move_max, "move_max", minimum=0)
    gamma = check_gamma(gamma)
    price = check_real(price, "price", low=0.0)
    move_cost = check_real(move_cost, "move_cost", low=0.0)
    if len(means) != 4:
        raise ValueError(f"means must have 4 entries (requests 1, requests 2, returns 1, returns 2); got {means!r}.")
    means = [check_real(m, f"means[{i}]", low=0.0, low_open=True) for i, m in enumerate(means)]
    T1, r1 = _location_dynamics(cars_max, means[0], means[2], price)
    T2, r2 = _location_dynamics(cars_max, means[1], means[3], price)

    size = cars_max + 1
    n_states = size * size
    moves = np.arange(-move_max, move_max + 1)
    n_actions = moves.size
    P = np.zeros((n_actions, n_states, n_states))
    R = np.zeros((n_states, n_actions))
    valid = np.zeros((n_states, n_actions), dtype=bool)
    states = np.array([(n1, n2) for n1 in range(size) for n2 in range(size)])
    for s, (n1, n2) in enumerate(states):
        for a, m in enumerate(moves):
            valid[s, a] = -n2 <= m <= n1
            moved = int(np.clip(m, -n2, n1))
            morning1 = min(n1 - moved, cars_max)
            morning2 = min(n2 + moved, cars_max)
            P[a, s] = np.outer(T1[morning1], T2[morning2]).ravel()
            R[s, a] = r1[morning1] + r2[morning2] - move_cost * abs(m)
    return TabularExample(model=FiniteMDP(P, R, gamma), valid=valid, states=states, actions=moves)
