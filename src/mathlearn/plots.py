"""Figures for every part: loss curves, Shapley charts, value functions, approximation errors.

Each function returns a ``matplotlib.figure.Figure`` and, given ``path``,
also saves it there as a PNG. Figures are built with
``matplotlib.figure.Figure`` directly, not with ``pyplot``: no window opens,
no global figure list grows, and the backend does not matter. matplotlib is
imported on the first call, never by ``import mathlearn``; it comes with
the ``examples`` extra (``pip install "mathlearn[examples]"``).
"""

from __future__ import annotations

import os

import numpy as np

from ._validation import as_float_array, check_int

__all__ = [
    "DPI",
    "plot_approximation",
    "plot_approximation_fit",
    "plot_loss_curves",
    "plot_shapley_bar",
    "plot_shapley_summary",
    "plot_shapley_waterfall",
    "plot_value_function",
    "require_matplotlib",
]

DPI = 100
_POSITIVE = "#d62728"
_NEGATIVE = "#1f77b4"


def require_matplotlib():
    """Raise ImportError with the install command when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(
            "mathlearn.plots needs matplotlib, which is not installed. Install it with "
            "pip install 'mathlearn[examples]' or pip install matplotlib."
        ) from None


def _new_figure(figsize):
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=DPI, layout="constrained")


def _finish(fig, path):
    """Save ``fig`` as a PNG at ``path`` when a path is given; return ``fig``."""
    if path is not None:
        path = os.fspath(path)
        directory = os.path.dirname(path)
        if directory and not os.path.isdir(directory):
            raise FileNotFoundError(
                f"path {path!r} is in a directory that does not exist; create {directory!r} first."
            )
        fig.savefig(path, format="png", dpi=DPI)
    return fig


def _feature_names(names, n: int) -> list[str]:
    if names is None:
        return [f"x{i}" for i in range(n)]
    names = [str(name) for name in names]
    if len(names) != n:
        raise ValueError(f"feature_names must have one name per feature ({n}); got {len(names)}.")
    return names


def _as_phi(phi, name="phi") -> np.ndarray:
    phi = as_float_array(phi, name, dtype=np.float64)
    if phi.ndim == 2 and phi.shape[1] == 1:
        phi = phi[:, 0]
    if phi.ndim != 1 or phi.size == 0:
        raise ValueError(
            f"{name} must have shape (n,) or (n, 1) for one scalar output; got shape {phi.shape}. "
            f"For a model with m outputs, plot one column phi[:, k] at a time."
        )
    return phi


# ----------------------------------------------------------------------
# Training


def plot_loss_curves(history, test_loss=None, *, loss_name="MSE", log=True, title=None, path=None):
    """Plot training and test loss against the epoch.

    Parameters
    ----------
    history : mathlearn.TrainingResult or array_like of shape (E + 1,)
        A training result (its ``train_loss`` and ``test_loss`` are used),
        or the training losses before training and after each epoch.
    test_loss : array_like of shape (E + 1,), optional
        Test losses, when ``history`` is an array. All-NaN curves are left out.
    loss_name : str
        Label of the y axis.
    log : bool
        Logarithmic y axis.
    title : str, optional
    path : str or path-like, optional
        Save the figure there as a PNG.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with a line labelled "train" and, when given, one "test".
    """
    if hasattr(history, "train_loss"):
        train_loss, test_loss = history.train_loss, history.test_loss
    else:
        train_loss = history
    train_loss = as_float_array(train_loss, "train_loss", ndim=1, dtype=np.float64, allow_empty=False)
    curves = [("train", train_loss)]
    if test_loss is not None:
        test_loss = as_float_array(test_loss, "test_loss", ndim=1, dtype=np.float64, finite=False)
        if test_loss.shape != train_loss.shape:
            raise ValueError(
                f"test_loss must have the shape of train_loss {train_loss.shape}; got {test_loss.shape}."
            )
        if not np.isnan(test_loss).all():
            curves.append(("test", test_loss))

    fig = _new_figure((6.0, 4.0))
    ax = fig.add_subplot()
    epochs = np.arange(len(train_loss))
    for label, values in curves:
        ax.plot(epochs, values, label=label)
    if log and all((values[np.isfinite(values)] > 0).all() for _, values in curves):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{loss_name} loss")
    ax.set_title(title or "Training and test loss")
    ax.legend()
    ax.grid(True, alpha=0.3)
    return _finish(fig, path)


# ----------------------------------------------------------------------
# Shapley values


def plot_shapley_bar(phi, feature_names=None, *, x=None, title=None, path=None):
    """Plot the Shapley values of one point as horizontal bars, largest |phi| on top.

    Parameters
    ----------
    phi : array_like of shape (n,)
        Shapley values of the n features.
    feature_names : sequence of str, optional
    x : array_like of shape (n,), optional
        Feature values of the point, printed beside the names.
    title : str, optional
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes with n bars, red for phi > 0 and blue for phi <= 0.
    """
    phi = _as_phi(phi)
    n = len(phi)
    names = _feature_names(feature_names, n)
    if x is not None:
        x = as_float_array(x, "x", ndim=1, dtype=np.float64)
        if len(x) != n:
            raise ValueError(f"x must have one value per feature ({n}); got {len(x)}.")
        names = [f"{name} = {value:.3g}" for name, value in zip(names, x)]
    order = np.argsort(np.abs(phi), kind="stable")  # barh draws the first bar at the bottom

    fig = _new_figure((6.5, 0.9 + 0.35 * n))
    ax = fig.add_subplot()
    colors = [_POSITIVE if phi[i] > 0 else _NEGATIVE for i in order]
    ax.barh(np.arange(n), phi[order], color=colors)
    ax.set_yticks(np.arange(n), [names[i] for i in order])
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("Shapley value phi_i")
    ax.set_title(title or "Shapley values of one point")
    return _finish(fig, path)


def plot_shapley_waterfall(phi, expected_value, feature_names=None, *, x=None, max_features=10,
                           title=None, path=None):
    """Plot how the Shapley values move E f to f(x), one step per feature.

    The steps start at ``expected_value`` = E f and, by efficiency
    (sum_i phi_i = f(x) - E f), end at f(x). Features are ordered by |phi|;
    those beyond ``max_features`` are merged into one step.

    Parameters
    ----------
    phi : array_like of shape (n,)
    expected_value : float
        E f, the mean prediction over the background set (v of the empty
        coalition).
    feature_names : sequence of str, optional
    x : array_like of shape (n,), optional
        Feature values, printed beside the names.
    max_features : int
        Number of features drawn as their own step, >= 1.
    title : str, optional
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes with one bar per step; its title states E f and f(x).
    """
    from ._validation import check_real

    phi = _as_phi(phi)
    expected_value = check_real(expected_value, "expected_value")
    max_features = check_int(max_features, "max_features", minimum=1)
    n = len(phi)
    names = _feature_names(feature_names, n)
    if x is not None:
        x = as_float_array(x, "x", ndim=1, dtype=np.float64)
        if len(x) != n:
            raise ValueError(f"x must have one value per feature ({n}); got {len(x)}.")
        names = [f"{name} = {value:.3g}" for name, value in zip(names, x)]

    order = list(np.argsort(-np.abs(phi), kind="stable"))
    steps = [(names[i], phi[i]) for i in order[:max_features]]
    rest = order[max_features:]
    if rest:
        steps.append((f"{len(rest)} other features", float(phi[rest].sum())))
    prediction = expected_value + float(phi.sum())

    fig = _new_figure((7.0, 1.2 + 0.4 * len(steps)))
    ax = fig.add_subplot()
    start = expected_value
    edges = [start]
    # Top to bottom in the order of the steps: row 0 is drawn highest.
    rows = np.arange(len(steps))[::-1]
    for row, (label, value) in zip(rows, steps):
        ax.barh(row, value, left=start, color=_POSITIVE if value > 0 else _NEGATIVE)
        start += value
        edges.append(start)
    low, high = min(edges), max(edges)
    margin = 0.05 * (high - low) if high > low else 0.5 * max(abs(low), 1.0)
    ax.set_xlim(low - margin, high + margin)
    ax.set_yticks(rows, [label for label, _ in steps])
    ax.axvline(expected_value, color="gray", linestyle="--", linewidth=0.8)
    ax.axvline(prediction, color="black", linewidth=0.8)
    ax.set_xlabel("model output")
    ax.set_title(title or f"From E f = {expected_value:.4g} to f(x) = {prediction:.4g}")
    return _finish(fig, path)


def plot_shapley_summary(phi, feature_names=None, *, X=None, title=None, path=None):
    """Summarize Shapley values over many points: mean |phi| per feature.

    Parameters
    ----------
    phi : array_like of shape (N, n)
        Shapley values of N points.
    feature_names : sequence of str, optional
    X : array_like of shape (N, n), optional
        Feature values of the points. When given, a second axes shows every
        phi_i of every point as a dot, colored by the feature's value
        (blue low, red high) within its column.
    title : str, optional
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes of n bars (mean |phi|, largest on top), and the dot axes
        when ``X`` is given.
    """
    phi = as_float_array(phi, "phi", ndim=2, dtype=np.float64, allow_empty=False)
    N, n = phi.shape
    names = _feature_names(feature_names, n)
    mean_abs = np.abs(phi).mean(axis=0)
    order = np.argsort(mean_abs, kind="stable")

    fig = _new_figure((6.5 if X is None else 11.0, 0.9 + 0.35 * n))
    if X is None:
        axes = [fig.add_subplot()]
    else:
        X = as_float_array(X, "X", ndim=2, dtype=np.float64)
        if X.shape != phi.shape:
            raise ValueError(f"X must have the shape of phi {phi.shape}; got {X.shape}.")
        axes = fig.subplots(1, 2, sharey=True)
    ax = axes[0]
    ax.barh(np.arange(n), mean_abs[order], color=_NEGATIVE)
    ax.set_yticks(np.arange(n), [names[i] for i in order])
    ax.set_xlabel("mean |phi_i|")
    ax.set_title(title or f"Mean |Shapley value| over {N} points")

    if X is not None:
        ax = axes[1]
        jitter = np.random.default_rng(0).uniform(-0.25, 0.25, size=N)  # fixed seed: same picture each run
        for row, i in enumerate(order):
            column = X[:, i]
            span = np.ptp(column)
            scaled = (column - column.min()) / span if span > 0 else np.full(N, 0.5)
            ax.scatter(phi[:, i], row + jitter, c=scaled, cmap="coolwarm", vmin=0, vmax=1, s=10)
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_xlabel("Shapley value phi_i (color: feature value, low blue, high red)")
        ax.set_title("Shapley value of every point")
    return _finish(fig, path)


# ----------------------------------------------------------------------
# Finite MDPs

_ACTION_STEPS = {"north": (-1, 0), "south": (1, 0), "east": (0, 1), "west": (0, -1)}


def plot_value_function(grid, v, policy=None, *, decimals=1, title=None, path=None):
    """Draw a gridworld's value function as a heatmap with greedy-policy arrows.

    Parameters
    ----------
    grid : mathlearn.mdp.examples.GridWorld
        The gridworld; its ``shape``, ``actions`` and ``terminal`` are used.
    v : array_like of shape (S,)
        State values, S = n_rows * n_cols, cell (r, c) at index r * n_cols + c.
    policy : array_like, optional
        One action per state, shape (S,) of int, or shape (S, A) of
        probabilities or booleans. Every action with a positive entry gets
        an arrow, so ties show as several arrows. Terminal states get none.
    decimals : int
        Decimals of the value printed in each cell.
    title : str, optional
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
        An image axes (row 0 at the top) and a colorbar.
    """
    n_rows, n_cols = grid.shape
    S = n_rows * n_cols
    v = as_float_array(v, "v", ndim=1, dtype=np.float64)
    if v.shape != (S,):
        raise ValueError(f"v must have shape (S,) = ({S},) for a {n_rows}x{n_cols} grid; got {v.shape}.")
    decimals = check_int(decimals, "decimals", minimum=0)
    from .mdp.policies import action_mask

    mask = None if policy is None else action_mask(policy, S, len(grid.actions))

    fig = _new_figure((1.0 + 1.0 * n_cols, 0.6 + 1.0 * n_rows))
    ax = fig.add_subplot()
    values = v.reshape(n_rows, n_cols)
    image = ax.imshow(values, cmap="viridis", origin="upper")
    fig.colorbar(image, ax=ax, label="v(s)")
    span = values.max() - values.min()
    middle = values.min() + span / 2
    for r in range(n_rows):
        for c in range(n_cols):
            color = "black" if values[r, c] > middle else "white"
            ax.text(c, r + 0.3, f"{values[r, c]:.{decimals}f}", ha="center", va="center",
                    color=color, fontsize=9)
    if mask is not None:
        terminal = set(int(s) for s in grid.terminal)
        for s in range(S):
            if s in terminal:
                continue
            r, c = divmod(s, n_cols)
            for a in np.flatnonzero(mask[s]):
                d_row, d_col = _ACTION_STEPS[grid.actions[a]]
                ax.annotate(
                    "", xy=(c + 0.3 * d_col, r - 0.05 + 0.3 * d_row), xytext=(c, r - 0.05),
                    arrowprops={"arrowstyle": "->", "color": "white", "lw": 1.5},
                )
    ax.set_xticks(np.arange(n_cols))
    ax.set_yticks(np.arange(n_rows))
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(title or "Value function and greedy policy")
    return _finish(fig, path)


# ----------------------------------------------------------------------
# Approximation experiments

_X_AXES = {
    "width": ("widths", "hidden width n_1"),
    "depth": ("depths", "hidden layers (depth)"),
    "params": ("n_params", "parameters P"),
}


def plot_approximation(results, x=None, *, title=None, path=None):
    """Plot sup-norm error against width, depth or parameter count, on log axes.

    Parameters
    ----------
    results : ApproximationResult or sequence of them
        Results of :mod:`mathlearn.approximation`, one line each.
    x : {"width", "depth", "params"}, optional
        The x axis; by default depth for depth experiments, else width.
    title : str, optional
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes, both scales logarithmic, one line per result labelled
        with its activation (and degree), and a dashed horizontal line at
        E_k(g) for each polynomial experiment. The y label names the grid.
    """
    from ._validation import check_choice

    if hasattr(results, "sup_error"):
        results = [results]
    results = list(results)
    if not results or not all(hasattr(r, "sup_error") for r in results):
        raise TypeError("results must be an ApproximationResult or a non-empty sequence of them.")
    if x is None:
        x = "depth" if all(r.experiment == "depth" for r in results) else "width"
    x = check_choice(x, "x", _X_AXES)
    attribute, xlabel = _X_AXES[x]

    fig = _new_figure((6.5, 4.5))
    ax = fig.add_subplot()
    for result in results:
        label = result.activation if result.degree is None else f"{result.activation} (degree {result.degree})"
        if result.experiment == "depth":
            label += f", width {int(result.widths[0])}"
        line, = ax.plot(getattr(result, attribute), result.sup_error, marker="o", label=label)
        if result.reference_error is not None:
            ax.axhline(result.reference_error, color=line.get_color(), linestyle="--", linewidth=1,
                       label=f"E_{result.degree}(g), best polynomial of degree {result.degree}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    grids = sorted({(r.points_per_axis, r.n_inputs, r.grid_size) for r in results})
    grid_text = ", ".join(
        f"{p}^{n}" if n > 1 else f"{size:,}" for p, n, size in grids
    )
    ax.set_ylabel(f"sup-norm error (max over grid of {grid_text} points)")
    targets = ", ".join(sorted({r.target for r in results}))
    ax.set_title(title or f"Approximation of {targets}")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return _finish(fig, path)


def plot_approximation_fit(result, rows=None, *, points=None, title=None, path=None):
    """Plot the target beside fitted networks of an experiment.

    For n = 1 one axes shows g and the chosen networks as curves. For n = 2
    three heatmaps show g, the last chosen network f and |f - g|.

    Parameters
    ----------
    result : ApproximationResult
        A result with n_inputs 1 or 2, its ``networks`` and ``target_spec``.
    rows : sequence of int, optional
        Rows (networks) to draw. By default the first, middle and last for
        n = 1, and the last for n = 2.
    points : int, optional
        Points per axis: 1001 for n = 1 and 101 for n = 2 by default.
    title : str, optional
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if result.n_inputs not in (1, 2):
        raise ValueError(
            f"plot_approximation_fit draws 1-D and 2-D experiments only; got n_inputs = "
            f"{result.n_inputs}. Use plot_approximation for the errors."
        )
    if not result.networks or result.target_spec is None:
        raise ValueError("result has no networks or no target_spec, so there is nothing to draw.")
    count = len(result.networks)
    if rows is None:
        rows = sorted({0, count // 2, count - 1}) if result.n_inputs == 1 else [count - 1]
    rows = [check_int(r, "rows[i]", minimum=0, maximum=count - 1) for r in rows]
    if points is None:
        points = 1001 if result.n_inputs == 1 else 101
    points = check_int(points, "points", minimum=2)
    target = result.target_spec

    if result.n_inputs == 2:
        return _plot_fit_2d(result, rows[-1], points, title, path)

    fig = _new_figure((6.5, 4.0))
    ax = fig.add_subplot()
    t = np.linspace(target.low[0], target.high[0], points)
    ax.plot(t, target(t[:, None]), color="black", linewidth=2, label=f"target {result.target}")
    for row in rows:
        label = f"width {result.widths[row]}, depth {result.depths[row]} (P = {result.n_params[row]})"
        ax.plot(t, result.networks[row].forward(t[:, None])[:, 0], linewidth=1, label=label)
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.set_title(title or f"Fitted networks, sigma = {result.activation}")
    ax.legend(fontsize=8)
    return _finish(fig, path)


def _plot_fit_2d(result, row, points, title, path):
    from .approximation import evaluation_grid

    target = result.target_spec
    grid = evaluation_grid(target.low, target.high, points)
    g = target(grid).reshape(points, points)
    f = result.networks[row].forward(grid)[:, 0].reshape(points, points)
    # evaluation_grid varies the last coordinate fastest, so row i of the
    # reshaped arrays is x1 = const; transposing puts x1 on the horizontal axis.
    extent = (target.low[0], target.high[0], target.low[1], target.high[1])
    panels = [
        (g.T, f"target {result.target}"),
        (f.T, f"network: width {result.widths[row]}, depth {result.depths[row]}, P = {result.n_params[row]}"),
        (np.abs(f - g).T, "|f - g|"),
    ]
    fig = _new_figure((13.0, 4.0))
    axes = fig.subplots(1, 3)
    for ax, (values, label) in zip(axes, panels):
        image = ax.imshow(values, origin="lower", extent=extent, cmap="viridis", aspect="auto")
        fig.colorbar(image, ax=ax)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    fig.suptitle(title or f"Fit with sigma = {result.activation}")
    return _finish(fig, path)
