"""Losses of a batch of network outputs, with their derivatives.

Notation: Y = f(X) is the network output of shape (B, m), y the target and
w an optional vector of per-sample weights (``sample_weight``, shape (B,)).
Every loss is a weighted mean of per-sample terms l_b,

    L = (1 / B) sum_b w_b l_b,        w_b = 1 when no weights are given,

so weights of 1 give the unweighted loss, and integer weights w_b give
(sum_b w_b) / B times the loss on the batch with row b repeated w_b times.
Weights may be negative (a policy gradient weights the cross-entropy of
each action by its return or advantage); they must be finite.

Each loss is a :class:`Loss` record with ``terms(Y, y) -> l`` of shape
(B,), ``value(Y, y, sample_weight) -> float`` and
``gradient(Y, y, sample_weight) -> dL/dY`` of shape (B, m); they expect
``y`` already checked by :func:`check_target`.

``"mse"``
    l_b = (1 / m) ||f(x_b) - y_b||^2, so L is the mean over batch and
    outputs with no factor 1/2, as ``torch.nn.MSELoss(reduction="mean")``.
    dL/dY_bk = (2 / (B m)) w_b (Y_bk - y_bk). The target y is (B, m), or
    (B,) when m == 1.
``"cross_entropy"``
    Softmax cross-entropy from logits:
    l_b = logsumexp(Y_b) - sum_k y_bk Y_bk = -sum_k y_bk log softmax(Y_b)_k,
    with y_b a probability row (B, m) or an integer class label (B,)
    standing for the one-hot row. dL/dY_b = w_b (softmax(Y_b) - y_b) / B
    (Bishop, Pattern Recognition and Machine Learning, Section 4.3.4).
    logsumexp subtracts the row maximum first, so large logits do not
    overflow. A logit of -inf is allowed (a masked class): its softmax
    probability is 0, and the term y_bk log p_bk counts as 0 when y_bk = 0
    (0 log 0 = 0). A row whose logits are all -inf has no distribution and
    is rejected. Needs m >= 2.
``"binary_cross_entropy"``
    Independent Bernoulli outputs from logits, l_b = (1 / m) sum_k
    [softplus(Y_bk) - y_bk Y_bk], which equals
    -(1 / m) sum_k [y log s + (1 - y) log(1 - s)] with s = sigmoid(Y_bk);
    softplus(t) = max(t, 0) + log1p(exp(-|t|)) never overflows.
    dL/dY_bk = w_b (sigmoid(Y_bk) - y_bk) / (B m), which at Y = -50,
    y = 1 is -1 / (B m) in floating point, not a vanishing number. Targets
    are in [0, 1], shape (B, m) or (B,) when m == 1; this is
    ``torch.nn.BCEWithLogitsLoss(reduction="mean")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._validation import as_float_array

__all__ = [
    "Loss",
    "LOSSES",
    "get",
    "check_target",
    "check_sample_weight",
    "log_softmax",
    "mse",
    "cross_entropy",
    "binary_cross_entropy",
]


@dataclass(frozen=True)
class Loss:
    """A loss: its per-sample terms, its weighted mean and the derivative of that mean in Y."""

    name: str
    terms: Callable[[np.ndarray, np.ndarray], np.ndarray]
    _gradient: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def value(self, Y, y, sample_weight=None) -> float:
        """Return L = (1 / B) sum_b w_b l_b."""
        terms = self.terms(Y, y)
        if sample_weight is not None:
            terms = sample_weight * terms
        with np.errstate(invalid="ignore"):
            return float(np.sum(terms, dtype=np.float64) / Y.shape[0])

    def gradient(self, Y, y, sample_weight=None) -> np.ndarray:
        """Return dL/dY of shape (B, m), in the dtype of Y."""
        G = self._gradient(Y, y)
        if sample_weight is not None:
            G = G * sample_weight[:, None]
        return G.astype(Y.dtype, copy=False)


def _mse_terms(Y, y):
    r = Y - y
    return np.mean(r * r, axis=1)


def _mse_gradient(Y, y):
    return (2.0 / Y.size) * (Y - y)


def log_softmax(Y) -> np.ndarray:
    """Return log softmax of each row of Y (B, m); -inf logits give -inf.

    The row maximum is subtracted before exp, so large logits do not
    overflow. Every row must contain at least one finite logit.
    """
    Y = np.asarray(Y)
    top = Y.max(axis=1, keepdims=True)
    shifted = Y - top
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _one_hot(y, m, dtype):
    if y.ndim == 2:
        return y
    T = np.zeros((y.shape[0], m), dtype=dtype)
    T[np.arange(y.shape[0]), y] = 1
    return T


def _cross_entropy_terms(Y, y):
    log_p = log_softmax(Y)
    if y.ndim == 1:
        return -log_p[np.arange(Y.shape[0]), y]
    # 0 log 0 = 0: a class with target 0 adds nothing, even at a -inf logit.
    with np.errstate(invalid="ignore"):
        products = np.where(y > 0, y * log_p, 0.0)
    return -products.sum(axis=1)


def _cross_entropy_gradient(Y, y):
    p = np.exp(log_softmax(Y))
    return (p - _one_hot(y, Y.shape[1], Y.dtype)) / Y.shape[0]


def _softplus(t):
    return np.maximum(t, 0) + np.log1p(np.exp(-np.abs(t)))


def _sigmoid(t):
    e = np.exp(-np.abs(t))
    return np.where(t >= 0, 1 / (1 + e), e / (1 + e))


def _bce_terms(Y, y):
    return np.mean(_softplus(Y) - y * Y, axis=1)


def _bce_gradient(Y, y):
    return (_sigmoid(Y) - y) / Y.size


mse = Loss("mse", _mse_terms, _mse_gradient)
cross_entropy = Loss("cross_entropy", _cross_entropy_terms, _cross_entropy_gradient)
binary_cross_entropy = Loss("binary_cross_entropy", _bce_terms, _bce_gradient)

LOSSES = {loss.name: loss for loss in (mse, cross_entropy, binary_cross_entropy)}


def get(name: str) -> Loss:
    """Return the loss called ``name`` (``"mse"``, ``"cross_entropy"`` or ``"binary_cross_entropy"``)."""
    if not isinstance(name, str) or name not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(repr(k) for k in LOSSES)}; got {name!r}.")
    return LOSSES[name]


def check_sample_weight(sample_weight, n_samples: int, dtype) -> np.ndarray | None:
    """Check per-sample weights and return them as a (B,) array of ``dtype``, or None.

    Weights must be finite; they may be negative or zero.
    """
    if sample_weight is None:
        return None
    w = as_float_array(sample_weight, "sample_weight", ndim=1, dtype=dtype)
    if w.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have one weight per sample ({n_samples}); got shape {w.shape}."
        )
    return w


def check_target(y, loss: str, n_samples: int, n_outputs: int, dtype) -> np.ndarray:
    """Check the target ``y`` for ``loss`` and convert it.

    Parameters
    ----------
    y : array_like
        ``"mse"``: (B, m) real values, or (B,) when m == 1.
        ``"cross_entropy"``: (B,) integer labels in [0, m), or (B, m)
        probability rows (non-negative, each summing to 1).
        ``"binary_cross_entropy"``: (B, m) values in [0, 1], or (B,) when m == 1.
    loss : str
        Name of the loss.
    n_samples, n_outputs : int
        B and m of the network output.
    dtype : numpy dtype
        The network's float dtype.

    Returns
    -------
    numpy.ndarray
        (B, m) float array of ``dtype``, except integer labels, returned as
        (B,) int64.
    """
    get(loss)
    if loss == "cross_entropy" and n_outputs < 2:
        raise ValueError(
            f"loss='cross_entropy' needs a network with at least 2 outputs; got n_outputs = "
            f"{n_outputs}. Use loss='binary_cross_entropy' for one output, or give the network "
            f"one output per class."
        )
    arr = np.asarray(y) if not isinstance(y, (str, bytes)) else y
    if loss == "cross_entropy" and getattr(arr, "ndim", None) == 1:
        return _check_labels(arr, n_samples, n_outputs)

    target = as_float_array(y, "y", ndim=(1, 2), dtype=dtype)
    if target.ndim == 1:
        if n_outputs != 1:
            raise ValueError(
                f"y must have shape (B, m) = ({n_samples}, {n_outputs}); got shape {target.shape}. "
                f"A 1-D y is accepted only when the network has one output."
            )
        if target.shape[0] != n_samples:
            raise ValueError(
                f"y must have shape ({n_samples},) or ({n_samples}, 1), one target per row of X; "
                f"got shape {target.shape}."
            )
        target = target.reshape(-1, 1)
    if target.shape != (n_samples, n_outputs):
        raise ValueError(
            f"y must have shape ({n_samples}, {n_outputs}) to match X and the network outputs; "
            f"got shape {target.shape}."
        )
    if loss == "cross_entropy":
        _check_probability_rows(target)
    if loss == "binary_cross_entropy" and target.size and (target.min() < 0 or target.max() > 1):
        bad = target[(target < 0) | (target > 1)][0]
        raise ValueError(
            f"y for loss='binary_cross_entropy' must contain probabilities in [0, 1]; got "
            f"{float(bad)!r}. Pass 0/1 labels or probabilities."
        )
    return target


def _check_labels(arr, n_samples, n_outputs):
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind != "f" or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise TypeError(
                f"y for loss='cross_entropy' with shape (B,) must contain integer class labels; got "
                f"dtype {arr.dtype}. Pass labels as integers, or probability rows of shape "
                f"(B, {n_outputs})."
            )
    if arr.shape[0] != n_samples:
        raise ValueError(f"y must have length {n_samples} to match X; got length {arr.shape[0]}.")
    labels = arr.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_outputs):
        bad = labels[(labels < 0) | (labels >= n_outputs)][0]
        raise ValueError(
            f"y must contain class labels in [0, {n_outputs - 1}] for a network with {n_outputs} "
            f"outputs; got label {int(bad)}."
        )
    return labels


def _check_probability_rows(target):
    if target.size == 0:
        return
    if np.any(target < 0):
        where = tuple(int(i) for i in np.argwhere(target < 0)[0])
        raise ValueError(
            f"y for loss='cross_entropy' with shape (B, m) must contain probability rows; got the "
            f"negative entry {float(target[where])!r} at index {where}."
        )
    # Rows normalized in the target dtype sum to 1 up to about m rounding errors.
    tolerance = max(1e-6, 8 * target.shape[1] * float(np.finfo(target.dtype).eps))
    sums = target.sum(axis=1, dtype=np.float64)
    bad = np.flatnonzero(np.abs(sums - 1) > tolerance)
    if bad.size:
        raise ValueError(
            f"y for loss='cross_entropy' with shape (B, m) must have rows summing to 1 (within "
            f"{tolerance:.1e}); row {int(bad[0])} sums to {float(sums[bad[0]])!r}. Normalize the rows "
            f"or pass integer class labels."
        )


def check_logits(Y, loss: str) -> np.ndarray:
    """Check logits passed to a loss directly: finite, except -inf for cross_entropy.

    For ``"cross_entropy"`` every row needs at least one finite logit.
    """
    Y = as_float_array(Y, "Y", ndim=2, finite=False)
    bad = np.isnan(Y) | (Y == np.inf)
    if loss != "cross_entropy":
        bad |= Y == -np.inf
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        allowed = "finite or -inf" if loss == "cross_entropy" else "finite"
        raise ValueError(f"Y for loss={loss!r} must be {allowed}; got {float(Y[where])!r} at index {where}.")
    if loss == "cross_entropy" and Y.size:
        empty = np.flatnonzero(np.all(Y == -np.inf, axis=1))
        if empty.size:
            raise ValueError(
                f"Y for loss='cross_entropy' must have a finite logit in every row; row "
                f"{int(empty[0])} is all -inf, which is no probability distribution."
            )
    return Y
