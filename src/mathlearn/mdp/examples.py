"""Gridworlds from Sutton and Barto, Reinforcement Learning, 2nd ed.

Cells are numbered row by row from the top left, ``s = row * n_cols + col``.
The four actions are, in index order, north, south, east and west, so a
greedy policy breaks ties in that order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import FiniteMDP, check_gamma

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
        policy = np.asarray(policy)
        n_states, n_actions = self.model.n_states, self.model.n_actions
        if policy.shape == (n_states,) and policy.dtype.kind in "iu":
            if policy.min() < 0 or policy.max() >= n_actions:
                raise ValueError(
                    f"policy must contain actions in 0 .. {n_actions - 1}; got values from "
                    f"{int(policy.min())} to {int(policy.max())}."
                )
            arrow_mask = np.zeros((n_states, n_actions), dtype=bool)
            arrow_mask[np.arange(n_states), policy] = True
        elif policy.shape == (n_states, n_actions):
            arrow_mask = policy > 0
        else:
            raise ValueError(
                f"policy must be integer actions of shape ({n_states},) or an array of shape "
                f"({n_states}, {n_actions}); got dtype {policy.dtype} and shape {policy.shape}."
            )
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


def gridworld_4x4(gamma: float = 1.0 - 1e-9) -> GridWorld:
    """Build the 4 x 4 episodic gridworld of Sutton and Barto, Example 4.1.

    The corner cells (0, 0) and (3, 3) are terminal: absorbing, with reward 0.
    From the other 14 cells every action gives reward -1, and a move that
    would leave the grid keeps the state.

    Parameters
    ----------
    gamma : float
        Discount factor in [0, 1).

    Notes
    -----
    The book's task is undiscounted (gamma = 1), which :class:`FiniteMDP`
    does not accept, so the default gamma = 1 - 1e-9 replaces it. For a
    policy that reaches a terminal cell with probability 1 after T steps,
    the discounted value differs from the undiscounted one by at most
    ``(1 - gamma) E[T (T - 1)] / 2``, well below 1e-4 for the equiprobable
    random policy of Figure 4.1, so the book's values appear unchanged. A
    policy that never terminates gets values near ``-1 / (1 - gamma)``
    instead of minus infinity.
    """
    # NOTE: gamma = 1 with proper policies is not supported yet. It needs
    # the linear system restricted to the non-terminal states.
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
