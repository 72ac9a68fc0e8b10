"""The workflows behind ``mathlearn demo`` and ``mathlearn fit``.

Each step prints to a text stream, so the command line and the tests share
one implementation.
"""

from __future__ import annotations

import time
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


def fit_and_explain(dataset, settings: FitSettings, out, *, explain_row: int | None = None) -> FitReport:
    """Train an MLP on ``dataset``, compare it with least squares, explain it.

    The data are split (``settings.test_size``, seeded), inputs and target
    standardized with training-set statistics, and the network trained by
    gradient descent or SGD. The Shapley game of a test row x is v_x(S) = mean over training
    rows b of f(x on S, b off S), in the target's original units.
    """
    import mathlearn as ml
    from mathlearn import shapley

    X, y = dataset.X, dataset.y
    n_samples, n_features = X.shape
    rng = np.random.default_rng(settings.seed)
    train_index, test_index = ml.training.split_indices(n_samples, settings.test_size, rng)
    X_train, X_test = X[train_index], X[test_index]
    y_train, y_test = y[train_index], y[test_index]

    x_mean = X_train.mean(axis=0)
    x_scale = X_train.std(axis=0)
    x_scale[x_scale == 0] = 1.0
    y_mean = y_train.mean()
    y_scale = y_train.std() or 1.0
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
    ml.train(
        net,
        Z_train,
        t_train,
        epochs=settings.epochs,
        lr=settings.lr,
        batch_size=settings.batch_size,
        test_size=0,
        seed=rng,
    )
    elapsed = time.perf_counter() - started
    folded = fold_standardization(net, x_mean, x_scale, y_mean, y_scale)

    def model(rows):
        return folded.forward(rows)[:, 0]

    intercept, coef = _least_squares(X_train, y_train)
    baseline_train = _rmse(intercept + X_train @ coef, y_train)
    baseline_test = _rmse(intercept + X_test @ coef, y_test)
    train_rmse = _rmse(model(X_train), y_train)
    test_rmse = _rmse(model(X_test), y_test)
    print(f"trained in {elapsed:.2f} s", file=out)
    print(f"{'':16s}{'train RMSE':>12s}{'test RMSE':>12s}", file=out)
    print(f"{'least squares':16s}{baseline_train:12.3f}{baseline_test:12.3f}", file=out)
    print(f"{'MLP':16s}{train_rmse:12.3f}{test_rmse:12.3f}", file=out)

    background = X_train
    if settings.max_background is not None and len(background) > settings.max_background:
        rows = rng.choice(len(background), settings.max_background, replace=False)
        background = background[np.sort(rows)]
    if explain_row is None:
        explain_row = 0
    explain_row = check_int(explain_row, "explain_row", minimum=0, maximum=len(X_test) - 1)
    x = X_test[explain_row]

    print(file=out)
    print(
        f"Exact Shapley values of the {n_features} features for test row {explain_row} "
        f"(2^{n_features} = {2**n_features} coalitions, {len(background)} background rows):",
        file=out,
    )
    started = time.perf_counter()
    # folded.forward itself, not the wrapper `model`, so that exact() runs the
    # C++ kernel of the MLP game. Its one output column is column 0 of phi.
    game = shapley.ModelGame(folded.forward, x, background)
    phi = np.asarray(shapley.exact(game)[:, 0], dtype=np.float64)
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
    for row, x_row in enumerate(X_test):
        all_phi[row] = shapley.exact(shapley.ModelGame(folded.forward, x_row, background))[:, 0]
    mean_abs = np.abs(all_phi).mean(axis=0)
    order = np.argsort(-mean_abs, kind="stable")
    ranking = [dataset.feature_names[i] for i in order]
    elapsed = time.perf_counter() - started
    print(file=out)
    print(f"Features ranked by mean |phi| over the {len(X_test)} test rows ({elapsed:.2f} s in all):", file=out)
    for rank, i in enumerate(order, start=1):
        print(f"  {rank:2d}. {dataset.feature_names[i]:{width}s} {mean_abs[i]:12.4f}", file=out)

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
    )


def solve_gridworld(out):
    """Solve the 5x5 gridworld of Sutton and Barto (Example 3.5) and print it."""
    from mathlearn import mdp

    grid = mdp.examples.gridworld_5x5()
    epsilon = 1e-8
    started = time.perf_counter()
    result = mdp.value_iteration(grid.model, epsilon=epsilon)
    elapsed = time.perf_counter() - started
    print(
        f"value iteration, gamma = {grid.model.gamma}, epsilon = {epsilon:g}: "
        f"{result.n_iter} sweeps, converged = {result.converged}, "
        f"sup-norm error bound {result.bound:.1e} ({elapsed:.3f} s)",
        file=out,
    )
    print("v* (rounded to one decimal, as in the book's Figure 3.5):", file=out)
    print(grid.format_values(result.v), file=out)
    # Each q is within gamma * bound of q*, so every action whose q is within
    # 2 gamma bound of the best may be optimal. All of them are drawn, as in
    # the book's figure, with 1e-9 more to cover round-off.
    atol = 2 * grid.model.gamma * result.bound + 1e-9
    print("greedy policy (every optimal action drawn, as in Figure 3.5):", file=out)
    print(grid.format_policy(mdp.optimal_actions(grid.model, result.v, atol=atol)), file=out)
    return result
