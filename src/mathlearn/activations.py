"""Componentwise activations sigma: R -> R and their derivatives.

Each activation is an :class:`Activation` record with ``sigma`` and
``derivative`` (both vectorized over numpy arrays) and two flags used by the
approximation experiments:

``bounded``
    sigma is bounded on R (the hypothesis of Cybenko 1989, "Approximation
    by superpositions of a sigmoidal function").
``polynomial``
    sigma is a polynomial. By Leshno, Lin, Pinkus and Schocken 1993
    ("Multilayer feedforward networks with a nonpolynomial activation
    function can approximate any function"), one hidden layer of a
    continuous sigma is dense in C(K) exactly when sigma is not a polynomial.

Conventions
-----------
* sigmoid(z) = 1 / (1 + exp(-z)), evaluated in two branches so that exp
  never overflows: sigmoid(1000) == 1.0 and sigmoid(-1000) == 0.0.
* The derivatives are written in terms of a = sigma(z), as the C++ kernels
  compute them: sigmoid' = a (1 - a), tanh' = 1 - a^2.
* relu'(0) = 0. relu is not differentiable at 0, and 0 is the value of the
  one-sided derivative from the left; PyTorch and scikit-learn use the same
  value.

The integer ``code`` of each activation is the value passed to the C++
kernels in ``mathlearn._core``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Activation", "ACTIVATIONS", "get", "identity", "sigmoid", "tanh", "relu"]


@dataclass(frozen=True)
class Activation:
    """A componentwise activation with its derivative and properties."""

    name: str
    code: int
    sigma: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    bounded: bool
    polynomial: bool


def _identity(z):
    return np.array(z, copy=True)


def _identity_derivative(z):
    return np.ones_like(z)


def _sigmoid(z):
    z = np.asarray(z)
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    e = np.exp(z[~positive])
    out[~positive] = e / (1.0 + e)
    return out


def _sigmoid_derivative(z):
    a = _sigmoid(z)
    return a * (1 - a)


def _tanh(z):
    return np.tanh(z)


def _tanh_derivative(z):
    a = np.tanh(z)
    return 1 - a * a


def _relu(z):
    return np.maximum(z, 0)


def _relu_derivative(z):
    z = np.asarray(z)
    return (z > 0).astype(z.dtype)


identity = Activation("identity", 0, _identity, _identity_derivative, bounded=False, polynomial=True)
sigmoid = Activation("sigmoid", 1, _sigmoid, _sigmoid_derivative, bounded=True, polynomial=False)
tanh = Activation("tanh", 2, _tanh, _tanh_derivative, bounded=True, polynomial=False)
relu = Activation("relu", 3, _relu, _relu_derivative, bounded=False, polynomial=False)

ACTIVATIONS = {a.name: a for a in (identity, sigmoid, tanh, relu)}


def get(name: str) -> Activation:
    """Return the activation called ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not one of ``"identity"``, ``"sigmoid"``, ``"tanh"``,
        ``"relu"``.
    """
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {', '.join(repr(k) for k in ACTIVATIONS)}; got {name!r}."
        )
    return ACTIVATIONS[name]
