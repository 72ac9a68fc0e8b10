"""Training by gradient descent and stochastic gradient descent.

For a network f_w and a loss L(w) = (1/B) sum_b l(f_w(x_b), y_b) on the
training set, gradient descent updates w <- w - lr * grad L(w) once per
epoch on the full training set; stochastic (mini-batch) gradient descent
makes the same update on each mini-batch of a fresh random permutation of
the training set, so one epoch is ceil(n_train / batch_size) updates.
The loss and its scaling are those of ``mathlearn.losses``.

The split into training and test sets follows scikit-learn's rule for
``train_test_split``: a float ``test_size`` gives ceil(test_size * n) test
samples, an int gives that many, and the rest are training samples. The
permutation comes from a seeded ``numpy.random.Generator``, so it differs
from scikit-learn's (which uses ``RandomState``) but is reproducible.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._validation import as_float_array, as_generator, check_int, check_real

__all__ = ["TrainingResult", "split_indices", "train", "train_test_split"]


@dataclass
class TrainingResult:
    """History of one call of :func:`train`.

    Attributes
    ----------
    train_loss : ndarray of shape (epochs + 1,)
        Loss on the whole training set before training (index 0) and after
        each epoch.
    test_loss : ndarray of shape (epochs + 1,)
        The same on the test set; NaN when ``test_size`` is 0.
    train_index, test_index : ndarray of int
        Rows of X in each set.
    n_updates : int
        Number of parameter updates made.
    lr : float
        Learning rate used.
    batch_size : int or None
        Mini-batch size used; None for full-batch gradient descent.
    """

    train_loss: np.ndarray
    test_loss: np.ndarray
    train_index: np.ndarray
    test_index: np.ndarray
    n_updates: int = 0
    lr: float = 0.0
    batch_size: int | None = None

    @property
    def epochs(self) -> int:
        return len(self.train_loss) - 1


def split_indices(n_samples: int, test_size=0.2, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n_samples)`` into shuffled training and test indices.

    Parameters
    ----------
    n_samples : int
        Number of rows, at least 1.
    test_size : float in [0, 1) or int in [0, n_samples)
        Fraction of rows (rounded up, as scikit-learn does) or number of
        rows in the test set.
    seed : None, int or numpy.random.Generator
        Source of the permutation.

    Returns
    -------
    train_index, test_index : ndarray of int64
        Disjoint, together a permutation of ``range(n_samples)``.
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    n_test = _n_test(n_samples, test_size)
    rng = as_generator(seed)
    order = rng.permutation(n_samples)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def _n_test(n_samples: int, test_size) -> int:
    if isinstance(test_size, bool):
        raise TypeError(f"test_size must be a float in [0, 1) or an int; got {test_size!r}.")
    if isinstance(test_size, (numbers.Integral, np.integer)):
        return check_int(test_size, "test_size", minimum=0, maximum=n_samples - 1)
    fraction = check_real(
        test_size,
        "test_size",
        low=0.0,
        high=1.0,
        high_open=True,
        hint="Pass a fraction such as 0.2, or an int number of test rows.",
    )
    n_test = math.ceil(fraction * n_samples)
    if n_test >= n_samples:
        raise ValueError(
            f"test_size={fraction} leaves no training rows out of n_samples={n_samples}. "
            "Use a smaller test_size."
        )
    return n_test


def train_test_split(X, y, test_size=0.2, seed=None):
    """Split X and y into training and test parts.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        Rows of X and y, in the order of :func:`split_indices`.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 1 or y.ndim < 1 or len(X) != len(y):
        raise ValueError(
            f"X and y must have the same number of rows; got X of shape {X.shape} "
            f"and y of shape {y.shape}."
        )
    train_index, test_index = split_indices(len(X), test_size, seed)
    return X[train_index], X[test_index], y[train_index], y[test_index]


