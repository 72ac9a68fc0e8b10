"""Density experiments: grid errors, least-squares fits, polynomial and deep narrow networks."""

import numpy as np
import pytest

import mathlearn as ml
from mathlearn import activations
from mathlearn import approximation as A

EPS = np.finfo(np.float64).eps


# ----------------------------------------------------------------------
# Grids and the best polynomial


def test_grid_shape_and_corners():
    grid = A.evaluation_grid([-1, 0], [1, 2], 5)
    assert grid.shape == (25, 2)
    assert grid.min(axis=0).tolist() == [-1.0, 0.0]
    assert grid.max(axis=0).tolist() == [1.0, 2.0]
    # The last coordinate varies fastest, in steps of (2 - 0) / 4.
    np.testing.assert_array_equal(grid[:5, 1], [0.0, 0.5, 1.0, 1.5, 2.0])


def test_best_affine_error_of_abs_is_one_half():
    # |x| on [-1, 1]: the best affine approximation is the constant 1/2, and
    # the error 1/2 is attained at -1, 0 and 1, which are grid points.
    assert A.best_polynomial_error("abs", 1) == pytest.approx(0.5, abs=1e-9)


def test_best_cubic_quadratic_error_is_one_quarter():
    # x^3 - p(x) with p of degree 2 is smallest for x^3 - T_3(x) / 4 = 3x/4,
    # error 1/4 at +-1 and +-1/2 (Chebyshev equioscillation), all grid points.
    assert A.best_polynomial_error("cubic", 2) == pytest.approx(0.25, abs=1e-9)


def test_best_quadratic_error_of_abs_on_grid():
    # Over [-1, 1] the minimax quadratic is x^2 + 1/8, with error 1/8 at 0, +-1/sqrt(2)
    # and +-1. +-1/sqrt(2) lies between grid points (spacing h = 1e-3), and
    # the error curve is flat there with |e''| = 2, so the grid value is at
    # most 2 h^2 / 8 below 1/8.
    h = 2.0 / 2000
    value = A.best_polynomial_error("abs", 2)
    assert value <= 0.125 + 1e-9
    assert value >= 0.125 - 2 * h**2 / 8 - 1e-9


def test_sup_error_is_max_abs_difference():
    assert A.sup_error([1.0, 2.0, 3.0], [1.5, 2.0, 0.0]) == 3.0


# ----------------------------------------------------------------------
# Width experiments


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_lstsq_residual_nonincreasing_in_width(activation):
    # Width w uses the first w units of one pool, so the column space of the
    # least-squares design grows with w and the residual cannot grow. Only
    # rounding (relative size about P eps) can make it look larger.
    result = A.width_experiment("sine", activation, (1, 2, 4, 8, 16, 32), points_per_axis=201)
    residual = result.train_rms
    for w in range(len(residual) - 1):
        assert residual[w + 1] <= residual[w] * (1 + 1e-8) + 1e-12, (result.widths[w + 1], residual)


def test_tanh_width_drives_error_down():
    result = A.width_experiment("sine", "tanh", (1, 64))
    assert result.sup_error[-1] < 1e-3
    assert result.sup_error[-1] < result.sup_error[0] / 100


def test_width_experiment_parameter_count():
    result = A.width_experiment("ripple", "tanh", (1, 3, 7), points_per_axis=21, n_train=200)
    n, m = 2, 1
    expected = [(n + 1) * w + (w + 1) * m for w in (1, 3, 7)]
    assert result.n_params.tolist() == expected
    assert result.grid_size == 21**2


def test_width_experiment_is_reproducible():
    first = A.width_experiment("runge", "tanh", (2, 8), points_per_axis=101, seed=5)
    second = A.width_experiment("runge", "tanh", (2, 8), points_per_axis=101, seed=5)
    other = A.width_experiment("runge", "tanh", (2, 8), points_per_axis=101, seed=6)
    np.testing.assert_array_equal(first.sup_error, second.sup_error)
    np.testing.assert_array_equal(first.networks[1].params, second.networks[1].params)
    assert not np.array_equal(first.sup_error, other.sup_error)


