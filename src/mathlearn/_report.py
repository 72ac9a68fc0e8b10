"""The workflows behind ``mathlearn demo``, ``mathlearn fit`` and ``mathlearn approx``.

Each step prints to a text stream, so the command line and the tests share
one implementation.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from ._validation import check_int


@dataclass
class FitSettings:
    """Settings of the network part of ``demo`` and ``fit``."""

    hidden: tuple = (16,)
    activation: str = "tanh"
    epochs: int = 200
    lr: float = 0.05
    batch_size: int | None = None
    test_size: float = 0.2
    seed: int = 0
    max_background: int | None = None
    plots_dir: str | None = None
    progress: bool | None = None


@dataclass
class FitReport:
    """Numbers computed by :func:`fit_and_explain`, for tests and callers."""

    train_rmse: float
    test_rmse: float
    baseline_train_rmse: float
    baseline_test_rmse: float
    phi: np.ndarray
    expected_value: float
    prediction: float
    mean_abs_phi: np.ndarray
    ranking: list
    train_loss: np.ndarray | None = None
    test_loss: np.ndarray | None = None
    all_phi: np.ndarray | None = None
    figures: list | None = None


def _rmse(prediction, y) -> float:
    return float(np.sqrt(np.mean((prediction - y) ** 2)))


def _least_squares(X_train, y_train):
    """Return (intercept, coefficients) of the least-squares fit with intercept."""
    design = np.column_stack([np.ones(len(X_train)), X_train])
    beta, *_ = np.linalg.lstsq(design, y_train, rcond=None)
    return beta[0], beta[1:]


def fold_standardization(net, x_mean, x_scale, y_mean, y_scale):
    """Return a copy of ``net`` that maps original units to original units.

    If ``net`` was trained on z = (x - x_mean) / x_scale with target
    t = (y - y_mean) / y_scale, the composition
    y_mean + y_scale * net((x - x_mean) / x_scale) is again an MLP of the
    same shape. Its first layer is W_1 / x_scale (column-wise) with bias
    b_1 - (W_1 / x_scale) x_mean. Its output layer is y_scale W_L with bias
    y_scale b_L + y_mean. Folding keeps every Shapley evaluation a single
    C++ forward pass.
    """
    model = net.copy()
    W_first, b_first = model.weights[0], model.biases[0]
    W_first /= x_scale
    b_first -= W_first @ x_mean
    W_last, b_last = model.weights[-1], model.biases[-1]
    W_last *= y_scale
    b_last *= y_scale
    b_last += y_mean
    return model


def fit_and_explain(dataset, settings: FitSettings, out, *, explain_row: int | None = None,
                    baseline_note: str | None = None) -> FitReport:
    """Train an MLP on ``dataset``, compare it with least squares, explain it.

    The data are split (``settings.test_size``, seeded), inputs and target
    standardized with training-set statistics, and the network trained by
    gradient descent or SGD. The Shapley game of a test row x is v_x(S) = mean over training
    rows b of f(x on S, b off S), in the target's original units.

    ``baseline_note``, when given, is printed below the RMSE table.

    With ``settings.plots_dir``, the loss curves and the Shapley figures are
    also written there as PNG files (see :func:`_write_fit_figures`).
    """
    import mathlearn as ml
    from mathlearn import shapley

    X, y = dataset.X, dataset.y
    n_samples, n_features = X.shape
    # Checked on all rows, so that the error does not depend on the split.
    x_labels = [f"feature column {name!r}" for name in dataset.feature_names]
    y_labels = [f"target column {dataset.target_name!r}"]
    _mean_and_std(X, x_labels)
    _mean_and_std(y[:, None], y_labels)
    rng = np.random.default_rng(settings.seed)
    train_index, test_index = ml.training.split_indices(n_samples, settings.test_size, rng)
    X_train, X_test = X[train_index], X[test_index]
    y_train, y_test = y[train_index], y[test_index]
    n_background = len(X_train)
    if settings.max_background is not None:
        n_background = min(n_background, settings.max_background)
    if explain_row is None:
        explain_row = 0
    _check_attribution_request(n_features, n_background, len(X_test), explain_row)

    x_mean, x_scale = _mean_and_std(X_train, x_labels)
    x_scale[x_scale == 0] = 1.0
    y_mean, y_scale = _mean_and_std(y_train[:, None], y_labels)
    y_mean, y_scale = float(y_mean[0]), float(y_scale[0]) or 1.0
    Z_train = (X_train - x_mean) / x_scale
    t_train = (y_train - y_mean) / y_scale

    sizes = [n_features, *settings.hidden, 1]
    if settings.batch_size is None:
        method = "full-batch gradient descent"
    else:
        method = f"SGD with mini-batches of {settings.batch_size}"
    net = ml.MLP(sizes, activation=settings.activation, seed=rng)
    print(
        f"split: {len(train_index)} training / {len(test_index)} test rows (seed {settings.seed}); "
        "inputs and target standardized with training-set mean and standard deviation",
        file=out,
    )
    print(
        f"network: MLP {sizes}, {settings.activation}, P = {net.n_params} parameters; "
        f"{method}, lr={settings.lr}, {settings.epochs} epochs",
        file=out,
    )
    started = time.perf_counter()
    Z_test = (X_test - x_mean) / x_scale
    t_test = (y_test - y_mean) / y_scale
    train_loss, test_loss = _train_with_history(net, Z_train, t_train, Z_test, t_test, settings, rng)
    elapsed = time.perf_counter() - started
    folded = fold_standardization(net, x_mean, x_scale, y_mean, y_scale)

    def model(rows):
        return folded.forward(rows)[:, 0]

    def attributions(x_row):
        # The game of the MLP itself (not of the wrapper above), so that
        # mathlearn.shapley can use its MLP kernel. One output: column 0.
        return np.asarray(shapley.exact(shapley.ModelGame(folded, x_row, background)))[:, 0]

    intercept, coef = _least_squares(X_train, y_train)
    baseline_train = _rmse(intercept + X_train @ coef, y_train)
    baseline_test = _rmse(intercept + X_test @ coef, y_test)
    train_rmse = _rmse(model(X_train), y_train)
    test_rmse = _rmse(model(X_test), y_test)
    print(f"trained in {elapsed:.2f} s", file=out)
    print(f"{'':16s}{'train RMSE':>12s}{'test RMSE':>12s}", file=out)
    print(f"{'least squares':16s}{baseline_train:12.3f}{baseline_test:12.3f}", file=out)
    print(f"{'MLP':16s}{train_rmse:12.3f}{test_rmse:12.3f}", file=out)
    if baseline_note:
        print(baseline_note, file=out)

    background = X_train
    if settings.max_background is not None and len(background) > settings.max_background:
        rows = rng.choice(len(background), settings.max_background, replace=False)
        background = background[np.sort(rows)]
    x = X_test[explain_row]

    print(file=out)
    print(
        f"Exact Shapley values of the {n_features} features for test row {explain_row} "
        f"(2^{n_features} = {2**n_features} coalitions, {len(background)} background rows):",
        file=out,
    )
    started = time.perf_counter()
    phi = attributions(x)
    prediction = float(model(x[None, :])[0])
    expected = float(np.mean(model(background)))
    width = max(len(name) for name in dataset.feature_names)
    print(f"  {'feature':{width}s} {'x':>12s} {'phi':>12s}", file=out)
    for name, value, contribution in zip(dataset.feature_names, x, phi):
        print(f"  {name:{width}s} {value:12.4g} {contribution:12.4f}", file=out)
    print(f"  sum of phi      = {phi.sum():.6f}", file=out)
    print(
        f"  f(x) - E f      = {prediction:.6f} - {expected:.6f} = {prediction - expected:.6f}"
        f"  (efficiency: difference {abs(phi.sum() - (prediction - expected)):.1e})",
        file=out,
    )

    all_phi = np.empty((len(X_test), n_features))
    from ._progress import progress

    rows_bar = progress(X_test, total=len(X_test), desc="Shapley values", unit="row", show=settings.progress)
    for row, x_row in enumerate(rows_bar):
        all_phi[row] = attributions(x_row)
    rows_bar.close()
    mean_abs = np.abs(all_phi).mean(axis=0)
    order = np.argsort(-mean_abs, kind="stable")
    ranking = [dataset.feature_names[i] for i in order]
    elapsed = time.perf_counter() - started
    print(file=out)
    print(f"Features ranked by mean |phi| over the {len(X_test)} test rows ({elapsed:.2f} s in all):", file=out)
    for rank, i in enumerate(order, start=1):
        print(f"  {rank:2d}. {dataset.feature_names[i]:{width}s} {mean_abs[i]:12.4f}", file=out)

    figures = None
    if settings.plots_dir is not None:
        figures = _write_fit_figures(
            settings.plots_dir, out, train_loss=train_loss, test_loss=test_loss, phi=phi, x=x,
            expected=expected, all_phi=all_phi, X_test=X_test, names=dataset.feature_names,
            row=explain_row,
        )

    return FitReport(
        train_rmse=train_rmse,
        test_rmse=test_rmse,
        baseline_train_rmse=baseline_train,
        baseline_test_rmse=baseline_test,
        phi=phi,
        expected_value=expected,
        prediction=prediction,
        mean_abs_phi=mean_abs,
        ranking=ranking,
        train_loss=train_loss,
        test_loss=test_loss,
        all_phi=all_phi,
        figures=figures,
    )


def _mean_and_std(values, labels):
    """Return the mean and standard deviation of each column of ``values``, shape (n,) each.

    Raise ValueError naming the column when either overflows float64. The
    squares in the standard deviation overflow once values differ from
    the mean by about sqrt(1.8e308) = 1.3e154, and NumPy then returns inf
    with only a RuntimeWarning, which would turn the column into zeros.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        mean = values.mean(axis=0)
        std = values.std(axis=0)
    overflow = ~(np.isfinite(mean) & np.isfinite(std))
    if overflow.any():
        j = int(np.flatnonzero(overflow)[0])
        largest = float(np.abs(values[:, j]).max())
        raise ValueError(
            f"{labels[j]} cannot be standardized: its standard deviation overflows float64 "
            f"(largest |value| {largest:.3g}). Rescale the column, for example by dividing it by "
            f"a power of 10, so that its values stay below about 1e150 in magnitude."
        )
    return mean, std


