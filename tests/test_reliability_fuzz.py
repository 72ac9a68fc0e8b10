"""Property tests of the C++ kernels against the pure-Python reference.

Hypothesis draws layer sizes, activations, network and input dtypes,
memory layouts (C order, Fortran order, strided and reversed views) and
values, and checks ``MLP.forward``, ``MLP.loss_gradient`` and
``MLP.jacobian`` against ``mathlearn.reference.network``, and the
model-game kernel against the generic model-game path. A second group
calls the bindings in ``mathlearn._core`` directly with one argument
broken at a time and expects ``ValueError`` or ``TypeError``, never a
crash or a write to a wrong buffer.

The default run draws a few dozen examples per property. Set
``MATHLEARN_FUZZ=long`` for 10**4 examples per property (about 5 minutes
on two busy cores; see docs/RELIABILITY.md).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mathlearn as ml
from mathlearn import _core
from mathlearn import network as _network  # noqa: F401  (its import installs the BLAS pointers into _core)
from mathlearn.reference import network as ref

LONG = os.environ.get("MATHLEARN_FUZZ", "") == "long"
EXAMPLES = 10_000 if LONG else 25

fuzz_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The quick profile replays the same examples on every run, so a default
    # test run never fails by chance; the long profile explores new ones.
    derandomize=not LONG,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

ACTIVATIONS = ["tanh", "sigmoid", "relu", "identity"]
ACTIVATION_CODES = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3}
INPUT_DTYPES = [np.float64, np.float32, np.float16, np.int32, np.uint8, np.bool_]
LAYOUTS = ["C", "F", "strided", "reversed"]


@st.composite
def problems(draw, min_batch=0):
    """Draw a network with random parameters and an input batch X in some layout."""
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    activation = draw(st.sampled_from(ACTIVATIONS))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    seed = draw(st.integers(0, 2**32 - 1))
    B = draw(st.integers(min_batch, 7))
    input_dtype = draw(st.sampled_from(INPUT_DTYPES))
    layout = draw(st.sampled_from(LAYOUTS))
    scale = draw(st.sampled_from([0.0, 1e-3, 1.0, 4.0]))

    rng = np.random.default_rng(seed)
    net = ml.MLP(sizes, activation=activation, seed=rng, dtype=dtype)
    net.params = rng.uniform(-1.0, 1.0, size=net.n_params)
    values = rng.normal(scale=scale, size=(B, sizes[0]))
    if np.dtype(input_dtype).kind in "iub":
        values = np.abs(np.round(values * 3))
    X = _with_layout(values.astype(input_dtype), layout)
    return net, X, rng


def _with_layout(X, layout):
    if layout == "F":
        return np.asfortranarray(X)
    if layout == "strided":
        wide = np.zeros((2 * X.shape[0], 3 * X.shape[1]), dtype=X.dtype)
        wide[::2, ::3] = X
        return wide[::2, ::3]
    if layout == "reversed":
        return np.ascontiguousarray(X[::-1, ::-1])[::-1, ::-1]
    return X


def _as_net_input(net, X):
    """Return X converted to the network dtype, as the kernels receive it, then to float64."""
    return np.asarray(X).astype(net.dtype).astype(np.float64)


def _pre_activations(net, X64):
    """Return the hidden pre-activations z_l in float64, for the relu-kink filter."""
    a = X64
    out = []
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        z = a @ W.astype(np.float64).T + b.astype(np.float64)
        if l < len(net.weights) - 1:
            out.append(z)
            a = ref_activation(net.activation, z)
    return out


def ref_activation(name, z):
    return np.vectorize(lambda v: ref.sigma(name, float(v)), otypes=[np.float64])(z)


def _tolerance(net, X64):
    """Return (tol, magnitude): a rounding-error bound for outputs, and the largest term size.

    A floating-point inner product of length n has an error of at most
    n u / (1 - n u) times the sum of the absolute values of its terms (u is
    the unit roundoff), so each layer adds at most about (n_{l-1} + 2) units
    of rounding relative to |W||a| + |b|, and sigma is 1-Lipschitz.
    So the error is below eps * depth * (width + 2) times the largest such
    sum, called magnitude here. The factor 8 is an allowance for the
    activation functions' own rounding.
    """
    eps = np.finfo(net.dtype).eps
    a = np.abs(X64)
    magnitude = max(1.0, float(a.max(initial=0.0)))
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        a = a @ np.abs(W.astype(np.float64)).T + np.abs(b.astype(np.float64))
        magnitude = max(magnitude, float(a.max(initial=0.0)))
        if l < len(net.weights) - 1 and net.activation in ("tanh", "sigmoid"):
            a = np.minimum(a, 1.0)
    depth = len(net.layer_sizes) - 1
    width = max(net.layer_sizes)
    return 8.0 * eps * depth * (width + 2) * magnitude, magnitude


def _avoid_relu_kinks(net, X64, tol):
    """Discard inputs whose relu pre-activations lie within rounding of 0 but not at 0.

    There relu' jumps, so the kernel and the reference may take different branches.
    """
    if net.activation != "relu":
        return
    for z in _pre_activations(net, X64):
        assume(not np.any((np.abs(z) < tol) & (z != 0.0)))


@fuzz_settings
@given(problems(), st.sampled_from(["blas", "fused"]))
def test_forward_matches_reference(problem, path):
    # Both C++ forward kernels: the BLAS one (the default) and the fused loop.
    net, X, _ = problem
    _core.set_forward_path(path)
    try:
        Y = net.forward(X)
    finally:
        _core.set_forward_path("auto")
    X64 = _as_net_input(net, X)
    expected = ref.forward(net.layer_sizes, net.activation, net.params, X64)
    assert Y.dtype == net.dtype
    assert Y.shape == expected.shape
    tol, _ = _tolerance(net, X64)
    np.testing.assert_allclose(Y, expected, rtol=0, atol=tol)


@fuzz_settings
@given(problems(min_batch=1), st.sampled_from(["mse", "cross_entropy"]), st.sampled_from(["blas", "fused"]))
def test_loss_gradient_matches_reference(problem, loss, path):
    net, X, rng = problem
    m = net.n_outputs
    assume(loss == "mse" or m >= 2)
    B = X.shape[0]
    if loss == "mse":
        y = rng.normal(size=(B, m))
    else:
        y = rng.integers(0, m, size=B)
    X64 = _as_net_input(net, X)
    tol, magnitude = _tolerance(net, X64)
    _avoid_relu_kinks(net, X64, tol)

    _core.set_forward_path(path)
    try:
        g = net.loss_gradient(X, y, loss=loss)
    finally:
        _core.set_forward_path("auto")
    expected = ref.loss_gradient(net.layer_sizes, net.activation, net.params, X64, y, loss)
    assert g.dtype == net.dtype
    assert g.shape == (net.n_params,)
    # Each gradient entry multiplies an activation (at most magnitude) by a
    # back-propagated error, so one more factor of magnitude is an estimate
    # of its error bound.
    np.testing.assert_allclose(g, expected, rtol=0, atol=tol * magnitude)


@fuzz_settings
@given(problems(), st.integers(1, 4))
def test_jacobian_matches_reference(problem, chunk_size):
    net, X, _ = problem
    X64 = _as_net_input(net, X)
    tol, magnitude = _tolerance(net, X64)
    _avoid_relu_kinks(net, X64, tol)

    J = net.jacobian(X, chunk_size=chunk_size)
    expected = ref.jacobian(net.layer_sizes, net.activation, net.params, X64)
    assert J.dtype == net.dtype
    assert J.shape == (X.shape[0], net.n_outputs, net.n_params)
    # As for the gradient: an activation times a back-propagated derivative.
    np.testing.assert_allclose(J, expected, rtol=0, atol=tol * magnitude)


# ---------------------------------------------------------------------------
# The raw bindings: one broken argument at a time.

MUTATIONS = [
    "none",
    "w dtype", "w length", "w Fortran 2-d", "X dtype", "X 1-d", "X columns", "X strided",
    "out dtype", "out shape", "out read-only", "out strided", "sizes short", "sizes zero",
    "sizes negative", "activation code", "hidden count", "hidden shape",
    "G shape", "G dtype", "w int64",
]


def _raw_arguments(sizes, dtype, B, rng):
    P = sum((sizes[l - 1] + 1) * sizes[l] for l in range(1, len(sizes)))
    return {
        "w": rng.uniform(-1, 1, size=P).astype(dtype),
        "X": rng.normal(size=(B, sizes[0])).astype(dtype),
        "sizes": list(sizes),
        "code": 2,
        "Y": np.zeros((B, sizes[-1]), dtype=dtype),
        "hidden": [np.zeros((B, n), dtype=dtype) for n in sizes[1:-1]],
        "G": rng.normal(size=(B, sizes[-1])).astype(dtype),
        "grad": np.zeros(P, dtype=dtype),
        "J": np.zeros((B, sizes[-1], P), dtype=dtype),
    }


def _mutate(args, mutation, entry):
    out_name = {"forward": "Y", "backward": "grad", "jacobian": "J"}[entry]
    other = np.float32 if args["w"].dtype == np.float64 else np.float64
    if mutation == "w dtype":
        args["w"] = args["w"].astype(other)
    elif mutation == "w int64":
        args["w"] = np.zeros(args["w"].shape, dtype=np.int64)
    elif mutation == "w length":
        args["w"] = args["w"][:-1].copy()
    elif mutation == "w Fortran 2-d":
        args["w"] = np.asfortranarray(np.stack([args["w"], args["w"]], axis=1))
    elif mutation == "X dtype":
        args["X"] = args["X"].astype(other)
    elif mutation == "X 1-d":
        args["X"] = args["X"].ravel().copy()
    elif mutation == "X columns":
        args["X"] = np.zeros((args["X"].shape[0], args["X"].shape[1] + 1), dtype=args["X"].dtype)
    elif mutation == "X strided":
        args["X"] = np.repeat(args["X"], 2, axis=1)[:, ::2]
        # NumPy calls a (1, 1) view C-contiguous whatever its strides.
        assume(not args["X"].flags.c_contiguous)
    elif mutation == "out dtype":
        args[out_name] = args[out_name].astype(other)
    elif mutation == "out shape":
        args[out_name] = np.zeros(args[out_name].size + 1, dtype=args[out_name].dtype)
    elif mutation == "out read-only":
        args[out_name].flags.writeable = False
    elif mutation == "out strided":
        wide = np.zeros(args[out_name].shape + (2,), dtype=args[out_name].dtype)
        args[out_name] = wide[..., 0]
        assume(not args[out_name].flags.c_contiguous)
    elif mutation == "sizes short":
        args["sizes"] = args["sizes"][:1]
    elif mutation == "sizes zero":
        args["sizes"] = [0] + args["sizes"][1:]
    elif mutation == "sizes negative":
        args["sizes"] = args["sizes"][:-1] + [-3]
    elif mutation == "activation code":
        args["code"] = 99
    elif mutation == "hidden count":
        args["hidden"] = args["hidden"] + [np.zeros((1, 1), dtype=args["w"].dtype)]
    elif mutation == "hidden shape":
        args["hidden"] = [np.zeros((h.shape[0] + 1, h.shape[1]), dtype=h.dtype) for h in args["hidden"]]
        if not args["hidden"]:
            args["hidden"] = [np.zeros((1, 1), dtype=args["w"].dtype)]
    elif mutation == "G shape":
        args["G"] = np.zeros((args["G"].shape[0] + 1, args["G"].shape[1]), dtype=args["G"].dtype)
    elif mutation == "G dtype":
        args["G"] = args["G"].astype(other)
    return out_name


def _call(entry, args):
    if entry == "forward":
        _core.forward(args["w"], args["X"], args["sizes"], args["code"], 0.0, args["Y"], args["hidden"])
    elif entry == "backward":
        _core.backward(args["w"], args["X"], args["sizes"], args["code"], 0.0, args["hidden"], [], args["G"], args["grad"])
    else:
        _core.jacobian(args["w"], args["X"], args["sizes"], args["code"], 0.0, args["J"])


def _applies(mutation, entry):
    if mutation.startswith("G "):
        return entry == "backward"
    if mutation.startswith("hidden"):
        return entry in ("forward", "backward")
    return True


@fuzz_settings
@given(
    sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    dtype=st.sampled_from([np.float64, np.float32]),
    B=st.integers(1, 5),
    entry=st.sampled_from(["forward", "backward", "jacobian"]),
    mutation=st.sampled_from(MUTATIONS),
    seed=st.integers(0, 2**32 - 1),
)
def test_bindings_reject_broken_arguments(sizes, dtype, B, entry, mutation, seed):
    assume(_applies(mutation, entry))
    rng = np.random.default_rng(seed)
    args = _raw_arguments(sizes, dtype, B, rng)
    if entry == "backward":
        # backward reads the hidden activations of a forward pass.
        _core.forward(args["w"], args["X"], args["sizes"], args["code"], 0.0, args["Y"], args["hidden"])
    out_name = _mutate(args, mutation, entry)
    before = args[out_name].copy()

    if mutation == "none":
        _call(entry, args)
        net = ml.MLP(sizes, activation="tanh", dtype=dtype)
        net.params = args["w"]
        if entry == "forward":
            np.testing.assert_array_equal(args["Y"], net.forward(args["X"]))
        elif entry == "jacobian":
            np.testing.assert_array_equal(args["J"], net.jacobian(args["X"]))
        return

    with pytest.raises((ValueError, TypeError)):
        _call(entry, args)
    # A rejected call writes nothing.
    np.testing.assert_array_equal(args[out_name], before)


@fuzz_settings
@given(
    n=st.integers(1, 8),
    K=st.integers(1, 6),
    hidden=st.lists(st.integers(1, 6), min_size=1, max_size=2),
    m=st.integers(1, 3),
    activation=st.sampled_from(ACTIVATIONS),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**32 - 1),
)
def test_model_game_kernel_matches_generic(n, K, hidden, m, activation, dtype, seed):
    # The MLP model-game kernel (a Gray-code walk in C++) against the generic
    # path, which calls net.forward on the hybrid rows. The tolerance is the
    # rounding and drift bound that the kernel's own tests derive.
    from test_shapley_mlp_kernel import table_tolerance

    from mathlearn import shapley

    rng = np.random.default_rng(seed)
    net = ml.MLP([n, *hidden, m], activation=activation, seed=rng, dtype=dtype)
    x = rng.normal(size=n).astype(dtype)
    background = rng.normal(size=(K, n)).astype(dtype)
    kernel = shapley.ModelGame(net, x, background, mlp_kernel=True).table()
    generic = shapley.ModelGame(net, x, background, mlp_kernel=False).table()
    difference = np.abs(kernel - generic).reshape(len(kernel), -1)
    tol = table_tolerance(net, x, background)
    assert np.all(difference <= tol), (difference.max(axis=0), tol)


def test_bindings_parameter_count_overflow():
    # (2**31 - 1)**2 * 4 exceeds the int64 range of the parameter count. The
    # call runs in a child process, because under the sanitizer build
    # (tools/sanitize.sh) UBSan would abort the process on an overflow.
    script = (
        "import numpy as np, mathlearn as ml\n"
        "from mathlearn import _core\n"
        "ml.MLP([2, 1])\n"  # installs the BLAS pointers
        "try:\n"
        "    _core.forward(np.zeros(3), np.zeros((2, 2)), [2**31 - 1] * 5, 2, 0.0, np.zeros((2, 1)), [])\n"
        "except ValueError as exc:\n"
        "    print('ValueError', exc)\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "runtime error" not in completed.stderr
    assert completed.stdout.startswith("ValueError")