def test_affine_target_is_fitted_exactly():
    # g is affine and sigma = identity, so the network class contains g and
    # least squares recovers it up to rounding of the 2-D solve.
    def g(X):
        return 3 * X[:, 0] - 2 * X[:, 1] + 1

    result = A.width_experiment(g, "identity", (2,), box=([0, -1], [2, 1]), points_per_axis=11)
    assert result.target == "g"
    assert result.sup_error[0] < 1e4 * EPS * 8


def test_lbfgs_never_worse_than_lstsq_start():
    options = dict(points_per_axis=101, n_train=128, seed=3)
    start = A.width_experiment("abs", "tanh", (4, 8), fit="lstsq", **options)
    trained = A.width_experiment("abs", "tanh", (4, 8), fit="lbfgs", maxiter=200, **options)
    assert (trained.train_rms <= start.train_rms * (1 + 1e-12)).all()


def test_gd_fit_runs_and_stays_finite():
    result = A.width_experiment("sine", "tanh", (4,), fit="gd", epochs=20, lr=0.05, points_per_axis=51)
    assert np.isfinite(result.sup_error).all()


# ----------------------------------------------------------------------
# Polynomial sigma (Leshno, Lin, Pinkus and Schocken)


def _polynomial_activations():
    names = [name for name, sigma in activations.ACTIVATIONS.items() if sigma.polynomial]
    return names + ["poly2", "poly3"]


def test_polynomial_error_bounded_below_by_best_polynomial():
    result = A.polynomial_experiment("sine", "identity", (1, 4, 16, 64))
    assert result.degree == 1
    assert result.reference_error == pytest.approx(1.0, abs=1e-6)  # max |sin(2 pi x) - 0| on the grid
    # Networks with sigma = identity are affine, so none beats E_1.
    assert (result.sup_error >= result.reference_error - 1e-9).all()
    # A tanh network of width 16 does, as Leshno et al. predict.
    tanh = A.width_experiment("sine", "tanh", (16,))
    assert tanh.sup_error[0] < result.reference_error


def _finite_difference(values: np.ndarray, order: int) -> np.ndarray:
    for _ in range(order):
        values = values[1:] - values[:-1]
    return values


@pytest.mark.parametrize("name", _polynomial_activations())
def test_polynomial_network_differences_vanish(name):
    # A one-hidden-layer network with sigma of degree k is a polynomial of
    # degree k in x, so its finite differences of order k + 1 on an evenly
    # spaced grid are 0. Rounding: each value f(x_i) carries an error of at
    # most about P eps max|f|; the (k+1)-th difference sums 2^(k+1) of them.
    degree = A.polynomial_degree(name)
    result = A.width_experiment("sine", name, (8,), points_per_axis=101)
    net = result.networks[0]
    x = np.linspace(-1, 1, 101)[:, None]
    f = net.forward(x)[:, 0]
    scale = np.abs(f).max() + sum(np.abs(W).sum() for W in net.weights)
    bound = 2 ** (degree + 1) * net.n_params * EPS * scale
    assert np.abs(_finite_difference(f, degree + 1)).max() <= bound
    # The same check fails for tanh, so it can tell the two apart.
    tanh = A.width_experiment("sine", "tanh", (8,), points_per_axis=101).networks[0]
    assert np.abs(_finite_difference(tanh.forward(x)[:, 0], degree + 1)).max() > 1e3 * bound


def test_higher_degree_polynomial_activation():
    names = [n for n in _polynomial_activations() if n != "identity"]
    if not names:
        pytest.skip("no polynomial activation of degree > 1 in mathlearn.activations yet")
    name = names[0]
    degree = A.polynomial_degree(name)
    result = A.polynomial_experiment("sine", name, (2, 8, 32), points_per_axis=201)
    assert (result.sup_error >= result.reference_error - 1e-9).all()
    assert degree >= 2


