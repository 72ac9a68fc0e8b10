"""The C++ Gray-code kernel for the model game of a mathlearn.MLP.

The kernel's table is compared with the generic path, which builds every
hybrid row and calls ``net.forward`` on it. Both evaluate the same network
in the same dtype, so they differ only by rounding. ``table_tolerance``
bounds that difference layer by layer with the standard first-order bound
for a dot product of length k in floating point,
|error| <= k u sum_j |a_j b_j| with u the unit roundoff, and with the
kernel's drift bound stated in ``ModelGame``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_shapley_exact import kernel_bound

import mathlearn as ml
from mathlearn import _core, shapley
from mathlearn.reference.shapley import model_game_value, shapley_by_permutations

EPS64 = 2.0**-53

# The approximations of tanh and sigmoid in cpp/fastmath.hpp are within
# 8 eps relative of the exact functions (tests/test_network_activations.py).
ACTIVATION_ERROR = 8 * np.finfo(np.float64).eps

LIPSCHITZ = {"identity": 1.0, "relu": 1.0, "tanh": 1.0, "sigmoid": 0.25}


def activation_bound(name: str, bound: np.ndarray) -> np.ndarray:
    """Bound on |sigma(z)| given |z| <= bound, componentwise."""
    if name == "tanh":
        return np.minimum(bound, 1.0)
    if name == "sigmoid":
        return np.ones_like(bound)
    return bound


def table_tolerance(net, x, background) -> np.ndarray:
    """Bound on |kernel table - generic table| per output, shape (m,).

    Layer 1: the generic path rounds W_1 z + b_1 once in the network dtype
    (n_0 + 1 terms); the kernel's float64 value is within
    (n_0 + 1 + 5 (S - 1)) eps M_i of the exact one, with S the segment
    length, and is then rounded to the network dtype once. Each
    activation maps a difference e to at most Lipschitz * e, plus twice
    its own error when it is approximated. Each later layer adds
    |W_l| e plus the rounding of both paths' dot products. The means over
    K rows add at most 2 (K + 1) eps |f|. The factor 1.01 covers the
    second-order terms that first-order bounds leave out.
    """
    u = np.finfo(net.dtype).eps / 2
    W = [np.abs(w.astype(np.float64)) for w in net.weights]
    b = [np.abs(c.astype(np.float64)) for c in net.biases]
    x = np.asarray(x, dtype=net.dtype).astype(np.float64)
    background = np.asarray(background, dtype=net.dtype).astype(np.float64)
    n0 = net.n_inputs
    drift = n0 + 1 + 5 * (_core.MODEL_GAME_SEGMENT - 1)

    extent = np.maximum(np.abs(x), np.abs(background).max(axis=0))
    bound = W[0] @ extent + b[0]
    error = ((n0 + 1) * u + u + drift * EPS64) * bound
    for l in range(1, len(W)):
        smooth = net.activation in ("tanh", "sigmoid")
        a_bound = activation_bound(net.activation, bound)
        a_error = LIPSCHITZ[net.activation] * error
        if smooth:
            a_error = a_error + 2 * (ACTIVATION_ERROR + u) * a_bound
        n_in = W[l].shape[1]
        bound = W[l] @ a_bound + b[l]
        error = W[l] @ a_error + 2 * (n_in + 1) * u * bound
    K = background.shape[0]
    return 1.01 * (error + 2 * (K + 1) * EPS64 * bound)


def assert_within(difference, tol):
    """Assert |difference| < tol elementwise, with tol broadcast to its shape."""
    difference = np.abs(difference)
    np.testing.assert_array_less(difference, np.broadcast_to(tol, difference.shape))


def make_problem(n, K, sizes_after, activation, dtype, seed=0):
    rng = np.random.default_rng(seed)
    net = ml.MLP([n, *sizes_after], activation=activation, seed=seed, dtype=dtype)
    net.params = net.params + rng.normal(scale=0.1, size=net.n_params)  # non-zero biases
    x = rng.normal(size=n)
    background = rng.normal(size=(K, n))
    return net, x, background


# Layers of 8 or more units take the kernel's column-sum loop, narrower
# ones its dot-product loop, so depth 3 covers both.
HIDDEN = {1: [], 2: [7], 3: [9, 8]}
SHAPES = [(1, 1), (2, 50), (5, 3), (9, 7), (12, 20)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m", [1, 2])
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("activation", ["identity", "sigmoid", "tanh", "relu"])
def test_kernel_table_equals_generic(activation, depth, m, dtype):
    for n, K in SHAPES:
        net, x, background = make_problem(n, K, HIDDEN[depth] + [m], activation, dtype, seed=n + K)
        fast = shapley.ModelGame(net.forward, x, background)
        slow = shapley.ModelGame(net.forward, x, background, mlp_kernel=False)
        assert fast.uses_mlp_kernel
        assert not slow.uses_mlp_kernel
        T_fast = fast.table()
        T_slow = slow.table()
        assert T_fast.shape == (2**n, m)
        assert T_slow.shape == (2**n, m)
        tol = table_tolerance(net, x, background)
        # The bound must be far below the spread of the game, or it tests nothing.
        assert np.all(tol < 1e-3 * (np.ptp(T_slow, axis=0) + np.abs(T_slow).max(axis=0)))
        assert_within(T_fast - T_slow, tol)


def test_kernel_detects_mlp_forms():
    net, x, background = make_problem(4, 3, [5, 1], "tanh", np.float64)
    assert shapley.ModelGame(net, x, background).uses_mlp_kernel
    assert shapley.ModelGame(net.forward, x, background).uses_mlp_kernel
    assert shapley.ModelGame(net.__call__, x, background).uses_mlp_kernel
    assert not shapley.ModelGame(lambda Z: net.forward(Z), x, background).uses_mlp_kernel
    assert not shapley.ModelGame(net.forward, x, background, mlp_kernel=False).uses_mlp_kernel


def test_kernel_mlp_instance_wide_output():
    net, x, background = make_problem(6, 4, [5, 9], "sigmoid", np.float64)
    T_net = shapley.ModelGame(net, x, background).table()
    T_slow = shapley.ModelGame(net, x, background, mlp_kernel=False).table()
    assert_within(T_net - T_slow, table_tolerance(net, x, background))


def test_kernel_required_but_unavailable():
    net, x, background = make_problem(3, 2, [4, 1], "tanh", np.float64)
    with pytest.raises(TypeError, match="mlp_kernel=True"):
        shapley.ModelGame(lambda Z: net.forward(Z), x, background, mlp_kernel=True)
    with pytest.raises(TypeError, match="mlp_kernel must be"):
        shapley.ModelGame(net.forward, x, background, mlp_kernel="yes")


def test_kernel_rejects_nonfinite_features():
    net, x, background = make_problem(3, 2, [4, 1], "tanh", np.float64)
    x[1] = np.nan
    # The game of an MLP checks x when it is built, before any kernel runs.
    with pytest.raises(ValueError, match=r"^x must contain only finite values; got nan at index 1"):
        shapley.ModelGame(net.forward, x, background)


def test_kernel_rejects_overflow():
    net = ml.MLP([2, 1], activation="identity", dtype=np.float32)
    net.params = np.array([1.0, 1.0, 0.0], dtype=np.float32)
    x = np.array([3e38, 3e38])
    background = np.zeros((2, 2))
    game = shapley.ModelGame(net.forward, x, background)
    with pytest.raises(ValueError, match="finite values"):
        game.table()


def test_kernel_restricted_players():
    n, K = 7, 6
    net, x, background = make_problem(n, K, [8, 2], "tanh", np.float64, seed=3)
    game = shapley.ModelGame(net.forward, x, background)
    generic = shapley.ModelGame(net.forward, x, background, mlp_kernel=False)
    players = np.array([5, 0, 3], dtype=np.int64)
    table = game.mlp_table(players)
    assert table.shape == (8, 2)
    # Bit t of the restricted mask is feature players[t]; the rest stay background.
    full = np.array([sum(((S >> t) & 1) << int(p) for t, p in enumerate(players)) for S in range(8)])
    expected = generic.values(full)
    assert_within(table - expected, table_tolerance(net, x, background))


def test_kernel_table_with_null_players():
    n, K = 6, 4
    net, x, background = make_problem(n, K, [5, 2], "tanh", np.float64, seed=5)
    background[:, [0, 4]] = x[[0, 4]]  # features 0 and 4 equal x in every background row
    T_fast = shapley.ModelGame(net.forward, x, background).table()
    T_slow = shapley.ModelGame(net.forward, x, background, mlp_kernel=False).table()
    assert T_fast.shape == (2**n, 2)
    assert_within(T_fast - T_slow, table_tolerance(net, x, background))
    # v does not depend on the bits of the null players.
    masks = np.arange(2**n)
    np.testing.assert_array_equal(T_fast, T_fast[masks & ~0b10001])


def first_layer_bounds(net, x, background) -> np.ndarray:
    """Return M_i = |b_{1,i}| + sum_j |W_1[i, j]| max(|x_j|, max_k |b_{k,j}|), shape (h_1,)."""
    extent = np.maximum(np.abs(x), np.abs(background).max(axis=0))
    return np.abs(net.biases[0]) + np.abs(net.weights[0]) @ extent


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("activation, c", [("tanh", 2.0), ("sigmoid", 1.0)])
def test_kernel_table_saturated_units(activation, c, depth):
    # The kernel walks a tanh or sigmoid unit through exp(c u) only when
    # 4 <= c M_i <= 64, and the others through u. Scaling half of W_1 puts
    # units on both sides of the upper limit.
    n, K = 7, 6
    net, x, background = make_problem(n, K, HIDDEN[depth] + [2], activation, np.float64, seed=21)
    sizes = net.layer_sizes
    W1 = net.params[: sizes[0] * sizes[1]].reshape(sizes[1], sizes[0])
    W1[: sizes[1] // 2] *= 40.0
    M = first_layer_bounds(net, x, background)
    assert np.any(c * M > 64)
    assert np.any((c * M >= 4) & (c * M <= 64))
    T_fast = shapley.ModelGame(net.forward, x, background).table()
    T_slow = shapley.ModelGame(net.forward, x, background, mlp_kernel=False).table()
    assert_within(T_fast - T_slow, table_tolerance(net, x, background))


def test_kernel_table_all_null_players():
    net, x, background = make_problem(3, 2, [4, 1], "tanh", np.float64, seed=6)
    background[:] = x
    table = shapley.ModelGame(net.forward, x, background).table()
    assert table.shape == (8, 1)
    expected = net.forward(x[None, :])[0, 0]
    # Every coalition's K rows equal x, so v is f(x) up to rounding of the walk.
    tol = table_tolerance(net, x, background)
    assert_within(table - expected, tol)


@pytest.fixture
def restore_threads():
    before = ml.get_num_threads()
    yield
    ml.set_num_threads(before)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_threads_agree_bitwise(restore_threads, dtype):
    # Each segment of the walk starts from a direct computation and runs on
    # one thread, so the table does not depend on the thread count.
    net, x, background = make_problem(13, 9, [16, 2], "tanh", dtype, seed=7)
    game = shapley.ModelGame(net.forward, x, background)
    ml.set_num_threads(1)
    one = game.table()
    ml.set_num_threads(2)
    two = game.table()
    np.testing.assert_array_equal(one, two)


def test_explain_kernel_with_dropped_players():
    n, K = 8, 5
    net, x, background = make_problem(n, K, [6, 2], "relu", np.float64, seed=4)
    background[:, [1, 6]] = x[[1, 6]]  # features 1 and 6 equal x in every background row
    X = np.stack([x, x + 0.5])
    X[1, [1, 6]] = x[[1, 6]]
    fast = shapley.explain(net.forward, X, background)
    slow = shapley.explain(net.forward, X, background, mlp_kernel=False)
    assert fast.values.shape == (2, n, 2)
    assert np.all(fast.values[:, [1, 6]] == 0.0)
    assert fast.n_evaluations == slow.n_evaluations
    # phi differs by at most twice the table difference (the weights of the
    # subset formula sum to 1 for both v(S u i) and v(S)) plus the rounding
    # of the two summation methods.
    tol = 2 * table_tolerance(net, X[1], background)
    F = float(np.abs(net.forward(X)).max() + np.abs(net.forward(background)).max())
    tol = tol + 2 * kernel_bound(n, 4 * F) + n * 2**n * EPS64 * 4 * F
    assert_within(fast.values - slow.values, tol)
    np.testing.assert_allclose(fast.base_values, slow.base_values, rtol=0, atol=float(tol.max()))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 2, 4])
def test_kernel_exact_equals_permutations(n, dtype):
    K = 3
    net, x, background = make_problem(n, K, [5, 2], "tanh", dtype, seed=10 + n)
    phi = shapley.exact(shapley.ModelGame(net.forward, x, background))
    ref = np.array(
        shapley_by_permutations(lambda S: model_game_value(net.forward, x, background, S), n)
    )
    assert phi.shape == (n, 2)
    # Each v(S) of the reference is a float64 mean of float outputs of net.forward,
    # so it differs from the kernel's by at most the table tolerance. The
    # permutation reference adds n! rounded contributions of size <= 2F.
    F = float(np.abs(net.forward(np.vstack([x[None, :], background]))).max()) + 1.0
    tol = 2 * table_tolerance(net, x, background) + kernel_bound(n, F)
    tol = tol + (math.factorial(n) + 2) * EPS64 * 2 * F
    assert_within(phi - ref, tol)


# ------------------------------------------------------------ binding checks


def binding_args(dtype=np.float64, n=3, K=2):
    net = ml.MLP([n, 4, 2], activation="tanh", seed=0, dtype=dtype)
    return dict(
        w=net.params,
        layer_sizes=list(net.layer_sizes),
        activation=2,
        param=0.0,
        x=np.zeros(n, dtype=dtype),
        background=np.ones((K, n), dtype=dtype),
        players=np.arange(n, dtype=np.int64),
        table=np.empty((2**n, 2)),
    )


def test_binding_accepts_valid_call():
    args = binding_args()
    _core.model_game_table(**args)
    assert np.isfinite(args["table"]).all()


BAD_CALLS = [
    ("x dtype", lambda a: a.update(x=a["x"].astype(np.float32)), "x must have dtype float64"),
    ("x shape", lambda a: a.update(x=np.zeros(4)), r"x must have shape \(3,\)"),
    ("background rows", lambda a: a.update(background=np.ones((0, 3))), "K >= 1"),
    ("background 1-D", lambda a: a.update(background=np.ones(3)), "background must have shape"),
    ("background order", lambda a: a.update(background=np.asfortranarray(np.ones((2, 3)))),
     "background must be C-contiguous"),
    ("players dtype", lambda a: a.update(players=np.arange(3, dtype=np.int32)), "players must have dtype int64"),
    ("players range", lambda a: a.update(players=np.array([0, 3, 1], dtype=np.int64)), r"in \[0, 3\); got 3"),
    ("players negative", lambda a: a.update(players=np.array([0, -1], dtype=np.int64)), "got -1"),
    ("players duplicate", lambda a: a.update(players=np.array([1, 1], dtype=np.int64)), "distinct"),
    ("players 2-D", lambda a: a.update(players=np.zeros((1, 2), dtype=np.int64)), "players must be 1-D"),
    ("table shape", lambda a: a.update(table=np.empty((8, 1))), r"table must have shape \(8, 2\)"),
    ("table dtype", lambda a: a.update(table=np.empty((8, 2), dtype=np.float32)), "table must have dtype float64"),
    ("table read-only", lambda a: a["table"].setflags(write=False), "table must be writable"),
    ("w dtype", lambda a: a.update(w=a["w"].astype(np.int64)), "w must have dtype float64 or float32"),
    ("w size", lambda a: a.update(w=a["w"][:-1].copy()), "w must have shape"),
    ("w non-finite", lambda a: a["w"].__setitem__(0, np.inf), "w must be finite"),
    ("x non-finite", lambda a: a["x"].__setitem__(2, np.nan), "x must be finite"),
    ("background non-finite", lambda a: a["background"].__setitem__((1, 0), np.inf), "background must be finite"),
    ("activation code", lambda a: a.update(activation=99), "activation code"),
    ("layer sizes", lambda a: a.update(layer_sizes=[3]), "at least 2 sizes"),
]


@pytest.mark.parametrize("case, mutate, message", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_binding_rejects_bad_input(case, mutate, message):
    args = binding_args()
    args["w"] = args["w"].copy()
    mutate(args)
    with pytest.raises(ValueError, match=message):
        _core.model_game_table(**args)


def test_binding_float32_inputs_must_match():
    args = binding_args(dtype=np.float32)
    _core.model_game_table(**args)
    args["background"] = args["background"].astype(np.float64)
    with pytest.raises(ValueError, match="background must have dtype float32"):
        _core.model_game_table(**args)


@pytest.mark.parametrize("activation", ["leaky_relu", "softplus", "elu", "gelu", "sin", "poly2"])
def test_kernel_table_other_activations(activation):
    # The activations without a Lipschitz entry above: the kernel's table
    # differs from the generic one by rounding only. With |v| = O(1), n = 6
    # and the drift bound of about 300 eps per segment, 1e-11 absolute leaves
    # a margin of several orders and still catches a wrong sigma or parameter.
    rng = np.random.default_rng(7)
    net = ml.MLP([6, 5, 2], activation=activation, seed=3)
    x = rng.normal(size=6)
    background = rng.normal(size=(9, 6))
    kernel = shapley.ModelGame(net, x, background, mlp_kernel=True).table()
    generic = shapley.ModelGame(net, x, background, mlp_kernel=False).table()
    np.testing.assert_allclose(kernel, generic, rtol=0, atol=1e-11)
