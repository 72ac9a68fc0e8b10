"""Momentum, Adam, the L2 penalty, sample weights, early stopping and the progress bar.

Each optimizer is replayed by hand from the gradients of ``loss_gradient``
with the same shuffles, and Adam and momentum are compared with
torch.optim when PyTorch is installed. The replays run the same float64
operations in the same order, so they agree to a few rounding errors per
update; 1e-12 relative leaves a margin over about 100 updates.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import mathlearn as ml
from mathlearn.training import split_indices


def problem(n=40, sizes=(3, 6, 2), seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    y = np.stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]], axis=1)[:, : sizes[-1]]
    net = ml.MLP(list(sizes), activation="tanh", seed=seed)
    return net, X, y


def weight_mask(net):
    mask = np.zeros(net.n_params)
    offset = 0
    for W, b in zip(net.weights, net.biases):
        mask[offset : offset + W.size] = 1
        offset += W.size + b.size
    return mask


def replay(net, X, y, *, epochs, batch_size, seed, update, l2=0.0, sample_weight=None):
    """Run the loop of ml.train by hand: same split, same permutations, same gradients."""
    rng = np.random.default_rng(seed)
    train_index, _ = split_indices(len(X), 0.25, rng)
    Xt, yt = X[train_index], y[train_index]
    wt = None if sample_weight is None else sample_weight[train_index]
    mask = weight_mask(net)
    for _ in range(epochs):
        order = rng.permutation(len(Xt))
        for start in range(0, len(Xt), batch_size):
            rows = order[start : start + batch_size]
            g = net.loss_gradient(Xt[rows], yt[rows], sample_weight=None if wt is None else wt[rows])
            g = g + l2 * mask * net.params
            update(g)
    return net.params.copy()


def test_momentum_matches_manual_updates():
    net, X, y = problem()
    manual = net.copy()
    ml.train(net, X, y, epochs=5, lr=0.05, batch_size=8, test_size=0.25, seed=1, momentum=0.9)
    velocity = np.zeros(net.n_params)

    def update(g):
        velocity[:] = 0.9 * velocity + g
        manual.params -= 0.05 * velocity

    expected = replay(manual, X, y, epochs=5, batch_size=8, seed=1, update=update)
    np.testing.assert_allclose(net.params, expected, rtol=1e-12, atol=1e-13)


def test_adam_matches_manual_updates():
    net, X, y = problem()
    manual = net.copy()
    ml.train(net, X, y, epochs=4, lr=0.01, batch_size=10, test_size=0.25, seed=2, optimizer="adam")
    m = np.zeros(net.n_params)
    v = np.zeros(net.n_params)
    t = [0]

    def update(g):
        # Kingma and Ba 2015, Algorithm 1, as written.
        t[0] += 1
        m[:] = 0.9 * m + 0.1 * g
        v[:] = 0.999 * v + 0.001 * g * g
        m_hat = m / (1 - 0.9 ** t[0])
        v_hat = v / (1 - 0.999 ** t[0])
        manual.params -= 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)

    expected = replay(manual, X, y, epochs=4, batch_size=10, seed=2, update=update)
    np.testing.assert_allclose(net.params, expected, rtol=1e-10, atol=1e-12)


def test_l2_penalty_and_sample_weight_match_manual_updates():
    net, X, y = problem()
    manual = net.copy()
    weight = np.random.default_rng(5).uniform(0.5, 2.0, size=len(X))
    ml.train(net, X, y, epochs=3, lr=0.05, batch_size=7, test_size=0.25, seed=3, l2=0.1,
             sample_weight=weight)

    def update(g):
        manual.params -= 0.05 * g

    expected = replay(manual, X, y, epochs=3, batch_size=7, seed=3, update=update, l2=0.1,
                      sample_weight=weight)
    np.testing.assert_allclose(net.params, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_optimizers_match_torch(optimizer):
    torch = pytest.importorskip("torch")
    net, X, y = problem()
    ours = net.copy()
    w = torch.tensor(net.params.copy(), requires_grad=True)
    if optimizer == "sgd":
        opt = torch.optim.SGD([w], lr=0.05, momentum=0.9)
        ours_opt = ml.training.Optimizer("sgd", net.n_params, np.float64, lr=0.05, momentum=0.9)
    else:
        opt = torch.optim.Adam([w], lr=0.01)
        ours_opt = ml.training.Optimizer("adam", net.n_params, np.float64, lr=0.01)
    for step in range(20):
        rows = slice(2 * step, 2 * step + 8)
        g = ours.loss_gradient(X[rows], y[rows])
        ours_opt.step(ours.params, g)
        net.params = w.detach().numpy()
        opt.zero_grad()
        w.grad = torch.from_numpy(net.loss_gradient(X[rows], y[rows]))
        opt.step()
    np.testing.assert_allclose(ours.params, w.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_early_stopping_restores_best_epoch():
    net, X, y = problem(n=120)
    result = ml.train(net, X, y, epochs=400, lr=0.5, batch_size=4, test_size=0.2, seed=4,
                      early_stopping=True, validation_fraction=0.2, n_iter_no_change=5, tol=0.0)
    assert result.stopped_early
    assert result.epochs < 400
    best = result.best_epoch
    assert result.validation_loss[best] == np.nanmin(result.validation_loss)
    # No epoch in the last n_iter_no_change improved on the best.
    assert result.epochs - best == 5
    rows = result.validation_index
    assert math.isclose(net.loss(X[rows], y[rows]), result.validation_loss[best], rel_tol=1e-12)
    assert len(rows) == math.ceil(0.2 * 96)
    assert np.intersect1d(rows, result.train_index).size == 0
    assert np.intersect1d(rows, result.test_index).size == 0


def test_early_stopping_too_few_rows():
    net, X, y = problem(n=6)
    with pytest.raises(ValueError, match=r"at least 2 validation rows .* gives 1 validation rows"):
        ml.train(net, X, y, epochs=3, test_size=0, early_stopping=True, validation_fraction=0.1)


def test_progress_bar_runs(capsys):
    pytest.importorskip("tqdm")
    net, X, y = problem()
    ml.train(net, X, y, epochs=3, test_size=0.25, seed=0, progress=True)
    assert "3/3" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"optimizer": "rmsprop"}, "optimizer must be one of 'sgd', 'adam'; got 'rmsprop'"),
        ({"momentum": 1.0}, r"momentum must be in \[0.0, 1.0\); got 1.0"),
        ({"l2": -1.0}, r"l2 must be in \[0.0, inf\); got -1.0"),
        ({"beta2": 1.5}, "beta2 must be in"),
        ({"n_iter_no_change": 0}, "n_iter_no_change must be >= 1; got 0"),
        ({"sample_weight": np.ones(3)}, r"sample_weight must have one weight per sample \(40\)"),
    ],
)
def test_training_arguments_are_checked(kwargs, pattern):
    net, X, y = problem()
    with pytest.raises(ValueError, match=pattern):
        ml.train(net, X, y, epochs=1, **kwargs)
