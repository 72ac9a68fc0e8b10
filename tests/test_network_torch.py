"""torch.func as an outside oracle for every activation, loss and product.

Skipped when PyTorch is not installed. The torch model is written from the
same flat parameter vector, so its Jacobian columns follow ``net.params``.
PyTorch and mathlearn round differently (other summation orders and other
libm calls), so the tolerance is 1e-11 relative to max(1, |value|): the
1e-12 float64 bound of test_network.py with a factor 10 for two
independent evaluation orders.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.func import grad, jacrev, jvp, vmap  # noqa: E402

from test_network import ACTIVATIONS, assert_close, make_data, make_net  # noqa: E402

RTOL = 1e-11
SIZES = [3, 6, 4, 2]


def torch_sigma(name):
    F = torch.nn.functional
    table = {
        "identity": lambda z: z,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
        # logaddexp(z, 0) is log(1 + e^z) without the threshold of F.softplus.
        "softplus": lambda z: torch.logaddexp(z, torch.zeros_like(z)),
        "elu": F.elu,
        "gelu": lambda z: F.gelu(z, approximate="none"),
        "sin": torch.sin,
    }
    if name.startswith("poly"):
        k = int(name[4:])
        return lambda z: z**k
    return table[name]


def torch_model(sizes, activation):
    sigma = torch_sigma(activation)

    def f(w, x):
        offset = 0
        a = x
        L = len(sizes) - 1
        for l in range(L):
            n_in, n_out = sizes[l], sizes[l + 1]
            W = w[offset : offset + n_out * n_in].reshape(n_out, n_in)
            offset += n_out * n_in
            b = w[offset : offset + n_out]
            offset += n_out
            a = W @ a + b
            if l < L - 1:
                a = sigma(a)
        return a

    return f


def as_torch(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_jacobian_equals_torch_vmap_jacrev(activation):
    net = make_net(SIZES, activation)
    X, _, _ = make_data(SIZES, 5)
    f = torch_model(SIZES, activation)
    expected = vmap(jacrev(f), in_dims=(None, 0))(as_torch(net.params), as_torch(X)).numpy()
    assert_close(net.jacobian(X), expected, RTOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_jvp_equals_torch_func_jvp(activation):
    net = make_net(SIZES, activation)
    X, _, _ = make_data(SIZES, 5)
    v = np.random.default_rng(3).normal(size=net.n_params)
    f = torch_model(SIZES, activation)
    _, expected = jvp(lambda w: vmap(f, in_dims=(None, 0))(w, as_torch(X)), (as_torch(net.params),), (as_torch(v),))
    assert_close(net.jvp(X, v), expected.numpy(), RTOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_input_jacobian_equals_torch(activation):
    net = make_net(SIZES, activation)
    X, _, _ = make_data(SIZES, 5)
    f = torch_model(SIZES, activation)
    expected = vmap(jacrev(f, argnums=1), in_dims=(None, 0))(as_torch(net.params), as_torch(X))
    assert_close(net.input_jacobian(X), expected.numpy(), RTOL)


def torch_loss_terms(loss):
    F = torch.nn.functional
    if loss == "mse":
        return lambda out, t: torch.mean((out - t) ** 2)
    if loss == "cross_entropy":
        return lambda out, t: F.cross_entropy(out[None, :], t[None])
    return lambda out, t: F.binary_cross_entropy_with_logits(out, t)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", ["mse", "cross_entropy", "binary_cross_entropy"])
def test_per_sample_gradients_equal_torch(activation, loss):
    net = make_net(SIZES, activation)
    X, y, labels = make_data(SIZES, 5)
    if loss == "cross_entropy":
        target, t = labels, torch.from_numpy(labels)
    elif loss == "mse":
        target, t = y, as_torch(y)
    else:
        target = np.random.default_rng(4).uniform(size=y.shape)
        t = as_torch(target)
    f = torch_model(SIZES, activation)
    term = torch_loss_terms(loss)

    def sample_loss(w, x, ti):
        return term(f(w, x), ti)

    expected = vmap(grad(sample_loss), in_dims=(None, 0, 0))(as_torch(net.params), as_torch(X), t)
    assert_close(net.per_sample_gradients(X, target, loss=loss), expected.numpy(), RTOL)

    weight = np.random.default_rng(5).uniform(0, 2, size=5)

    def weighted(w):
        terms = vmap(sample_loss, in_dims=(None, 0, 0))(w, as_torch(X), t)
        return torch.mean(as_torch(weight) * terms)

    expected_batch = grad(weighted)(as_torch(net.params)).numpy()
    assert_close(net.loss_gradient(X, target, loss=loss, sample_weight=weight), expected_batch, RTOL)


def test_ntk_equals_torch_jacobian_gram():
    net = make_net(SIZES, "tanh")
    X, _, _ = make_data(SIZES, 4)
    f = torch_model(SIZES, "tanh")
    J = vmap(jacrev(f), in_dims=(None, 0))(as_torch(net.params), as_torch(X))
    expected = torch.einsum("bkp,cjp->bckj", J, J).numpy()
    assert_close(net.ntk(X), expected, RTOL)