@pytest.mark.parametrize("k", [0, 2, 3, 5])
def test_polynomial_degree_found_from_values(monkeypatch, k):
    # A record without a degree attribute, as a new activation t -> t^k might be.
    record = activations.Activation(
        f"power{k}", 99, lambda z, p: np.asarray(z, dtype=float) ** k, lambda z, p: k * np.asarray(z) ** max(k - 1, 0),
        bounded=False, polynomial=True,
    )
    monkeypatch.setitem(activations.ACTIVATIONS, record.name, record)
    assert A.polynomial_degree(record.name) == k


def test_polynomial_degree_of_identity_and_tanh():
    assert A.polynomial_degree("identity") == 1
    assert A.polynomial_degree("tanh") is None


def test_polynomial_experiment_rejects_tanh():
    with pytest.raises(ValueError, match="must be a polynomial"):
        A.polynomial_experiment("sine", "tanh")


# ----------------------------------------------------------------------
# Width n + m + 2 and growing depth (Kidger and Lyons)


def test_kidger_lyons_width():
    assert A.kidger_lyons_width(1, 1) == 4
    assert A.kidger_lyons_width(2, 1) == 5
    assert A.kidger_lyons_width(3, 2) == 7


def test_depth_experiment_width_and_parameters():
    result = A.depth_experiment("ripple", "relu", (1, 3), fit="lstsq", points_per_axis=21, n_train=100)
    w = 5
    assert result.widths.tolist() == [w, w]
    expected = [(2 + 1) * w + (d - 1) * (w + 1) * w + (w + 1) for d in (1, 3)]
    assert result.n_params.tolist() == expected
    assert [net.layer_sizes for net in result.networks] == [(2, 5, 1), (2, 5, 5, 5, 1)]


def test_depth_helps_narrow_relu_network():
    result = A.depth_experiment("sine", "relu", (1, 4), maxiter=300, restarts=2, points_per_axis=501)
    assert result.sup_error[1] < result.sup_error[0] / 2


def test_deepened_relu_network_is_same_function():
    rng = np.random.default_rng(4)
    net = ml.MLP([2, 5, 5, 1], activation="relu", seed=4)
    net.params = rng.normal(size=net.n_params)
    deeper = A.deepen_relu_network(net, 5)
    assert deeper.layer_sizes == (2, 5, 5, 5, 5, 5, 1)
    X = rng.normal(size=(200, 2)) * 3
    # I h + 0 and relu(h) = h for h >= 0 are exact in floating point.
    np.testing.assert_array_equal(deeper.forward(X), net.forward(X))


def test_deepen_rejects_tanh_network():
    with pytest.raises(ValueError, match="relu network"):
        A.deepen_relu_network(ml.MLP([1, 4, 1], activation="tanh"), 3)


def test_warm_start_training_error_nonincreasing_in_depth():
    # Each depth may start from the previous network deepened by identity
    # layers, which has the same training error, and L-BFGS-B keeps its
    # start unless it finds a lower error. Rounding of the two loss formulas
    # (the library's MSE and numpy's mean) differs by a few eps.
    result = A.depth_experiment("sine", "relu", (1, 2, 3, 5), maxiter=100, restarts=1, points_per_axis=201)
    residual = result.train_rms
    for d in range(len(residual) - 1):
        assert residual[d + 1] <= residual[d] * (1 + 1e-10), residual


def test_warm_start_rules():
    with pytest.raises(ValueError, match="warm_start needs relu"):
        A.depth_experiment("sine", "tanh", (1, 2), warm_start=True)
    with pytest.raises(ValueError, match="depths must be increasing"):
        A.depth_experiment("sine", "relu", (3, 2))