# Exact attributions of every test row evaluate the network this many times
# at most; beyond it, minutes of work would pass before the first output.
MAX_EXACT_EVALUATIONS = 4 * 10**9


def _check_attribution_request(n_features: int, n_background: int, n_test: int, explain_row) -> None:
    """Raise ValueError before training when the attribution step cannot run."""
    if n_test == 0:
        raise ValueError(
            "the test set is empty, but attributions are computed on test rows. "
            "Use a test size above 0 (--test-size 0.2)."
        )
    explain_row = check_int(explain_row, "row")
    if not 0 <= explain_row < n_test:
        raise ValueError(
            f"the explained test row (--row) must be between 0 and {n_test - 1}, since the test "
            f"set has {n_test} rows; got {explain_row}."
        )
    evaluations = 2**n_features * n_background * (n_test + 1)
    if evaluations > MAX_EXACT_EVALUATIONS:
        raise ValueError(
            f"exact attributions of {n_features} features for {n_test} test rows evaluate the "
            f"network 2^{n_features} x {n_background} background rows x {n_test + 1} = "
            f"{evaluations:.3g} times, above the limit of {MAX_EXACT_EVALUATIONS:.0e}. Lower "
            "--background or --test-size, or select fewer feature columns."
        )


def _train_with_history(net, Z_train, t_train, Z_test, t_test, settings, rng):
    """Train one epoch per call of ``ml.train`` and record both losses after each.

    ``ml.train`` measures the test loss only on a split it draws itself, so
    the test rows of this report are evaluated here. Losses are the MSE of
    the standardized target.

    Returns
    -------
    train_loss, test_loss : ndarray of shape (epochs + 1,)
        Index 0 before training, index e after epoch e.
    """
    import mathlearn as ml
    from ._progress import progress

    epochs = settings.epochs
    train_loss = np.empty(epochs + 1)
    test_loss = np.full(epochs + 1, np.nan)
    train_loss[0] = net.loss(Z_train, t_train)
    if len(Z_test):
        test_loss[0] = net.loss(Z_test, t_test)
    bar = progress(range(1, epochs + 1), total=epochs, desc="training", unit="epoch", show=settings.progress)
    for epoch in bar:
        try:
            history = ml.train(
                net, Z_train, t_train, epochs=1, lr=settings.lr, batch_size=settings.batch_size,
                test_size=0, seed=rng,
            )
        except ValueError as exc:
            if not str(exc).startswith("training diverged"):
                raise
            # ml.train counts from 1 in every call, so its epoch numbers are replaced.
            raise ValueError(
                f"training diverged: the training loss became infinite or NaN in epoch {epoch} of "
                f"{epochs} with lr={settings.lr}. Lower --lr (for example to {settings.lr / 10:g}). "
                f"The parameters were restored to their values after epoch {epoch - 1}."
            ) from None
        train_loss[epoch] = history.train_loss[-1]
        if len(Z_test):
            test_loss[epoch] = net.loss(Z_test, t_test)
    bar.close()
    return train_loss, test_loss