def train(
    net,
    X,
    y,
    *,
    epochs: int = 100,
    lr: float = 1e-2,
    batch_size: int | None = None,
    test_size=0.2,
    loss: str = "mse",
    seed=None,
) -> TrainingResult:
    """Train ``net`` in place by gradient descent or mini-batch SGD.

    Parameters
    ----------
    net : mathlearn.MLP
        The network; its ``params`` are updated in place.
    X : array_like of shape (n_samples, n_inputs)
        Inputs.
    y : array_like of shape (n_samples,) or (n_samples, n_outputs)
        Targets: real values for ``loss="mse"``, class labels or
        probability rows for ``loss="cross_entropy"``.
    epochs : int
        Passes over the training set, at least 1.
    lr : float
        Learning rate (step size), positive.
    batch_size : int or None
        None (or at least the number of training rows) gives full-batch
        gradient descent; otherwise mini-batch SGD with batches of this
        size, reshuffled each epoch.
    test_size : float or int
        Held-out part, as in :func:`split_indices`; 0 trains on all rows.
    loss : str
        A loss name of ``mathlearn.losses``.
    seed : None, int or numpy.random.Generator
        Source of the split and of the mini-batch order.

    Returns
    -------
    TrainingResult

    Raises
    ------
    ValueError
        On invalid arguments, and when the training loss becomes NaN or
        infinite. In that case the parameters are restored to their values
        at the end of the last finite epoch before the error is raised.
    """
    X = as_float_array(X, "X", ndim=2, dtype=net.dtype, allow_empty=False)
    if loss == "cross_entropy":
        y = np.asarray(y)
    else:
        y = as_float_array(y, "y", ndim=(1, 2), dtype=net.dtype)
    if len(y) != len(X):
        raise ValueError(
            f"y must have one row per row of X ({len(X)}); got y of shape {y.shape}."
        )
    epochs = check_int(epochs, "epochs", minimum=1)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    rng = as_generator(seed)
    train_index, test_index = split_indices(len(X), test_size, rng)
    n_train = len(train_index)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        if batch_size >= n_train:
            batch_size = None

    X_train, y_train = X[train_index], y[train_index]
    X_test, y_test = X[test_index], y[test_index]
    # Check y against the loss and the network once, before any update.
    net.loss(X_train[:1], y_train[:1], loss=loss)

    def evaluate(X_part, y_part):
        if not len(X_part):
            return math.nan
        # Divergence shows as an infinite or NaN loss, checked after each epoch.
        with np.errstate(over="ignore", invalid="ignore"):
            return net.loss(X_part, y_part, loss=loss)

    train_loss = np.empty(epochs + 1)
    test_loss = np.empty(epochs + 1)
    train_loss[0] = evaluate(X_train, y_train)
    test_loss[0] = evaluate(X_test, y_test)
    gradient = np.empty(net.n_params, dtype=net.dtype)
    last_good = net.params.copy()
    n_updates = 0

    for epoch in range(1, epochs + 1):
        if batch_size is None:
            net.value_and_gradient(X_train, y_train, loss=loss, out=gradient)
            net.params -= lr * gradient
            n_updates += 1
        else:
            order = rng.permutation(n_train)
            for start in range(0, n_train, batch_size):
                rows = order[start : start + batch_size]
                net.value_and_gradient(X_train[rows], y_train[rows], loss=loss, out=gradient)
                net.params -= lr * gradient
                n_updates += 1

        train_loss[epoch] = evaluate(X_train, y_train)
        test_loss[epoch] = evaluate(X_test, y_test)
        if not np.isfinite(train_loss[epoch]) or not np.isfinite(net.params).all():
            net.params = last_good
            raise ValueError(
                f"training diverged: the training loss became {train_loss[epoch]} at epoch "
                f"{epoch} with lr={lr}. Lower lr (for example to {lr / 10:g}) or standardize "
                f"X and y. The parameters were restored to their values after epoch {epoch - 1}."
            )
        last_good[:] = net.params

    return TrainingResult(
        train_loss=train_loss,
        test_loss=test_loss,
        train_index=train_index,
        test_index=test_index,
        n_updates=n_updates,
        lr=lr,
        batch_size=batch_size,
    )