def test_density_experiment_dispatch():
    result = A.density_experiment("kidger-lyons", "abs", depths=(1, 2), fit="lstsq", points_per_axis=51)
    assert result.experiment == "depth"
    result = A.density_experiment("cybenko", "abs", widths=(2,), points_per_axis=51)
    assert result.activation == "sigmoid"
    assert result.theorem.startswith("Cybenko")


def test_format_table_names_grid():
    result = A.width_experiment("peak", "tanh", (2, 4), points_per_axis=31, n_train=300)
    text = result.format_table()
    assert "31^2 = 961 points" in text
    assert text.splitlines()[-1].split()[:3] == ["4", "1", str(result.n_params[-1])]


# ----------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: A.get_target("wave"), ValueError, "target must be one of"),
        (lambda: A.get_target(lambda X: X[:, 0]), ValueError, "box is required"),
        (lambda: A.get_target(42), TypeError, "got 42 of type int"),
        (lambda: A.get_target("sine", box=([1], [0])), ValueError, "low < high"),
        (lambda: A.get_target("sine", box=([0, 0], [1, 1])), ValueError, "1 coordinate"),
        (lambda: A.width_experiment("sine", "tanh", (0, 2)), ValueError, r"widths\[0\] must be >= 1"),
        (lambda: A.width_experiment("sine", "tanh", ()), ValueError, "at least one value"),
        (lambda: A.width_experiment("sine", "tanh", fit="adam"), ValueError, "fit must be one of"),
        (lambda: A.width_experiment("sine", "swish"), ValueError, "activation must be one of"),
        (lambda: A.evaluation_grid([0, 0, 0], [1, 1, 1], 1000), ValueError, "over the limit"),
        (lambda: A.density_experiment("cybenko", activation="relu"), ValueError, "sigmoidal"),
        (lambda: A.density_experiment("hornik", activation="relu"), ValueError, "unbounded"),
        (lambda: A.density_experiment("kidger-lyons", activation="identity"), ValueError, "non-affine"),
        (lambda: A.density_experiment("relu", activation="identity"), ValueError, "non-polynomial"),
        (lambda: A.density_experiment("barron"), ValueError, "theorem must be one of"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_target_with_nan_is_rejected():
    def log(X):
        with np.errstate(divide="ignore"):
            return np.log(X[:, 0])

    with pytest.raises(ValueError, match="must be finite on the box"):
        A.width_experiment(log, "tanh", (2,), box=([0], [1]), points_per_axis=11)


def test_target_with_wrong_shape_is_rejected():
    def both(X):
        return X

    with pytest.raises(ValueError, match=r"to shape \(N,\)"):
        A.width_experiment(both, "tanh", (2,), box=([0, 0], [1, 1]), points_per_axis=11)


def test_import_stays_free_of_matplotlib():
    import subprocess
    import sys

    code = "import sys, mathlearn.approximation; print('matplotlib' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "False"


def test_mlp_class_is_the_library_network():
    result = A.width_experiment("sine", "tanh", (3,), points_per_axis=11, n_train=20)
    assert isinstance(result.networks[0], ml.MLP)


@pytest.mark.slow
def test_default_experiments_show_each_theorem():
    cybenko = A.density_experiment("cybenko", "sine")
    hornik = A.density_experiment("hornik", "sine")
    leshno = A.density_experiment("leshno", "sine")
    deep = A.density_experiment("kidger-lyons", "sine")
    assert cybenko.sup_error[-1] < 1e-3
    assert hornik.sup_error[-1] < 1e-3
    assert (leshno.sup_error >= leshno.reference_error - 1e-9).all()
    assert deep.sup_error[-1] < deep.sup_error[0] / 5


def test_three_inputs_callable_target():
    def plane(X):
        return X.sum(axis=1)

    result = A.width_experiment(plane, "identity", (3,), box=([0, 0, 0], [1, 1, 1]), n_train=50)
    assert result.n_inputs == 3
    assert result.grid_size == 11**3
    assert result.sup_error[0] < 1e-12