def _write_fit_figures(directory, out, *, train_loss, test_loss, phi, x, expected, all_phi, X_test, names, row):
    """Write the loss curves and the Shapley figures of a fit as PNG files."""
    import os

    from . import plots

    paths = [os.path.join(directory, name) for name in (
        "loss.png", "shapley_bar.png", "shapley_waterfall.png", "shapley_summary.png")]
    plots.plot_loss_curves(train_loss, test_loss, loss_name="MSE (standardized target)", path=paths[0])
    plots.plot_shapley_bar(phi, names, x=x, title=f"Shapley values of test row {row}", path=paths[1])
    plots.plot_shapley_waterfall(phi, expected, names, x=x, path=paths[2])
    plots.plot_shapley_summary(all_phi, names, X=X_test, path=paths[3])
    for path in paths:
        print(f"wrote {path}", file=out)
    return paths


def solve_gridworld(out, plots_dir=None):
    """Solve the 5x5 gridworld of Sutton and Barto (Example 3.5) and print it.

    With ``plots_dir``, also write the value function and the optimal
    actions to ``gridworld.png`` there.
    """
    from mathlearn import mdp

    grid = mdp.examples.gridworld_5x5()
    epsilon = 1e-8
    # One sweep first, so that the timing below excludes Numba's compilation
    # (or loading from its cache) of the sweep kernels on first use.
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mdp.ConvergenceWarning)
        mdp.value_iteration(grid.model, epsilon=epsilon, max_iter=1)
    setup = time.perf_counter() - started
    started = time.perf_counter()
    result = mdp.value_iteration(grid.model, epsilon=epsilon)
    elapsed = time.perf_counter() - started
    print(
        f"value iteration, gamma = {grid.model.gamma}, epsilon = {epsilon:g}: "
        f"{result.n_iter} sweeps, converged = {result.converged}, "
        f"sup-norm error bound {result.bound:.1e} ({elapsed:.3f} s, after {setup:.2f} s to "
        "compile or load the Numba kernels)",
        file=out,
    )
    print("v* (rounded to one decimal, as in the book's Figure 3.5):", file=out)
    print(grid.format_values(result.v), file=out)
    # Each q is within gamma * bound of q*, so every action whose q is within
    # 2 gamma bound of the best may be optimal. All of them are drawn, as in
    # the book's figure, with 1e-9 more to cover round-off.
    atol = 2 * grid.model.gamma * result.bound + 1e-9
    print("greedy policy (every optimal action drawn, as in Figure 3.5):", file=out)
    optimal = mdp.optimal_actions(grid.model, result.v, atol=atol)
    print(grid.format_policy(optimal), file=out)
    if plots_dir is not None:
        import os

        from . import plots

        path = os.path.join(plots_dir, "gridworld.png")
        plots.plot_value_function(grid, result.v, optimal, title="5x5 gridworld: v* and optimal actions",
                                  path=path)
        print(f"wrote {path}", file=out)
    return result


