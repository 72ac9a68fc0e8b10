"""Training by gradient descent, SGD with momentum, and Adam.

For a network f_w and a loss L(w) = (1/B) sum_b w_b l(f_w(x_b), y_b) on the
training set (w_b = 1 unless ``sample_weight`` is given), plus an optional
L2 penalty (lambda / 2) sum_l ||W_l||_F^2 on the weight matrices (not the
biases), the optimizers update the parameters with the gradient g of that
objective:

``"sgd"``
    b <- mu b + g, w <- w - lr b, with b = 0 at the start; mu = 0 is plain
    (stochastic) gradient descent, w <- w - lr g. This is the momentum
    form of ``torch.optim.SGD`` (Sutskever et al. 2013, "On the importance
    of initialization and momentum in deep learning", eq. 1-2, with the
    learning rate moved out of the velocity).
``"adam"``
    m <- beta1 m + (1 - beta1) g, v <- beta2 v + (1 - beta2) g^2,
    w <- w - lr m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1 - beta1^t)
    and v_hat = v / (1 - beta2^t) at step t (Kingma and Ba 2015, "Adam: a
    method for stochastic optimization", Algorithm 1).

Full-batch gradient descent makes one update per epoch on the whole
training set. With ``batch_size``, each epoch makes one update per
mini-batch of a fresh random permutation of the training set, so
ceil(n_train / batch_size) updates. The loss and its scaling are those of
``mathlearn.losses``.

The split into training and test sets follows scikit-learn's rule for
``train_test_split``: a float ``test_size`` gives ceil(test_size * n) test
samples, an int gives that many, and the rest are training samples. The
permutation comes from a seeded ``numpy.random.Generator``, so it differs
from scikit-learn's (which uses ``RandomState``) but is reproducible.

Early stopping sets aside ceil(validation_fraction * n_train) of the
training rows, after the test split. It stops when the validation loss
has not fallen below its best value minus ``tol`` for
``n_iter_no_change`` epochs, and then restores the parameters of the
best epoch (Goodfellow, Bengio and Courville, Deep Learning, Section 7.8).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._validation import as_float_array, as_generator, check_choice, check_int, check_real

__all__ = ["Optimizer", "TrainingResult", "split_indices", "train", "train_test_split"]


@dataclass
class TrainingResult:
    """History of one call of :func:`train`.

    Attributes
    ----------
    train_loss : ndarray of shape (n_epochs + 1,)
        Loss on the whole training set before training (index 0) and after
        each epoch, without the L2 penalty.
    test_loss : ndarray of shape (n_epochs + 1,)
        The same on the test set; NaN when ``test_size`` is 0.
    train_index, test_index : ndarray of int
        Rows of X in each set. With early stopping, ``train_index`` contains
        the rows the updates used, without the validation rows.
    n_updates : int
        Number of parameter updates made.
    lr : float
        Learning rate used.
    batch_size : int or None
        Mini-batch size used; None for full-batch gradient descent.
    validation_loss : ndarray of shape (n_epochs + 1,)
        Loss on the validation rows; NaN without early stopping.
    validation_index : ndarray of int
        Rows of X held out for early stopping (empty without it).
    best_epoch : int
        Epoch whose parameters the network has at the end: the epoch of
        the lowest validation loss with early stopping, else the last.
    stopped_early : bool
        True when early stopping ended training before ``epochs``.
    """

    train_loss: np.ndarray
    test_loss: np.ndarray
    train_index: np.ndarray
    test_index: np.ndarray
    n_updates: int = 0
    lr: float = 0.0
    batch_size: int | None = None
    validation_loss: np.ndarray | None = None
    validation_index: np.ndarray | None = None
    best_epoch: int = 0
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        """Number of epochs run."""
        return len(self.train_loss) - 1


# A validation set of one row gives a stopping rule driven by one sample's
# loss, so early stopping needs at least this many rows.
MIN_VALIDATION_ROWS = 2


class Optimizer:
    """State and update rule of one optimizer over a flat parameter vector (see the module docstring)."""

    def __init__(self, name, n_params, dtype, *, lr, momentum=0.0, beta1=0.9, beta2=0.999, eps=1e-8):
        self.name = check_choice(name, "optimizer", ("sgd", "adam"))
        self.params_shape = (int(n_params),)
        self.lr = lr
        self.momentum = momentum
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        if name == "sgd":
            self.velocity = np.zeros(n_params, dtype=dtype) if momentum > 0 else None
        else:
            self.m = np.zeros(n_params, dtype=dtype)
            self.v = np.zeros(n_params, dtype=dtype)
            self.work = np.empty(n_params, dtype=dtype)

    def step(self, params: np.ndarray, g: np.ndarray) -> None:
        """Update ``params`` in place with the gradient ``g``."""
        self.t += 1
        if self.name == "sgd":
            if self.velocity is None:
                params -= self.lr * g
                return
            self.velocity *= self.momentum
            self.velocity += g
            params -= self.lr * self.velocity
            return
        self.m *= self.beta1
        self.m += (1 - self.beta1) * g
        self.v *= self.beta2
        np.multiply(g, g, out=self.work)
        self.work *= 1 - self.beta2
        self.v += self.work
        # lr m_hat / (sqrt(v_hat) + eps) = step m / (sqrt(v) + eps sqrt(1 - beta2^t)) with
        # step = lr sqrt(1 - beta2^t) / (1 - beta1^t): the same number in fewer array passes.
        correction = math.sqrt(1 - self.beta2**self.t)
        step = self.lr * correction / (1 - self.beta1**self.t)
        np.sqrt(self.v, out=self.work)
        self.work += self.eps * correction
        np.divide(self.m, self.work, out=self.work)
        self.work *= step
        params -= self.work


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
    optimizer: str = "sgd",
    momentum: float = 0.0,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    l2: float = 0.0,
    sample_weight=None,
    early_stopping: bool = False,
    validation_fraction: float = 0.1,
    n_iter_no_change: int = 10,
    tol: float = 1e-4,
    progress: bool = False,
) -> TrainingResult:
    """Train ``net`` in place by gradient descent, SGD with momentum, or Adam.

    Parameters
    ----------
    net : mathlearn.MLP
        The network; its ``params`` are updated in place.
    X : array_like of shape (n_samples, n_inputs)
        Inputs.
    y : array_like of shape (n_samples,) or (n_samples, n_outputs)
        Targets: real values for ``loss="mse"``, class labels or
        probability rows for ``loss="cross_entropy"``, values in [0, 1]
        for ``loss="binary_cross_entropy"``.
    epochs : int
        Maximum number of passes over the training set, at least 1.
    lr : float
        Learning rate (step size), positive.
    batch_size : int or None
        None (or at least the number of training rows) gives full-batch
        gradient descent; otherwise mini-batches of this size, reshuffled
        each epoch.
    test_size : float or int
        Held-out part, as in :func:`split_indices`; 0 trains on all rows.
    loss : str
        A loss name of ``mathlearn.losses``.
    seed : None, int or numpy.random.Generator
        Source of the split, the validation rows and the mini-batch order.
    optimizer : {"sgd", "adam"} or Optimizer
        Update rule (module docstring). An :class:`Optimizer` instance is
        used as it is, with its own lr, momentum and betas (the arguments
        of the same names are then ignored), and keeps its state across
        calls, which is how ``partial_fit`` of the estimators continues.
    momentum : float in [0, 1)
        mu of ``"sgd"``; 0 gives plain gradient descent.
    beta1, beta2 : float in [0, 1)
        Decay rates of Adam's moment estimates.
    eps : float > 0
        Adam's denominator offset.
    l2 : float >= 0
        lambda of the penalty (lambda / 2) sum_l ||W_l||_F^2; biases are
        not penalized.
    sample_weight : array_like of shape (n_samples,), optional
        Per-row weights w_b of the loss; must be finite.
    early_stopping : bool
        Hold out ``validation_fraction`` of the training rows and stop when
        their loss stops falling (module docstring).
    validation_fraction : float in (0, 1)
        Part of the training rows held out for early stopping.
    n_iter_no_change : int >= 1
        Epochs without an improvement of at least ``tol`` before stopping.
    tol : float >= 0
        Minimum decrease of the validation loss that counts as improvement.
    progress : bool
        Show a progress bar over epochs with tqdm (``pip install tqdm``);
        without tqdm installed, a ``RuntimeWarning`` is issued and training
        runs without a bar.

    Returns
    -------
    TrainingResult

    Raises
    ------
    ValueError
        On invalid arguments, when early stopping would leave fewer than
        2 validation rows or no training rows, and when the training loss
        becomes NaN or infinite. In that last case the parameters are
        restored to their values at the end of the last finite epoch
        before the error is raised.
    """
    from . import losses
    from .network import MLP

    if not isinstance(net, MLP):
        raise TypeError(f"net must be a mathlearn.MLP; got {type(net).__name__}.")
    X = as_float_array(X, "X", ndim=2, dtype=net.dtype, allow_empty=False)
    if X.shape[1] != net.n_inputs:
        raise ValueError(
            f"X must have {net.n_inputs} columns (n_0 of the network); got shape {X.shape}. "
            f"Pass a (n_samples, {net.n_inputs}) array, one sample per row."
        )
    if isinstance(y, (str, bytes)) or np.ndim(y) < 1 or len(y) != len(X):
        raise ValueError(
            f"y must have one row per row of X ({len(X)}); got y of shape {np.shape(y)}."
        )
    # Check and convert y once: (n, m) floats, or (n,) int64 class labels.
    y = losses.check_target(y, loss, len(X), net.n_outputs, net.dtype)
    weight = losses.check_sample_weight(sample_weight, len(X), net.dtype)
    epochs = check_int(epochs, "epochs", minimum=1)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    if not isinstance(optimizer, Optimizer):
        optimizer = check_choice(optimizer, "optimizer", ("sgd", "adam"))
    elif optimizer.params_shape != (net.n_params,):
        raise ValueError(
            f"optimizer was made for {optimizer.params_shape[0]} parameters; the network has "
            f"{net.n_params}. Make a new Optimizer for this network."
        )
    momentum = check_real(momentum, "momentum", low=0.0, high=1.0, high_open=True)
    beta1 = check_real(beta1, "beta1", low=0.0, high=1.0, high_open=True)
    beta2 = check_real(beta2, "beta2", low=0.0, high=1.0, high_open=True)
    eps = check_real(eps, "eps", low=0.0, low_open=True)
    l2 = check_real(l2, "l2", low=0.0)
    if not isinstance(early_stopping, (bool, np.bool_)):
        raise TypeError(f"early_stopping must be True or False; got {early_stopping!r}.")
    n_iter_no_change = check_int(n_iter_no_change, "n_iter_no_change", minimum=1)
    tol = check_real(tol, "tol", low=0.0)
    rng = as_generator(seed)
    train_index, test_index = split_indices(len(X), test_size, rng)
    validation_index = np.empty(0, dtype=np.int64)
    if early_stopping:
        train_index, validation_index = _validation_split(train_index, validation_fraction, rng)
    n_train = len(train_index)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        if batch_size >= n_train:
            batch_size = None

    X_train, y_train = X[train_index], y[train_index]
    X_test, y_test = X[test_index], y[test_index]
    X_val, y_val = X[validation_index], y[validation_index]
    w_train = None if weight is None else weight[train_index]
    w_test = None if weight is None else weight[test_index]
    w_val = None if weight is None else weight[validation_index]

    def evaluate(X_part, y_part, w_part):
        if not len(X_part):
            return math.nan
        # Divergence shows as an infinite or NaN loss, checked after each epoch.
        with np.errstate(over="ignore", invalid="ignore"):
            return net.loss(X_part, y_part, loss=loss, sample_weight=w_part)

    train_loss = np.full(epochs + 1, np.nan)
    test_loss = np.full(epochs + 1, np.nan)
    validation_loss = np.full(epochs + 1, np.nan)
    train_loss[0] = evaluate(X_train, y_train, w_train)
    test_loss[0] = evaluate(X_test, y_test, w_test)
    validation_loss[0] = evaluate(X_val, y_val, w_val)
    gradient = np.empty(net.n_params, dtype=net.dtype)
    last_good = net.params.copy()
    best_params = net.params.copy()
    best_loss, best_epoch, since_best = validation_loss[0], 0, 0
    if isinstance(optimizer, Optimizer):
        opt = optimizer
    else:
        opt = Optimizer(optimizer, net.n_params, net.dtype, lr=lr, momentum=momentum, beta1=beta1,
                        beta2=beta2, eps=eps)
    step = net._make_gradient_step(loss)
    # Mask of the entries of params that are weights (the L2 penalty skips biases).
    penalized = None
    if l2 > 0:
        penalized = np.zeros(net.n_params, dtype=net.dtype)
        for W in net.weights:
            start = W.__array_interface__["data"][0] - net.params.__array_interface__["data"][0]
            start //= net.dtype.itemsize
            penalized[start : start + W.size] = l2

    def update(rows):
        if rows is None:
            step(X_train, y_train, w_train, gradient)
        else:
            step(X_train[rows], y_train[rows], None if w_train is None else w_train[rows], gradient)
        if penalized is not None:
            gradient[:] += penalized * net.params
        opt.step(net.params, gradient)

    bar = _progress_bar(epochs) if progress else None
    n_updates = 0
    last_epoch = epochs
    stopped_early = False
    try:
        for epoch in range(1, epochs + 1):
            if batch_size is None:
                update(None)
                n_updates += 1
            else:
                order = rng.permutation(n_train)
                for start in range(0, n_train, batch_size):
                    update(order[start : start + batch_size])
                    n_updates += 1

            train_loss[epoch] = evaluate(X_train, y_train, w_train)
            test_loss[epoch] = evaluate(X_test, y_test, w_test)
            if not np.isfinite(train_loss[epoch]) or not np.isfinite(net.params).all():
                net.params = last_good
                raise ValueError(
                    f"training diverged: the training loss became {train_loss[epoch]} at epoch "
                    f"{epoch} with lr={lr}. Lower lr (for example to {lr / 10:g}) or standardize "
                    f"X and y. The parameters were restored to their values after epoch {epoch - 1}."
                )
            last_good[:] = net.params
            if bar is not None:
                bar.update(1)
                bar.set_postfix(train_loss=f"{train_loss[epoch]:.4g}")
            if early_stopping:
                validation_loss[epoch] = evaluate(X_val, y_val, w_val)
                if validation_loss[epoch] < best_loss - tol:
                    since_best = 0
                else:
                    since_best += 1
                if validation_loss[epoch] < best_loss:
                    best_loss, best_epoch = validation_loss[epoch], epoch
                    best_params[:] = net.params
                if since_best >= n_iter_no_change:
                    last_epoch, stopped_early = epoch, True
                    break
    finally:
        if bar is not None:
            bar.close()

    if early_stopping:
        net.params = best_params
    else:
        best_epoch = last_epoch
    return TrainingResult(
        train_loss=train_loss[: last_epoch + 1],
        test_loss=test_loss[: last_epoch + 1],
        train_index=train_index,
        test_index=test_index,
        n_updates=n_updates,
        lr=lr,
        batch_size=batch_size,
        validation_loss=validation_loss[: last_epoch + 1],
        validation_index=validation_index,
        best_epoch=best_epoch,
        stopped_early=stopped_early,
    )


def _validation_split(train_index, validation_fraction, rng):
    """Hold out ceil(fraction * n_train) training rows for early stopping."""
    fraction = check_real(
        validation_fraction, "validation_fraction", low=0.0, high=1.0, low_open=True, high_open=True
    )
    n_train = len(train_index)
    n_val = math.ceil(fraction * n_train)
    if n_val < MIN_VALIDATION_ROWS or n_val >= n_train:
        raise ValueError(
            f"early stopping needs at least {MIN_VALIDATION_ROWS} validation rows and 1 training "
            f"row; validation_fraction={fraction} of {n_train} training rows gives {n_val} "
            f"validation rows. Use more data, a validation_fraction between "
            f"{MIN_VALIDATION_ROWS / max(n_train, 1):.3g} and {(n_train - 1) / max(n_train, 1):.3g}, "
            f"or early_stopping=False."
        )
    order = rng.permutation(n_train)
    return np.sort(train_index[order[n_val:]]), np.sort(train_index[order[:n_val]])


def _progress_bar(total):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        import warnings

        warnings.warn(
            "progress=True needs tqdm, which is not installed (pip install tqdm); training "
            "runs without a progress bar.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return tqdm(total=total, unit="epoch")
