"""Losses of a batch of network outputs, with their derivatives.

Notation: Y = f(X) is the network output of shape (B, m) and y the target.
Each loss is a :class:`Loss` record with ``value(Y, y) -> float`` and
``gradient(Y, y) -> dL/dY`` of shape (B, m); both expect ``y`` already
checked by :func:`check_target`.

``"mse"``
    L = (1 / (B m)) sum_b ||f(x_b) - y_b||^2, the mean over batch and
    outputs with no factor 1/2, as ``torch.nn.MSELoss(reduction="mean")``.
    dL/dY = (2 / (B m)) (Y - y). The target y is (B, m), or (B,) when m == 1.
``"cross_entropy"``
    Softmax cross-entropy from logits, mean over the batch:
    L = (1 / B) sum_b ( logsumexp(Y_b) - sum_k y_bk Y_bk ), with y_b a
    probability row (B, m) or an integer class label (B,) standing for the
    one-hot row. dL/dY = (softmax(Y) - y) / B (Bishop, Pattern Recognition
    and Machine Learning, Section 4.3.4). logsumexp subtracts the row
    maximum first, so large logits do not overflow. Needs m >= 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._validation import as_float_array

__all__ = ["Loss", "LOSSES", "get", "check_target", "mse", "cross_entropy"]


@dataclass(frozen=True)
class Loss:
    """A loss with its value and its derivative with respect to the output Y."""

    name: str
    value: Callable[[np.ndarray, np.ndarray], float]
    gradient: Callable[[np.ndarray, np.ndarray], np.ndarray]


def _mse_value(Y, y):
    r = Y - y
    return float(np.mean(r * r))


def _mse_gradient(Y, y):
    return (2.0 / Y.size) * (Y - y)


def _log_softmax(Y):
    shifted = Y - Y.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _one_hot(y, m, dtype):
    if y.ndim == 2:
        return y
    T = np.zeros((y.shape[0], m), dtype=dtype)
    T[np.arange(y.shape[0]), y] = 1
    return T


def _cross_entropy_value(Y, y):
    log_p = _log_softmax(Y)
    if y.ndim == 1:
        picked = log_p[np.arange(Y.shape[0]), y]
        return float(-picked.mean())
    return float(-(y * log_p).sum(axis=1).mean())


def _cross_entropy_gradient(Y, y):
    p = np.exp(_log_softmax(Y))
    return (p - _one_hot(y, Y.shape[1], Y.dtype)) / Y.shape[0]


mse = Loss("mse", _mse_value, _mse_gradient)
cross_entropy = Loss("cross_entropy", _cross_entropy_value, _cross_entropy_gradient)

LOSSES = {loss.name: loss for loss in (mse, cross_entropy)}


def get(name: str) -> Loss:
    """Return the loss called ``name`` (``"mse"`` or ``"cross_entropy"``)."""
    if not isinstance(name, str) or name not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(repr(k) for k in LOSSES)}; got {name!r}.")
    return LOSSES[name]


def check_target(y, loss: str, n_samples: int, n_outputs: int, dtype) -> np.ndarray:
    """Check the target ``y`` for ``loss`` and convert it.

    Parameters
    ----------
    y : array_like
        ``"mse"``: (B, m) real values, or (B,) when m == 1.
        ``"cross_entropy"``: (B,) integer labels in [0, m), or (B, m)
        probability rows (non-negative, each summing to 1).
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
            f"{n_outputs}. Use loss='mse', or give the network one output per class."
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
        target = target.reshape(-1, 1)
    if target.shape != (n_samples, n_outputs):
        raise ValueError(
            f"y must have shape ({n_samples}, {n_outputs}) to match X and the network outputs; "
            f"got shape {target.shape}."
        )
    if loss == "cross_entropy":
        _check_probability_rows(target)
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