def run_density_experiments(theorems, target, out, *, activation=None, widths=None, depths=None,
                            fit=None, n_train=None, points_per_axis=None, seed=0, restarts=None,
                            plots_dir=None, progress=None):
    """Run density experiments, print their error tables and optionally plot them.

    Parameters
    ----------
    theorems : sequence of str
        Keys of ``mathlearn.approximation.THEOREMS``.
    target : str
        A name of ``mathlearn.approximation.TARGETS``.
    Other parameters
        Passed to ``density_experiment`` when not None.

    Returns
    -------
    list of ApproximationResult
        In the order of ``theorems``.
    """
    import os

    from . import approximation

    results = []
    for theorem in theorems:
        kind = approximation.THEOREMS[theorem][0]
        options = {"seed": seed, "progress": progress}
        if kind == "depth" and depths is not None:
            options["depths"] = depths
        if kind != "depth" and widths is not None:
            options["widths"] = widths
        for key, value in (("fit", fit), ("n_train", n_train), ("points_per_axis", points_per_axis),
                           ("restarts", restarts)):
            if value is not None:
                options[key] = value
        started = time.perf_counter()
        result = approximation.density_experiment(theorem, target, activation, **options)
        print(result.format_table(), file=out)
        print(f"({time.perf_counter() - started:.1f} s)", file=out)
        print(file=out)
        results.append(result)

    if plots_dir is not None:
        from . import plots

        width_results = [r for r in results if r.experiment != "depth"]
        depth_results = [r for r in results if r.experiment == "depth"]
        written = []
        if width_results:
            path = os.path.join(plots_dir, "approx_width.png")
            plots.plot_approximation(width_results, x="width", path=path)
            written.append(path)
            path = os.path.join(plots_dir, "approx_params.png")
            plots.plot_approximation(results, x="params", path=path)
            written.append(path)
        if depth_results:
            path = os.path.join(plots_dir, "approx_depth.png")
            plots.plot_approximation(depth_results, x="depth", path=path)
            written.append(path)
        if results[0].n_inputs in (1, 2):
            for result, theorem in zip(results, theorems):
                path = os.path.join(plots_dir, f"approx_fit_{theorem}.png")
                plots.plot_approximation_fit(result, path=path)
                written.append(path)
        for path in written:
            print(f"wrote {path}", file=out)
    return results
