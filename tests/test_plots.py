"""Figures: returned objects, their axes and labels, and the PNG files written."""

import struct

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import mathlearn as ml  # noqa: E402
from mathlearn import approximation as A  # noqa: E402
from mathlearn import mdp, plots  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """Return (width, height) from the IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def expected_size(fig):
    width, height = fig.get_size_inches() * plots.DPI
    return round(width), round(height)


def test_loss_curves_from_training_result(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(60, 1))
    net = ml.MLP([1, 6, 1], seed=0)
    history = ml.train(net, X, np.sin(3 * X), epochs=15, lr=0.1, test_size=0.25, seed=0)
    path = tmp_path / "loss.png"
    fig = plots.plot_loss_curves(history, path=path)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["train", "test"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), history.train_loss)
    assert ax.get_xlabel() == "epoch"
    assert ax.get_ylabel() == "MSE loss"
    assert ax.get_yscale() == "log"
    assert png_size(path) == expected_size(fig)


def test_loss_curves_leave_out_nan_test_curve():
    fig = plots.plot_loss_curves([1.0, 0.5, 0.25], [np.nan] * 3)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["train"]


def test_shapley_bar_sorted_by_magnitude(tmp_path):
    phi = np.array([0.5, -2.0, 0.1, 1.0])
    path = tmp_path / "bar.png"
    fig = plots.plot_shapley_bar(phi, ["a", "b", "c", "d"], path=path)
    ax = fig.axes[0]
    widths = [patch.get_width() for patch in ax.patches]
    # barh puts the first bar at the bottom, so the largest |phi| comes last.
    assert widths == [0.1, 0.5, 1.0, -2.0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c", "a", "d", "b"]
    assert ax.get_xlabel() == "Shapley value phi_i"
    assert png_size(path) == expected_size(fig)


def test_shapley_waterfall_ends_at_prediction(tmp_path):
    phi = np.array([0.3, -0.2, 0.05, 0.6, -0.01])
    expected = 2.0
    path = tmp_path / "waterfall.png"
    fig = plots.plot_shapley_waterfall(phi, expected, x=np.arange(5.0), max_features=3, path=path)
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 4  # three features and one step for the other two
    assert bars[0].get_x() == pytest.approx(expected)
    end = bars[-1].get_x() + bars[-1].get_width()
    assert end == pytest.approx(expected + phi.sum(), abs=1e-12)
    assert f"f(x) = {expected + phi.sum():.4g}" in ax.get_title()
    assert ax.get_yticklabels()[-1].get_text() == "2 other features"
    assert png_size(path) == expected_size(fig)


def test_shapley_summary_mean_abs(tmp_path):
    rng = np.random.default_rng(1)
    phi = rng.normal(size=(40, 3)) * [1.0, 3.0, 0.5]
    X = rng.normal(size=(40, 3))
    path = tmp_path / "summary.png"
    fig = plots.plot_shapley_summary(phi, ["u", "v", "w"], X=X, path=path)
    assert len(fig.axes) == 2
    widths = [patch.get_width() for patch in fig.axes[0].patches]
    np.testing.assert_allclose(sorted(widths), np.sort(np.abs(phi).mean(axis=0)))
    assert fig.axes[0].get_yticklabels()[-1].get_text() == "v"
    assert fig.axes[0].get_xlabel() == "mean |phi_i|"
    assert png_size(path) == expected_size(fig)


def test_value_function_heatmap_and_arrows(tmp_path):
    grid = mdp.examples.gridworld_5x5()
    result = mdp.value_iteration(grid.model, epsilon=1e-10)
    optimal = mdp.optimal_actions(grid.model, result.v, atol=1e-6)
    path = tmp_path / "grid.png"
    fig = plots.plot_value_function(grid, result.v, optimal, path=path)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), result.v.reshape(5, 5))
    arrows = [child for child in ax.texts if getattr(child, "arrow_patch", None) is not None]
    assert len(arrows) == int(optimal.sum())
    values = [t.get_text() for t in ax.texts if t.get_text()]
    assert "24.4" in values
    assert "22.0" in values
    assert ax.get_xlabel() == "column"
    assert png_size(path) == expected_size(fig)


def test_value_function_skips_terminal_states():
    grid = mdp.examples.gridworld_4x4()
    v = np.zeros(grid.model.n_states)
    fig = plots.plot_value_function(grid, v, np.zeros(grid.model.n_states, dtype=int))
    arrows = [child for child in fig.axes[0].texts if getattr(child, "arrow_patch", None) is not None]
    assert len(arrows) == grid.model.n_states - len(grid.terminal)


def test_approximation_log_axes(tmp_path):
    tanh = A.width_experiment("sine", "tanh", (1, 4, 16), points_per_axis=201)
    poly = A.polynomial_experiment("sine", "identity", (1, 4, 16), points_per_axis=201)
    path = tmp_path / "approx.png"
    fig = plots.plot_approximation([tanh, poly], path=path)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "hidden width n_1"
    assert "201" in ax.get_ylabel()
    lines = ax.get_lines()
    assert len(lines) == 3  # two results and the E_1 reference line
    np.testing.assert_array_equal(lines[0].get_xdata(), [1, 4, 16])
    np.testing.assert_array_equal(lines[0].get_ydata(), tanh.sup_error)
    assert lines[2].get_ydata()[0] == poly.reference_error
    assert png_size(path) == expected_size(fig)


def test_approximation_depth_and_params_axes():
    deep = A.depth_experiment("abs", "relu", (1, 2), fit="lstsq", points_per_axis=51)
    assert plots.plot_approximation(deep).axes[0].get_xlabel() == "hidden layers (depth)"
    fig = plots.plot_approximation(deep, x="params")
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_xdata(), deep.n_params)


def test_approximation_fit_draws_target_and_networks(tmp_path):
    result = A.width_experiment("abs", "relu", (2, 8, 32), points_per_axis=101)
    path = tmp_path / "fit.png"
    fig = plots.plot_approximation_fit(result, path=path)
    assert len(fig.axes[0].get_lines()) == 4
    assert png_size(path) == expected_size(fig)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: plots.plot_shapley_bar([1.0, 2.0], ["a"]), ValueError, "one name per feature"),
        (lambda: plots.plot_shapley_bar(np.ones((2, 3))), ValueError, "plot one column"),
        (lambda: plots.plot_shapley_summary(np.ones((4, 2)), X=np.ones((3, 2))), ValueError, "shape of phi"),
        (lambda: plots.plot_loss_curves([1.0, 0.5], [1.0]), ValueError, "shape of train_loss"),
        (lambda: plots.plot_approximation([]), TypeError, "ApproximationResult"),
        (lambda: plots.plot_shapley_waterfall([1.0], np.nan), ValueError, "expected_value"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_missing_directory_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plots.plot_shapley_bar([1.0], path=tmp_path / "absent" / "bar.png")


def test_value_function_rejects_bad_policy():
    grid = mdp.examples.gridworld_5x5()
    with pytest.raises(ValueError, match="actions in 0 .. 3"):
        plots.plot_value_function(grid, np.zeros(25), np.full(25, 7))


def test_approximation_fit_2d_heatmaps(tmp_path):
    result = A.width_experiment("peak", "tanh", (4, 16), points_per_axis=21, n_train=300)
    path = tmp_path / "fit2d.png"
    fig = plots.plot_approximation_fit(result, points=11, path=path)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 3
    grid = A.evaluation_grid([-1, -1], [1, 1], 11)
    g = result.target_spec(grid).reshape(11, 11).T
    f = result.networks[-1].forward(grid)[:, 0].reshape(11, 11).T
    np.testing.assert_allclose(images[0].get_array(), g)
    np.testing.assert_allclose(images[2].get_array(), np.abs(f - g))
    assert png_size(path) == expected_size(fig)


def test_approximation_fit_2d_orientation():
    def x1_minus_x2_squared(X):
        return X[:, 0] - X[:, 1] ** 2

    result = A.width_experiment(x1_minus_x2_squared, "tanh", (4,), box=([0, 0], [1, 2]),
                                points_per_axis=11, n_train=100)
    image = plots.plot_approximation_fit(result, points=5).axes[0].images[0]
    values = np.asarray(image.get_array())
    # With origin="lower", row 0 is x2 = 0 and x1 grows along it from 0 to 1.
    np.testing.assert_allclose(values[0], np.linspace(0, 1, 5))
    # Column 0 is x1 = 0 and x2 grows up it from 0 to 2.
    np.testing.assert_allclose(values[:, 0], -np.linspace(0, 2, 5) ** 2)
    assert image.get_extent() == [0.0, 1.0, 0.0, 2.0]
