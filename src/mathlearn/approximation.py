"""Density theorems made measurable: sup-norm error of fitted networks.

Notation
--------
A target g: K -> R is continuous on a box K = [low_1, high_1] x ... x
[low_n, high_n] in R^n. A network f_w of the given depth, width and
activation sigma is fitted to g on n_train points drawn uniformly from K,
and its error is measured on a dense grid G of K with ``points_per_axis``
points per axis (|G| = points_per_axis^n):

    sup-norm error  ||f_w - g||_G = max over x in G of |f_w(x) - g(x)|,
    RMS error       ( mean over x in G of (f_w(x) - g(x))^2 )^(1/2).

The grid maximum is a lower estimate of ||f_w - g||_K, the supremum over
the box. Results always carry the grid size with it.

Theorems
--------
Cybenko (1989), "Approximation by superpositions of a sigmoidal
function", Math. Control Signals Systems 2: one hidden layer of a
continuous sigmoidal sigma (sigma(t) -> 1 as t -> inf, -> 0 as t -> -inf)
is dense in C(K).

Hornik (1991), "Approximation capabilities of multilayer feedforward
networks", Neural Networks 4: the same for any bounded non-constant sigma.

Leshno, Lin, Pinkus and Schocken (1993), "Multilayer feedforward networks
with a nonpolynomial activation function can approximate any function",
Neural Networks 6: for continuous sigma, one hidden layer is dense in C(K)
exactly when sigma is not a polynomial. With sigma a polynomial of degree k
every such network is a polynomial of degree at most k, so the error of
any width is at least E_k(g), the error of the best polynomial of degree k.

Kidger and Lyons (2020), "Universal approximation with deep narrow
networks", COLT: networks of width n + m + 2 (m outputs) and growing depth
are dense in C(K, R^m) for any continuous non-affine sigma that is
continuously differentiable, with nonzero derivative, at some point.

Fitting
-------
``fit="lstsq"``: the first hidden layer is random (see
:func:`random_first_layer`), inner layers keep the MLP's initialization,
and the output layer is the least-squares solution on the training points.
For one hidden layer this is the random-feature model. In a width
experiment all widths share one pool of hidden units, and width w uses the
first w. So the training residual cannot grow with width.
``fit="lbfgs"``: starts from the ``"lstsq"`` network and minimizes the
mean squared error over all parameters with SciPy's L-BFGS-B.
``fit="gd"``: starts from the ``"lstsq"`` network and runs full-batch
gradient descent with :func:`mathlearn.train`.
All three are deterministic for a given seed.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ._progress import progress as _progress
from ._validation import as_float_array, as_generator, check_choice, check_int, check_real

__all__ = [
    "ApproximationResult",
    "FITS",
    "TARGETS",
    "THEOREMS",
    "Target",
    "best_polynomial_error",
    "deepen_relu_network",
    "density_experiment",
    "depth_experiment",
    "evaluation_grid",
    "fit_network",
    "get_target",
    "kidger_lyons_width",
    "polynomial_degree",
    "polynomial_experiment",
    "random_first_layer",
    "sup_error",
    "width_experiment",
]

FITS = ("lstsq", "lbfgs", "gd")

# ----------------------------------------------------------------------
# Targets


@dataclass(frozen=True)
class Target:
    """A continuous target g on a box in R^n.

    Attributes
    ----------
    name : str
    function : callable
        Maps X of shape (N, n) to g(X) of shape (N,).
    low, high : tuple of float
        Corners of the box K, low_i < high_i.
    description : str
    """

    name: str
    function: Callable[[np.ndarray], np.ndarray]
    low: tuple
    high: tuple
    description: str = ""

    @property
    def n_inputs(self) -> int:
        return len(self.low)

    def __call__(self, X) -> np.ndarray:
        X = as_float_array(X, "X", ndim=2, dtype=np.float64)
        if X.shape[1] != self.n_inputs:
            raise ValueError(
                f"X must have {self.n_inputs} column(s) for target {self.name!r}; got shape {X.shape}."
            )
        values = np.asarray(self.function(X), dtype=np.float64)
        if values.shape == (len(X), 1):
            values = values[:, 0]
        if values.shape != (len(X),):
            raise ValueError(
                f"target {self.name!r} must map X of shape (N, n) = {X.shape} to shape (N,) = "
                f"({len(X)},); got shape {values.shape}. Return one real value per row."
            )
        if not np.isfinite(values).all():
            row = int(np.flatnonzero(~np.isfinite(values))[0])
            raise ValueError(
                f"target {self.name!r} must be finite on the box; got {values[row]} at "
                f"x = {X[row].tolist()}. Use a continuous function on a box inside its domain."
            )
        return values


def _sine(X):
    return np.sin(2 * np.pi * X[:, 0])


def _abs(X):
    return np.abs(X[:, 0])


def _runge(X):
    return 1.0 / (1.0 + 25.0 * X[:, 0] ** 2)


def _cubic(X):
    return X[:, 0] ** 3


def _ripple(X):
    return np.sin(np.pi * X[:, 0]) * np.cos(np.pi * X[:, 1])


def _peak(X):
    return np.exp(-4.0 * (X[:, 0] ** 2 + X[:, 1] ** 2))


def _cone(X):
    return np.hypot(X[:, 0], X[:, 1])


def _saddle(X):
    return X[:, 0] * X[:, 1]


TARGETS = {
    t.name: t
    for t in (
        Target("sine", _sine, (-1.0,), (1.0,), "sin(2 pi x) on [-1, 1]"),
        Target("abs", _abs, (-1.0,), (1.0,), "|x| on [-1, 1], not differentiable at 0"),
        Target("runge", _runge, (-1.0,), (1.0,), "1 / (1 + 25 x^2) on [-1, 1] (Runge's function)"),
        Target("cubic", _cubic, (-1.0,), (1.0,), "x^3 on [-1, 1]"),
        Target("ripple", _ripple, (-1.0, -1.0), (1.0, 1.0), "sin(pi x1) cos(pi x2) on [-1, 1]^2"),
        Target("peak", _peak, (-1.0, -1.0), (1.0, 1.0), "exp(-4 (x1^2 + x2^2)) on [-1, 1]^2"),
        Target("cone", _cone, (-1.0, -1.0), (1.0, 1.0), "sqrt(x1^2 + x2^2) on [-1, 1]^2"),
        Target("saddle", _saddle, (-1.0, -1.0), (1.0, 1.0), "x1 x2 on [-1, 1]^2"),
    )
}


def _check_box(box, n_inputs=None) -> tuple[tuple, tuple]:
    try:
        low, high = box
    except (TypeError, ValueError):
        raise TypeError(
            f"box must be a pair (low, high) of corner sequences, e.g. ([-1, -1], [1, 1]); got {box!r}."
        ) from None
    low = as_float_array(np.atleast_1d(low), "box low corner", ndim=1, dtype=np.float64, allow_empty=False)
    high = as_float_array(np.atleast_1d(high), "box high corner", ndim=1, dtype=np.float64, allow_empty=False)
    if low.shape != high.shape:
        raise ValueError(
            f"box corners must have the same length; got low {low.tolist()} and high {high.tolist()}."
        )
    if n_inputs is not None and len(low) != n_inputs:
        raise ValueError(f"box must have {n_inputs} coordinate(s) per corner; got low {low.tolist()}.")
    if not (low < high).all():
        raise ValueError(
            f"box must have low < high in every coordinate; got low {low.tolist()} and high "
            f"{high.tolist()}."
        )
    return tuple(low.tolist()), tuple(high.tolist())


def get_target(target, box=None) -> Target:
    """Return a :class:`Target` from a name of ``TARGETS`` or a callable.

    Parameters
    ----------
    target : str, Target or callable
        A name of ``TARGETS``; a :class:`Target`; or a function mapping X of
        shape (N, n) to shape (N,), which then needs ``box``.
    box : pair of sequences (low, high), optional
        Corners of the box K; overrides the box of a named target.
    """
    if isinstance(target, Target):
        base = target
    elif isinstance(target, str):
        if target not in TARGETS:
            raise ValueError(
                f"target must be one of {', '.join(repr(k) for k in TARGETS)} or a callable; "
                f"got {target!r}."
            )
        base = TARGETS[target]
    elif callable(target):
        if box is None:
            raise ValueError(
                "box is required for a callable target, because it sets n and the compact set K; "
                "pass box=(low, high), e.g. box=([-1], [1])."
            )
        low, high = _check_box(box)
        name = getattr(target, "__name__", type(target).__name__)
        return Target(name, target, low, high, "user function")
    else:
        raise TypeError(
            f"target must be a name of mathlearn.approximation.TARGETS, a Target or a callable; "
            f"got {target!r} of type {type(target).__name__}."
        )
    if box is None:
        return base
    low, high = _check_box(box, base.n_inputs)
    return Target(base.name, base.function, low, high, base.description)


# ----------------------------------------------------------------------
# Grids and errors

_DEFAULT_POINTS = {1: 2001, 2: 201}
_DEFAULT_TRAIN = {1: 1000, 2: 2500}
_MAX_GRID_POINTS = 10_000_000


def evaluation_grid(low, high, points_per_axis: int) -> np.ndarray:
    """Return the tensor grid of the box with ``points_per_axis`` points per axis.

    Returns
    -------
    ndarray of shape (points_per_axis**n, n), float64
        Rows in C order of the index tuple, the last coordinate fastest.
    """
    low, high = _check_box((low, high))
    points_per_axis = check_int(points_per_axis, "points_per_axis", minimum=2)
    n = len(low)
    if points_per_axis**n > _MAX_GRID_POINTS:
        raise ValueError(
            f"points_per_axis={points_per_axis} gives {points_per_axis**n:,} grid points in "
            f"{n} dimensions, over the limit {_MAX_GRID_POINTS:,}. Use fewer points per axis."
        )
    axes = [np.linspace(lo, hi, points_per_axis) for lo, hi in zip(low, high)]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.column_stack([m.ravel() for m in mesh])


def sup_error(f_values, g_values) -> float:
    """Return max |f - g| over the given points: the grid estimate of the sup norm."""
    f_values = np.asarray(f_values, dtype=np.float64).ravel()
    g_values = np.asarray(g_values, dtype=np.float64).ravel()
    if f_values.shape != g_values.shape or f_values.size == 0:
        raise ValueError(
            f"f_values and g_values must be non-empty with the same size; got sizes "
            f"{f_values.size} and {g_values.size}."
        )
    return float(np.max(np.abs(f_values - g_values)))


def _monomial_exponents(n: int, degree: int) -> list[tuple]:
    exponents = [()]
    for _ in range(n):
        exponents = [e + (k,) for e in exponents for k in range(degree + 1)]
    return [e for e in exponents if sum(e) <= degree]


def best_polynomial_error(target, degree: int, *, box=None, points_per_axis=None) -> float:
    """Compute E_k(g) on a grid: min over polynomials p of total degree k of max |p - g|.

    The minimax problem on the grid is the linear program: minimize t over
    (c, t) subject to -t <= sum_j c_j m_j(x) - g(x) <= t at every grid
    point x, where m_j are the monomials of total degree <= k in the box
    coordinates rescaled to [-1, 1]. It is solved by SciPy's HiGHS.

    Every network with polynomial sigma of degree k and one hidden layer is
    such a polynomial, so its sup-norm error on the same grid is at least
    this value.

    Returns
    -------
    float
        E_k(g) on the grid, up to the solver's tolerance (about 1e-9 in
        absolute terms for values of g of order 1).
    """
    from scipy.optimize import linprog

    target = get_target(target, box)
    degree = check_int(degree, "degree", minimum=0)
    n = target.n_inputs
    if points_per_axis is None:
        points_per_axis = _DEFAULT_POINTS[n] if n in _DEFAULT_POINTS else 11
    X = evaluation_grid(target.low, target.high, points_per_axis)
    g = target(X)
    low, high = np.asarray(target.low), np.asarray(target.high)
    U = (2 * X - (low + high)) / (high - low)
    exponents = _monomial_exponents(n, degree)
    V = np.column_stack([np.prod(U ** np.asarray(e), axis=1) for e in exponents])
    n_coef = V.shape[1]
    ones = np.ones((len(X), 1))
    # Rows: V c - t <= g and -V c - t <= -g.
    A_ub = np.vstack([np.hstack([V, -ones]), np.hstack([-V, -ones])])
    b_ub = np.concatenate([g, -g])
    cost = np.zeros(n_coef + 1)
    cost[-1] = 1.0
    bounds = [(None, None)] * n_coef + [(0, None)]
    solution = linprog(cost, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if solution.status != 0:
        raise RuntimeError(f"the minimax linear program failed: {solution.message}")
    # The optimal t is the grid error of the optimal c; recompute it from c
    # so that the solver's constraint tolerance does not enter.
    return sup_error(V @ solution.x[:n_coef], g)


# ----------------------------------------------------------------------
# Fitting one network


def random_first_layer(width: int, low, high, activation: str, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """Draw the first layer (W_1, b_1) of a random-feature network on a box.

    Hidden unit j computes sigma(s_j u_j . D^{-1} (x - c_j)). Here u_j is a
    direction uniform on the unit sphere, s_j a slope uniform in [1, 10),
    c_j a center uniform in the box, and D the diagonal of half side
    lengths. So every unit changes fastest inside the box, at c_j. For relu
    the slope only rescales the unit, because relu is positively
    homogeneous, and the output layer absorbs that factor. For sigmoid,
    whose slope at 0 is a quarter of tanh's, s_j is multiplied by 4.

    Returns
    -------
    W : ndarray of shape (width, n)
    b : ndarray of shape (width,)
    """
    width = check_int(width, "width", minimum=1)
    low, high = _check_box((low, high))
    rng = as_generator(seed)
    low, high = np.asarray(low), np.asarray(high)
    n = len(low)
    direction = rng.normal(size=(width, n))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    slope = rng.uniform(1.0, 10.0, size=width)
    center = rng.uniform(low, high, size=(width, n))
    half = (high - low) / 2
    W = slope[:, None] * direction / half
    b = -np.einsum("ij,ij->i", W, center)
    if activation == "sigmoid":
        # sigmoid'(0) = 1/4 and tanh'(0) = 1, so sigmoid units get 4 times the
        # slope to change as fast as tanh units.
        W *= 4.0
        b *= 4.0
    return W, b


def _last_hidden(net, X) -> np.ndarray:
    """Return sigma of the last hidden layer, shape (N, n_{L-1})."""
    from . import MLP, activations

    sizes = net.layer_sizes
    body = MLP(sizes[:-1], activation=net.activation)
    body.params = net.params[: body.n_params]
    return activations.get(net.activation).sigma(body.forward(X))


def _solve_output_layer(net, X, y) -> None:
    """Set (W_L, b_L) to the least-squares fit of y on the last hidden layer."""
    H = _last_hidden(net, X)
    design = np.column_stack([H, np.ones(len(H))])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    net.weights[-1][0, :] = coef[:-1]
    net.biases[-1][0] = coef[-1]


def _lbfgs(net, X, y, maxiter: int) -> int:
    """Minimize the MSE over all parameters; return the number of iterations."""
    from scipy.optimize import minimize

    Y = y[:, None]

    def value_and_gradient(w):
        if not np.isfinite(w).all():
            return math.inf, np.zeros_like(w)
        net.params = w
        with np.errstate(over="ignore", invalid="ignore"):
            value, gradient = net.value_and_gradient(X, Y)
        if not np.isfinite(value):
            return math.inf, np.zeros_like(w)
        return value, gradient.copy()

    start = net.params.copy()
    start_value = value_and_gradient(start)[0]
    result = minimize(
        value_and_gradient,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": maxiter, "ftol": 0.0, "gtol": 1e-12},
    )
    # L-BFGS-B returns its best point; keep the start if it is not better.
    net.params = result.x if result.fun <= start_value else start
    return int(result.nit)


def fit_network(
    target,
    hidden,
    activation: str = "tanh",
    *,
    box=None,
    fit: str = "lstsq",
    n_train: int | None = None,
    X_train=None,
    seed=0,
    first_layer=None,
    maxiter: int = 1000,
    epochs: int = 2000,
    lr: float = 0.05,
):
    """Fit one network with hidden widths ``hidden`` to the target on its box.

    Parameters
    ----------
    target : str, Target or callable
        See :func:`get_target`.
    hidden : sequence of int
        Hidden widths (n_1, ..., n_{L-1}); the network is [n, *hidden, 1].
    activation : str
        A name of :mod:`mathlearn.activations`.
    box : pair (low, high), optional
        See :func:`get_target`.
    fit : {"lstsq", "lbfgs", "gd"}
        See the module docstring.
    n_train : int, optional
        Training points drawn uniformly from the box; 1000 for n = 1 and
        2500 for n = 2 by default, 1000 n otherwise.
    X_train : array_like of shape (N, n), optional
        Training points to use instead of drawing ``n_train`` of them.
    seed : int or numpy.random.Generator
        Source of the training points, of the first layer and of the other
        initial weights.
    first_layer : pair (W_1, b_1), optional
        Use these instead of drawing them, e.g. rows of a shared pool.
    maxiter : int
        Iterations of L-BFGS-B for ``fit="lbfgs"``.
    epochs, lr : int, float
        Epochs and learning rate of gradient descent for ``fit="gd"``.

    Returns
    -------
    net : mathlearn.MLP
        The fitted float64 network.
    X_train, y_train : ndarray of shapes (n_train, n) and (n_train,)
    """
    from . import MLP

    target = get_target(target, box)
    fit = check_choice(fit, "fit", FITS)
    rng = as_generator(seed)
    hidden = _check_widths(hidden, "hidden")
    n = target.n_inputs
    maxiter = check_int(maxiter, "maxiter", minimum=1)
    if X_train is None:
        if n_train is None:
            n_train = _DEFAULT_TRAIN.get(n, 1000 * n)
        n_train = check_int(n_train, "n_train", minimum=2)
        X = rng.uniform(target.low, target.high, size=(n_train, n))
    else:
        X = as_float_array(X_train, "X_train", ndim=2, dtype=np.float64, allow_empty=False)
        if X.shape[1] != n:
            raise ValueError(f"X_train must have {n} column(s); got shape {X.shape}.")
    y = target(X)
    net = MLP([n, *hidden, 1], activation=activation, seed=rng)
    if first_layer is None:
        first_layer = random_first_layer(hidden[0], target.low, target.high, activation, rng)
    W, b = first_layer
    if np.shape(W) != (hidden[0], n) or np.shape(b) != (hidden[0],):
        raise ValueError(
            f"first_layer must be (W_1, b_1) of shapes ({hidden[0]}, {n}) and ({hidden[0]},); "
            f"got {np.shape(W)} and {np.shape(b)}."
        )
    net.weights[0][...] = W
    net.biases[0][...] = b
    for W_inner, b_inner in zip(net.weights[1:-1], net.biases[1:-1]):
        # Near-identity inner layers. Hidden relu values are >= 0, so with an
        # exact identity the deep network would equal the one-layer network.
        # The small noise breaks the symmetry between units, and training
        # starts close to the one-layer fit.
        width = W_inner.shape[0]
        W_inner[...] = np.eye(width) + rng.normal(scale=0.1 / math.sqrt(width), size=W_inner.shape)
        b_inner[...] = 0.0
    _solve_output_layer(net, X, y)
    _train_all_layers(net, X, y, fit, maxiter=maxiter, epochs=epochs, lr=lr, seed=rng)
    return net, X, y


def _train_all_layers(net, X, y, fit, *, maxiter, epochs, lr, seed):
    """Apply the ``"lbfgs"`` or ``"gd"`` step of ``fit`` to ``net`` in place."""
    from . import training

    if fit == "lbfgs":
        _lbfgs(net, X, y, maxiter)
    elif fit == "gd":
        epochs = check_int(epochs, "epochs", minimum=1)
        lr = check_real(lr, "lr", low=0.0, low_open=True)
        training.train(net, X, y, epochs=epochs, lr=lr, test_size=0, seed=seed)


def deepen_relu_network(net, depth: int):
    """Return a relu network with ``depth`` hidden layers that computes the same function as ``net``.

    The new hidden layers, each W = I and b = 0, go just before the output
    layer. They change nothing because their inputs are relu outputs, which
    are >= 0, and relu(t) = t for t >= 0. All hidden layers of ``net`` must
    have one width.

    Raises
    ------
    ValueError
        If ``net`` is not a relu network of equal hidden widths, or ``depth``
        is smaller than its number of hidden layers.
    """
    from . import MLP

    sizes = net.layer_sizes
    hidden = sizes[1:-1]
    if net.activation != "relu" or not hidden or len(set(hidden)) != 1:
        raise ValueError(f"net must be a relu network with hidden layers of one width; got {net!r}.")
    depth = check_int(depth, "depth", minimum=len(hidden))
    width = hidden[0]
    deeper = MLP([sizes[0], *([width] * depth), sizes[-1]], activation="relu", dtype=net.dtype)
    n_hidden = len(hidden)
    for l in range(n_hidden):
        deeper.weights[l][...] = net.weights[l]
        deeper.biases[l][...] = net.biases[l]
    for l in range(n_hidden, depth):
        deeper.weights[l][...] = np.eye(width)
        deeper.biases[l][...] = 0.0
    deeper.weights[-1][...] = net.weights[-1]
    deeper.biases[-1][...] = net.biases[-1]
    return deeper


# ----------------------------------------------------------------------
# Experiments


@dataclass
class ApproximationResult:
    """Errors of a family of fitted networks, one row per network.

    Attributes
    ----------
    experiment : {"width", "depth", "polynomial"}
    theorem : str
        The density theorem the experiment illustrates.
    target : str
        Name of the target g.
    activation : str
    n_inputs : int
    widths, depths, n_params : ndarray of int, shape (R,)
        Hidden width, number of hidden layers and parameter count P of
        each network.
    sup_error : ndarray of float, shape (R,)
        Grid estimate of ||f - g|| on the box (maximum over the grid).
    rms_error : ndarray of float, shape (R,)
        Root mean square of f - g over the grid.
    train_rms : ndarray of float, shape (R,)
        Root mean square of f - g over the training points.
    points_per_axis, grid_size : int
        The evaluation grid: grid_size = points_per_axis ** n_inputs.
    n_train : int
    fit : str
    seed : int or None
    degree : int or None
        Degree k of a polynomial sigma.
    reference_error : float or None
        E_k(g) on the same grid for a polynomial sigma of degree k (see
        :func:`best_polynomial_error`), a lower bound of every sup_error.
    networks : list of mathlearn.MLP
        The fitted networks, in row order.
    target_spec : Target or None
        The target g with its box.
    """

    experiment: str
    theorem: str
    target: str
    activation: str
    n_inputs: int
    widths: np.ndarray
    depths: np.ndarray
    n_params: np.ndarray
    sup_error: np.ndarray
    rms_error: np.ndarray
    train_rms: np.ndarray
    points_per_axis: int
    grid_size: int
    n_train: int
    fit: str
    seed: int | None
    degree: int | None = None
    reference_error: float | None = None
    networks: list = field(default_factory=list, repr=False)
    target_spec: Target | None = field(default=None, repr=False)

    def format_table(self) -> str:
        """Format the errors as a text table with a header naming the grid."""
        lines = [
            f"{self.theorem}: target {self.target!r} on R^{self.n_inputs}, sigma = {self.activation}, "
            f"fit = {self.fit}, {self.n_train} training points, seed {self.seed}",
            f"sup-norm error estimated as the maximum over a grid of {self.points_per_axis}"
            + (f"^{self.n_inputs}" if self.n_inputs > 1 else "")
            + f" = {self.grid_size:,} points",
        ]
        if self.reference_error is not None:
            lines.append(
                f"best polynomial of degree {self.degree} on the same grid: sup-norm error "
                f"E_{self.degree}(g) = {self.reference_error:.4g} (a lower bound for every row)"
            )
        lines.append(f"{'width':>6s} {'depth':>6s} {'P':>7s} {'sup error':>11s} {'RMS error':>11s} {'train RMS':>11s}")
        for row in range(len(self.widths)):
            lines.append(
                f"{self.widths[row]:6d} {self.depths[row]:6d} {self.n_params[row]:7d} "
                f"{self.sup_error[row]:11.3e} {self.rms_error[row]:11.3e} {self.train_rms[row]:11.3e}"
            )
        return "\n".join(lines)


def _best_of(restarts, target, hidden, activation, *, seed, candidate=None, **options):
    """Fit ``restarts`` networks from independent starts; keep the lowest training MSE.

    A fitted ``candidate`` network, if given, competes too and wins ties.
    The choice uses the training points only, never the evaluation grid.
    """
    best = None
    if candidate is not None:
        X = np.asarray(options["X_train"], dtype=np.float64)
        y = get_target(target)(X)
        best = (float(np.mean((candidate.forward(X)[:, 0] - y) ** 2)), candidate, X, y)
    for _ in range(restarts):
        net, X, y = fit_network(target, hidden, activation, seed=seed, **options)
        mse = float(np.mean((net.forward(X)[:, 0] - y) ** 2))
        if best is None or mse < best[0]:
            best = (mse, net, X, y)
    return best[1:]


def _check_widths(values, name: str) -> tuple[int, ...]:
    if isinstance(values, (numbers.Integral, np.integer)) and not isinstance(values, bool):
        values = (values,)
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of positive integers such as (1, 2, 4); got {values!r}.")
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} must contain at least one value; got an empty sequence.")
    return tuple(check_int(v, f"{name}[{i}]", minimum=1) for i, v in enumerate(values))


def _seed_value(seed):
    if isinstance(seed, np.random.Generator):
        return None
    as_generator(seed)  # type and range check
    return None if seed is None else int(seed)


def _run(target, configurations, activation, *, experiment, theorem, fit, n_train, points_per_axis,
         seed, maxiter, epochs, lr, restarts=1, pool_width=None, show_progress=None, degree=None,
         reference=None, warm_start=False):
    """Fit one network per (width, depth) and measure each on the grid."""
    n = target.n_inputs
    if points_per_axis is None:
        points_per_axis = _DEFAULT_POINTS.get(n, 11)
    if n_train is None:
        n_train = _DEFAULT_TRAIN.get(n, 1000 * n)
    grid = evaluation_grid(target.low, target.high, points_per_axis)
    g_grid = target(grid)
    seed_value = _seed_value(seed)
    root = as_generator(seed)
    # Child generators: one for the training points (shared by every row,
    # so the rows differ only in the network), one for the shared pool of
    # first-layer units, and one per network.
    child_seeds = root.integers(0, 2**63 - 1, size=len(configurations) + 2)
    data_rng, pool_rng, *row_rngs = [np.random.default_rng(int(s)) for s in child_seeds]
    n_train = check_int(n_train, "n_train", minimum=2)
    X_train = data_rng.uniform(target.low, target.high, size=(n_train, n))
    pool = None
    if pool_width is not None:
        pool = random_first_layer(pool_width, target.low, target.high, activation, pool_rng)

    from threadpoolctl import threadpool_limits

    rows = []
    networks = []
    # These networks are small (P in the hundreds, at most 40401 grid rows),
    # so one thread per pool is enough. On a 2-core machine busy with other
    # jobs, two threads made a whole L-BFGS-B fit about ten times slower
    # (one timing of a 4-4-4 relu network on 256 points, SciPy 1.17).
    with threadpool_limits(limits=1):
        bar = _progress(configurations, total=len(configurations), desc=f"{experiment} experiment",
                        unit="net", show=show_progress)
        for (width, depth), row_rng in zip(bar, row_rngs):
            first = None if pool is None else (pool[0][:width], pool[1][:width])
            candidate = None
            if warm_start and networks:
                candidate = deepen_relu_network(networks[-1], depth)
                _train_all_layers(candidate, X, y, fit, maxiter=maxiter, epochs=epochs, lr=lr, seed=row_rng)
            net, X, y = _best_of(
                restarts, target, (width,) * depth, activation, fit=fit, X_train=X_train,
                seed=row_rng, first_layer=first, maxiter=maxiter, epochs=epochs, lr=lr,
                candidate=candidate,
            )
            f_grid = net.forward(grid)[:, 0]
            f_train = net.forward(X)[:, 0]
            rows.append((
                width, depth, net.n_params, sup_error(f_grid, g_grid),
                float(np.sqrt(np.mean((f_grid - g_grid) ** 2))),
                float(np.sqrt(np.mean((f_train - y) ** 2))),
            ))
            networks.append(net)
        bar.close()

    columns = list(zip(*rows))
    return ApproximationResult(
        experiment=experiment,
        theorem=theorem,
        target=target.name,
        activation=activation,
        n_inputs=n,
        widths=np.array(columns[0], dtype=np.int64),
        depths=np.array(columns[1], dtype=np.int64),
        n_params=np.array(columns[2], dtype=np.int64),
        sup_error=np.array(columns[3]),
        rms_error=np.array(columns[4]),
        train_rms=np.array(columns[5]),
        points_per_axis=int(points_per_axis),
        grid_size=len(grid),
        n_train=int(n_train),
        fit=fit,
        seed=seed_value,
        degree=degree,
        reference_error=reference,
        networks=networks,
        target_spec=target,
    )



_WIDTHS = (1, 2, 4, 8, 16, 32, 64)
_DEPTHS = (1, 2, 3, 4, 6, 8)


def width_experiment(
    target="sine",
    activation: str = "tanh",
    widths=_WIDTHS,
    *,
    box=None,
    fit: str = "lstsq",
    n_train: int | None = None,
    points_per_axis: int | None = None,
    seed=0,
    maxiter: int = 1000,
    epochs: int = 2000,
    lr: float = 0.05,
    restarts: int = 1,
    progress=None,
    theorem: str | None = None,
) -> ApproximationResult:
    """Fit one-hidden-layer networks of growing width and measure their errors.

    With ``fit="lstsq"`` the widths share one pool of random first-layer
    units (width w uses the first w), so the least-squares training
    residual ``train_rms`` is non-increasing in w.

    Parameters
    ----------
    target : str, Target or callable
        See :func:`get_target`.
    activation : str
        A name of :mod:`mathlearn.activations`.
    widths : sequence of int
        Hidden widths, each >= 1.
    box : pair (low, high), optional
        See :func:`get_target`.
    fit : {"lstsq", "lbfgs", "gd"}
        See the module docstring.
    n_train : int, optional
        Training points, shared by all widths.
    points_per_axis : int, optional
        Evaluation grid: 2001 points for n = 1, 201 per axis for n = 2.
    seed : int or numpy.random.Generator
        Source of all randomness; one int seed gives the same result every run.
    maxiter, epochs, lr
        Passed to :func:`fit_network`.
    restarts : int
        Independent starts per network (fresh first layer unless the widths
        share a pool, fresh inner layers); the one with the lowest training
        MSE is kept.
    progress : None, True or False
        Progress bar over the networks: None shows it on a terminal only.
    theorem : str, optional
        Label of the result; by default it names the theorem that sigma fits.

    Returns
    -------
    ApproximationResult
    """
    from . import activations

    target = get_target(target, box)
    sigma = activations.get(activation)
    widths = _check_widths(widths, "widths")
    fit = check_choice(fit, "fit", FITS)
    if theorem is None:
        theorem = _default_theorem(sigma)
    return _run(
        target, [(w, 1) for w in widths], activation, experiment="width", theorem=theorem, fit=fit,
        n_train=n_train, points_per_axis=points_per_axis, seed=seed, maxiter=maxiter, epochs=epochs,
        lr=lr, restarts=check_int(restarts, "restarts", minimum=1), pool_width=max(widths),
        show_progress=progress,
    )


def depth_experiment(
    target="sine",
    activation: str = "relu",
    depths=_DEPTHS,
    *,
    width: int | None = None,
    box=None,
    fit: str = "lbfgs",
    n_train: int | None = None,
    points_per_axis: int | None = None,
    seed=0,
    maxiter: int = 1000,
    epochs: int = 2000,
    lr: float = 0.05,
    restarts: int = 3,
    warm_start: bool | None = None,
    progress=None,
) -> ApproximationResult:
    """Fit networks of fixed width and growing depth and measure their errors.

    The width defaults to n + m + 2 = n + 3 (one output), the width of the
    theorem of Kidger and Lyons (2020). Only the output layer is solved by
    least squares, so the default fit is ``"lbfgs"``, which trains every
    layer. Narrow deep networks often stop in poor local minima, so each
    fit from random weights keeps the best of ``restarts`` (3) starts.

    With ``warm_start`` (the default for relu, and allowed only for relu),
    each depth after the first also fits one more candidate: the previous
    network with identity layers inserted (:func:`deepen_relu_network`),
    which computes the same function, trained further. Since ``"lbfgs"``
    never returns a point worse than its start, the training error is then
    non-increasing in depth. Depths must be increasing.

    Parameters are those of :func:`width_experiment`, with ``depths`` (the
    numbers of hidden layers, each >= 1) in place of ``widths``.

    Returns
    -------
    ApproximationResult
    """
    from . import activations

    target = get_target(target, box)
    activations.get(activation)
    depths = _check_widths(depths, "depths")
    fit = check_choice(fit, "fit", FITS)
    if width is None:
        width = kidger_lyons_width(target.n_inputs, 1)
    width = check_int(width, "width", minimum=1)
    if warm_start is None:
        warm_start = activation == "relu"
    if warm_start:
        if activation != "relu":
            raise ValueError(
                f"warm_start needs relu, whose identity layers change nothing; got activation "
                f"{activation!r}. Pass warm_start=False."
            )
        if any(b <= a for a, b in zip(depths, depths[1:])):
            raise ValueError(
                f"depths must be increasing for warm_start; got {list(depths)}. Sort them, or "
                f"pass warm_start=False."
            )
    return _run(
        target, [(width, d) for d in depths], activation, experiment="depth",
        theorem=f"Kidger-Lyons (width {width}, growing depth)", fit=fit, n_train=n_train,
        points_per_axis=points_per_axis, seed=seed, maxiter=maxiter, epochs=epochs, lr=lr,
        restarts=check_int(restarts, "restarts", minimum=1), show_progress=progress,
        warm_start=bool(warm_start),
    )


def kidger_lyons_width(n_inputs: int, n_outputs: int = 1) -> int:
    """Return n + m + 2, the width at which deep narrow networks are dense (Kidger and Lyons 2020)."""
    return check_int(n_inputs, "n_inputs", minimum=1) + check_int(n_outputs, "n_outputs", minimum=1) + 2


def polynomial_degree(activation: str) -> int | None:
    """Return the degree k of a polynomial sigma, or None when sigma is not a polynomial.

    The degree comes from a ``degree`` attribute of the activation record
    when it has one. Otherwise it is the smallest k whose finite differences
    of order k + 1 vanish on the integers -8, ..., 8, where a polynomial of
    degree k <= 12 with moderate integer coefficients is evaluated exactly
    in float64.

    Raises
    ------
    ValueError
        If sigma is marked polynomial but no degree up to 12 fits.
    """
    from . import activations

    sigma = activations.get(activation)
    if not sigma.polynomial:
        return None
    degree = getattr(sigma, "degree", None)
    if degree is not None:
        return check_int(degree, "degree", minimum=0)
    if sigma.name.startswith("poly"):
        # activations.polynomial(k) stores k as the parameter of z -> z**k.
        return int(sigma.param)
    values = np.asarray(sigma.sigma(np.arange(-8.0, 9.0)), dtype=np.float64)
    scale = np.abs(values).max()
    for order in range(1, 14):
        values = np.diff(values)
        if np.abs(values).max() <= 1e-12 * scale:
            return order - 1
    raise ValueError(
        f"activation {activation!r} is marked polynomial, but no degree up to 12 fits its values "
        f"on -8, ..., 8. Pass degree= explicitly."
    )


def polynomial_experiment(
    target="sine",
    activation: str = "identity",
    widths=_WIDTHS,
    *,
    degree: int | None = None,
    box=None,
    fit: str = "lstsq",
    n_train: int | None = None,
    points_per_axis: int | None = None,
    seed=0,
    maxiter: int = 1000,
    epochs: int = 2000,
    lr: float = 0.05,
    restarts: int = 1,
    progress=None,
) -> ApproximationResult:
    """Show that one hidden layer of a polynomial sigma of degree k stops improving.

    Runs :func:`width_experiment` with a polynomial activation and adds
    ``reference_error`` = E_k(g) on the same grid (:func:`best_polynomial_error`).
    Every row's ``sup_error`` is at least E_k(g), whatever the width
    (Leshno, Lin, Pinkus and Schocken 1993).

    Parameters
    ----------
    activation : str
        A polynomial activation of :mod:`mathlearn.activations`
        (``activation.polynomial`` is True), e.g. ``"identity"`` (k = 1).
    degree : int, optional
        Degree k of sigma; read from the activation when omitted.

    Other parameters are those of :func:`width_experiment`.

    Raises
    ------
    ValueError
        If sigma is not a polynomial.
    """
    from . import activations

    sigma = activations.get(activation)
    if not sigma.polynomial:
        raise ValueError(
            f"activation must be a polynomial for the Leshno-Lin-Pinkus-Schocken experiment; got "
            f"{activation!r}, which is not. Use 'identity' or another polynomial activation, or "
            f"width_experiment for a non-polynomial one."
        )
    if degree is None:
        degree = polynomial_degree(activation)
    degree = check_int(degree, "degree", minimum=0)
    target = get_target(target, box)
    result = width_experiment(
        target, activation, widths, fit=fit, n_train=n_train, points_per_axis=points_per_axis,
        seed=seed, maxiter=maxiter, epochs=epochs, lr=lr, restarts=restarts, progress=progress,
        theorem=f"Leshno-Lin-Pinkus-Schocken (polynomial sigma of degree {degree})",
    )
    result.experiment = "polynomial"
    result.degree = degree
    result.reference_error = best_polynomial_error(target, degree, points_per_axis=result.points_per_axis)
    return result


def _sigmoidal(sigma) -> bool:
    """Return True if sigma(t) -> 1 as t -> inf and -> 0 as t -> -inf (checked at +-60)."""
    ends = sigma.sigma(np.array([-60.0, 60.0]))
    return bool(abs(ends[0]) < 1e-9 and abs(ends[1] - 1) < 1e-9)


def _default_theorem(sigma) -> str:
    if sigma.polynomial:
        return "Leshno-Lin-Pinkus-Schocken (polynomial sigma)"
    if sigma.bounded and _sigmoidal(sigma):
        return "Cybenko (sigmoidal sigma, one hidden layer)"
    if sigma.bounded:
        return "Hornik (bounded non-constant sigma, one hidden layer)"
    return f"Leshno-Lin-Pinkus-Schocken ({sigma.name} is not a polynomial, one hidden layer)"


THEOREMS = {
    "cybenko": ("width", "sigmoid"),
    "hornik": ("width", "tanh"),
    "relu": ("width", "relu"),
    "kidger-lyons": ("depth", "relu"),
    "leshno": ("polynomial", "poly3"),
}


def density_experiment(theorem: str, target="sine", activation: str | None = None, **options) -> ApproximationResult:
    """Run the experiment that illustrates one density theorem.

    Parameters
    ----------
    theorem : {"cybenko", "hornik", "relu", "kidger-lyons", "leshno"}
        ``"cybenko"``: growing width, sigmoidal sigma (sigmoid by default).
        ``"hornik"``: growing width, bounded non-constant sigma (tanh).
        ``"relu"``: growing width, relu.
        ``"kidger-lyons"``: width n + 3, growing depth (relu).
        ``"leshno"``: growing width, polynomial sigma (``"poly3"``, z -> z^3).
    target : str, Target or callable
    activation : str, optional
        Replaces the default sigma; it must meet the theorem's hypothesis.
    **options
        Passed to :func:`width_experiment`, :func:`depth_experiment` or
        :func:`polynomial_experiment`.

    Raises
    ------
    ValueError
        If sigma does not meet the theorem's hypothesis.
    """
    from . import activations

    theorem = check_choice(theorem, "theorem", THEOREMS)
    kind, default = THEOREMS[theorem]
    activation = default if activation is None else activation
    sigma = activations.get(activation)
    if theorem == "cybenko" and not (sigma.bounded and _sigmoidal(sigma)):
        raise ValueError(
            f"Cybenko's theorem needs a sigmoidal sigma (limits 0 at -inf and 1 at +inf); got "
            f"{activation!r}. Use 'sigmoid'."
        )
    if theorem == "hornik" and not sigma.bounded:
        raise ValueError(
            f"Hornik's theorem needs a bounded non-constant sigma; got {activation!r}, which is "
            f"unbounded. Use 'tanh' or 'sigmoid'."
        )
    if theorem == "kidger-lyons" and sigma.polynomial and polynomial_degree(activation) <= 1:
        raise ValueError(
            f"the theorem of Kidger and Lyons needs a non-affine sigma; got {activation!r}, which "
            f"is affine. Use 'relu' or 'tanh'."
        )
    if kind == "width":
        if sigma.polynomial:
            raise ValueError(
                f"theorem {theorem!r} needs a non-polynomial sigma; got {activation!r}. Use "
                f"theorem='leshno' for polynomial activations."
            )
        return width_experiment(target, activation, **options)
    if kind == "depth":
        return depth_experiment(target, activation, **options)
    return polynomial_experiment(target, activation, **options)
