"""MLP kernels against PyTorch (torch.func), JAX and scikit-learn.

Same grid as bench_network.py: nets [8, 64, 64, 1] and [32, 256, 256, 10]
with tanh, B = 256 and 4096, float64 and float32. Operations:

- per-sample Jacobian (B, m, P): torch.func ``vmap(jacrev(f))`` and JAX
  ``jit(vmap(jacrev(f)))`` on a model written over the flat parameter
  vector, so their result is already (B, m, P) in the column order of
  ``net.params``;
- MSE value and gradient: torch autograd (``loss.backward()``) and JAX
  ``jit(value_and_grad)``;
- one SGD epoch (batch 32, lr 0.01, no momentum) on 4096 rows of the small
  net: mathlearn ``train``, scikit-learn ``MLPRegressor.partial_fit`` and a
  PyTorch loop with ``torch.optim.SGD``.

Each peer's result is checked against mathlearn before it is timed. Peers
come from the ``bench`` extra and are skipped when missing. Every
benchmark stores ``op``, ``impl`` and ``case`` in ``extra_info`` for
``report.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import mathlearn as ml
from bench_network import CASES, MAX_JACOBIAN_BYTES, case_id, jacobian_bytes, rtol_for, setup
from conftest import pedantic_or_plain

EPOCH_ROWS = 4096
EPOCH_BATCH = 32
EPOCH_LR = 0.01
EPOCH_SIZES = (8, 64, 64, 1)


def tag(benchmark, op, impl, case):
    benchmark.extra_info.update(op=op, impl=impl, case=case)


# ----------------------------------------------------------------------
# PyTorch


def torch_setup(net, X, y):
    torch = pytest.importorskip("torch")
    dtype = torch.float64 if net.dtype == np.float64 else torch.float32
    sizes = net.layer_sizes

    def f(w, x):
        offset, a = 0, x
        for l in range(len(sizes) - 1):
            n_in, n_out = sizes[l], sizes[l + 1]
            W = w[offset : offset + n_out * n_in].reshape(n_out, n_in)
            offset += n_out * n_in
            b = w[offset : offset + n_out]
            offset += n_out
            a = W @ a + b
            if l < len(sizes) - 2:
                a = torch.tanh(a)
        return a

    w = torch.from_numpy(net.params.copy()).to(dtype)
    return torch, f, w, torch.from_numpy(X), torch.from_numpy(y)


@pytest.mark.parametrize("sizes, B, dtype", CASES)
def test_torch_jacobian(benchmark, sizes, B, dtype):
    net, X, y = setup(sizes, B, dtype)
    n_bytes = jacobian_bytes(net, B)
    if 2 * n_bytes > MAX_JACOBIAN_BYTES:
        pytest.skip(f"torch.func needs about {2 * n_bytes / 2**30:.1f} GiB here")
    torch, f, w, Xt, _ = torch_setup(net, X, y)
    from torch.func import jacrev, vmap

    jac = vmap(jacrev(f), in_dims=(None, 0))
    J = pedantic_or_plain(benchmark, lambda: jac(w, Xt), big=n_bytes > 2**26)
    tol = rtol_for(dtype, sizes)
    np.testing.assert_allclose(J[:4].numpy(), net.jacobian(X[:4]), rtol=tol, atol=tol)
    tag(benchmark, "jacobian", "torch", case_id(sizes, B, dtype))


@pytest.mark.parametrize("sizes, B, dtype", CASES)
def test_torch_value_and_gradient(benchmark, sizes, B, dtype):
    net, X, y = setup(sizes, B, dtype)
    torch, f, w, Xt, yt = torch_setup(net, X, y)
    layers = []
    for W, b in zip(net.weights, net.biases):
        layers.append((torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)))

    def value_and_gradient():
        a = Xt
        for l, (W, b) in enumerate(layers):
            a = torch.addmm(b, a, W.T)
            if l < len(layers) - 1:
                a = torch.tanh(a)
        loss = torch.mean((a - yt) ** 2)
        for W, b in layers:
            W.grad = None
            b.grad = None
        loss.backward()
        return loss

    benchmark(value_and_gradient)
    grad = np.concatenate([t.grad.numpy().ravel() for pair in layers for t in pair])
    expected = net.loss_gradient(X, y)
    tol = rtol_for(dtype, sizes)
    np.testing.assert_allclose(grad, expected, rtol=tol, atol=tol * np.abs(expected).max())
    tag(benchmark, "value_and_gradient", "torch", case_id(sizes, B, dtype))


# ----------------------------------------------------------------------
# JAX


def jax_setup(net):
    jax = pytest.importorskip("jax")
    if net.dtype == np.float64:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    sizes = net.layer_sizes

    def f(w, x):
        offset, a = 0, x
        for l in range(len(sizes) - 1):
            n_in, n_out = sizes[l], sizes[l + 1]
            W = w[offset : offset + n_out * n_in].reshape(n_out, n_in)
            offset += n_out * n_in
            b = w[offset : offset + n_out]
            offset += n_out
            a = W @ a + b
            if l < len(sizes) - 2:
                a = jnp.tanh(a)
        return a

    return jax, jnp, f


@pytest.mark.parametrize("sizes, B, dtype", CASES)
def test_jax_jacobian(benchmark, sizes, B, dtype):
    net, X, _ = setup(sizes, B, dtype)
    n_bytes = jacobian_bytes(net, B)
    if 2 * n_bytes > MAX_JACOBIAN_BYTES:
        pytest.skip(f"JAX needs about {2 * n_bytes / 2**30:.1f} GiB here")
    jax, jnp, f = jax_setup(net)
    jac = jax.jit(jax.vmap(jax.jacrev(f), in_axes=(None, 0)))
    w, Xj = jnp.asarray(net.params), jnp.asarray(X)
    jac(w, Xj).block_until_ready()  # compile outside the timing
    J = pedantic_or_plain(benchmark, lambda: jac(w, Xj).block_until_ready(), big=n_bytes > 2**26)
    tol = rtol_for(dtype, sizes)
    np.testing.assert_allclose(np.asarray(J[:4]), net.jacobian(X[:4]), rtol=tol, atol=tol)
    tag(benchmark, "jacobian", "jax", case_id(sizes, B, dtype))


@pytest.mark.parametrize("sizes, B, dtype", CASES)
def test_jax_value_and_gradient(benchmark, sizes, B, dtype):
    net, X, y = setup(sizes, B, dtype)
    jax, jnp, f = jax_setup(net)

    def loss(w, X, y):
        Y = jax.vmap(f, in_axes=(None, 0))(w, X)
        return jnp.mean((Y - y) ** 2)

    vg = jax.jit(jax.value_and_grad(loss))
    w, Xj, yj = jnp.asarray(net.params), jnp.asarray(X), jnp.asarray(y)
    jax.block_until_ready(vg(w, Xj, yj))
    value, grad = benchmark(lambda: jax.block_until_ready(vg(w, Xj, yj)))
    expected = net.loss_gradient(X, y)
    tol = rtol_for(dtype, sizes)
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=tol, atol=tol * np.abs(expected).max())
    tag(benchmark, "value_and_gradient", "jax", case_id(sizes, B, dtype))


# ----------------------------------------------------------------------
# One SGD epoch


def epoch_data(dtype):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((EPOCH_ROWS, EPOCH_SIZES[0])).astype(dtype)
    y = (np.sin(X[:, 0]) + X[:, 1] * X[:, 2]).astype(dtype)
    return X, y


EPOCH_DTYPES = [pytest.param(np.float64, id="float64"), pytest.param(np.float32, id="float32")]


def epoch_case(dtype):
    return f"{'x'.join(map(str, EPOCH_SIZES))}-n{EPOCH_ROWS}-b{EPOCH_BATCH}-{np.dtype(dtype).name}"


@pytest.mark.parametrize("dtype", EPOCH_DTYPES)
def test_sgd_epoch(benchmark, dtype):
    X, y = epoch_data(dtype)
    net = ml.MLP(list(EPOCH_SIZES), activation="tanh", seed=0, dtype=dtype)
    start = net.params.copy()

    def epoch():
        net.params = start
        return ml.train(net, X, y, epochs=1, lr=EPOCH_LR, batch_size=EPOCH_BATCH, test_size=0, seed=0)

    result = benchmark(epoch)
    assert result.n_updates == EPOCH_ROWS // EPOCH_BATCH
    assert result.train_loss[1] < result.train_loss[0]
    tag(benchmark, "sgd_epoch", "mathlearn", epoch_case(dtype))


@pytest.mark.parametrize("dtype", EPOCH_DTYPES)
def test_sklearn_sgd_epoch(benchmark, dtype):
    neural_network = pytest.importorskip("sklearn.neural_network")
    X, y = epoch_data(dtype)

    def epoch():
        model = neural_network.MLPRegressor(
            hidden_layer_sizes=EPOCH_SIZES[1:-1], activation="tanh", solver="sgd",
            learning_rate_init=EPOCH_LR, momentum=0.0, batch_size=EPOCH_BATCH, alpha=0.0,
            shuffle=True, random_state=0,
        )
        return model.partial_fit(X, y)

    model = benchmark(epoch)
    assert model.t_ == EPOCH_ROWS
    assert model.coefs_[0].dtype == dtype
    tag(benchmark, "sgd_epoch", "sklearn", epoch_case(dtype))


@pytest.mark.parametrize("dtype", EPOCH_DTYPES)
def test_torch_sgd_epoch(benchmark, dtype):
    torch = pytest.importorskip("torch")
    X, y = epoch_data(dtype)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)[:, None]
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    generator = torch.Generator().manual_seed(0)

    def epoch():
        torch.manual_seed(0)
        layers = []
        for n_in, n_out in zip(EPOCH_SIZES[:-1], EPOCH_SIZES[1:]):
            layers += [torch.nn.Linear(n_in, n_out, dtype=tdtype), torch.nn.Tanh()]
        model = torch.nn.Sequential(*layers[:-1])
        opt = torch.optim.SGD(model.parameters(), lr=EPOCH_LR)
        order = torch.randperm(EPOCH_ROWS, generator=generator)
        for start in range(0, EPOCH_ROWS, EPOCH_BATCH):
            rows = order[start : start + EPOCH_BATCH]
            opt.zero_grad()
            loss = torch.mean((model(Xt[rows]) - yt[rows]) ** 2)
            loss.backward()
            opt.step()
        return float(loss)

    value = benchmark(epoch)
    assert np.isfinite(value)
    tag(benchmark, "sgd_epoch", "torch", epoch_case(dtype))
