"""Componentwise activations sigma: R -> R and their derivatives.

Each activation is an :class:`Activation` record with ``sigma`` and
``derivative`` (both vectorized over numpy arrays, evaluated in float64
and returned in the input's float dtype) and two flags used by the
approximation experiments:

``bounded``
    sigma is bounded on R (the hypothesis of Cybenko 1989, "Approximation
    by superpositions of a sigmoidal function").
``polynomial``
    sigma is a polynomial. By Leshno, Lin, Pinkus and Schocken 1993
    ("Multilayer feedforward networks with a nonpolynomial activation
    function can approximate any function"), one hidden layer of a
    continuous sigma is dense in C(K) exactly when sigma is not a polynomial.

The activations, with their parameter where they have one:

============  =====================================  ==================================
name          sigma(z)                               sigma'(z)
============  =====================================  ==================================
identity      z                                      1
sigmoid       1 / (1 + exp(-z))                      sigma (1 - sigma)
tanh          tanh z                                 1 - tanh^2 z
relu          max(z, 0)                              [z > 0]
leaky_relu    z if z > 0 else s z (s = 0.01)         1 if z > 0 else s
softplus      log(1 + exp z)                         sigmoid(z)
elu           z if z > 0 else alpha (e^z - 1)        1 if z > 0 else alpha e^z
gelu          z Phi(z), Phi the normal cdf           Phi(z) + z phi(z)
sin           sin z                                  cos z
poly<k>       z^k for an integer k >= 1              k z^(k-1)
============  =====================================  ==================================

Stability: sigmoid is evaluated in two branches and softplus as
max(z, 0) + log1p(exp(-|z|)), so neither overflows: sigmoid(1000) == 1,
sigmoid(-1000) == 0, softplus(1000) == 1000, softplus(-1000) == 0, and
their derivatives there are 1 and 0. gelu uses Phi(z) = erfc(-z / sqrt 2) / 2,
which keeps relative accuracy for z << 0 (Hendrycks and Gimpel 2016,
"Gaussian Error Linear Units", Section 2, give sigma(z) = z Phi(z)).

At the kinks of relu, leaky_relu and elu (z = 0) the derivative is the
one-sided derivative from the left: relu'(0) = 0, leaky_relu'(0) = s,
elu'(0) = alpha. PyTorch 2.x and scikit-learn use the same values.

The integer ``code`` and the float ``param`` of each activation are what
the C++ kernels in ``mathlearn._core`` receive.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import special

__all__ = [
    "Activation",
    "ACTIVATIONS",
    "get",
    "polynomial",
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "softplus",
    "elu",
    "gelu",
    "sin",
]


@dataclass(frozen=True)
class Activation:
    """A componentwise activation with its derivative and properties.

    ``sigma_fn(z, param)`` and ``derivative_fn(z, param)`` take float64
    arrays. ``needs_z`` is True when sigma' cannot be computed from
    a = sigma(z) because sigma is not invertible (gelu, sin, poly<k>), so
    the kernels keep the pre-activations z as well.
    """

    name: str
    code: int
    sigma_fn: Callable[[np.ndarray, float], np.ndarray]
    derivative_fn: Callable[[np.ndarray, float], np.ndarray]
    bounded: bool
    polynomial: bool
    needs_z: bool = False
    param: float = 0.0

    def sigma(self, z) -> np.ndarray:
        """Evaluate sigma elementwise; float32 input gives float32 output."""
        z, dtype = _as_real(z)
        return np.asarray(self.sigma_fn(z, self.param)).astype(dtype, copy=False)

    def derivative(self, z) -> np.ndarray:
        """Evaluate sigma' elementwise at the pre-activations z."""
        z, dtype = _as_real(z)
        return np.asarray(self.derivative_fn(z, self.param)).astype(dtype, copy=False)

    def with_param(self, param: float) -> "Activation":
        """Return this activation with another parameter (slope of leaky_relu, alpha of elu)."""
        if self.name not in ("leaky_relu", "elu"):
            raise ValueError(
                f"only leaky_relu and elu take a parameter; got activation {self.name!r}. Use "
                f"activations.polynomial(k) for z -> z**k."
            )
        if isinstance(param, bool) or not isinstance(param, numbers.Real) or not param > 0:
            raise ValueError(f"the parameter of {self.name} must be a real number > 0; got {param!r}.")
        if not math.isfinite(param):
            raise ValueError(f"the parameter of {self.name} must be finite; got {param!r}.")
        return dataclasses.replace(self, param=float(param))


def _as_real(z):
    arr = np.asarray(z)
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    return arr.astype(np.float64), dtype


def _sigmoid64(z):
    # exp(-|z|) <= 1 never overflows; the two branches give 1/(1+e) and e/(1+e).
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _phi_cdf(z):
    return 0.5 * special.erfc(-z / math.sqrt(2.0))


identity = Activation(
    "identity", 0, lambda z, p: z.copy(), lambda z, p: np.ones_like(z), bounded=False, polynomial=True
)
sigmoid = Activation(
    "sigmoid",
    1,
    lambda z, p: _sigmoid64(z),
    lambda z, p: _sigmoid64(z) * (1.0 - _sigmoid64(z)),
    bounded=True,
    polynomial=False,
)
tanh = Activation(
    "tanh", 2, lambda z, p: np.tanh(z), lambda z, p: 1.0 - np.tanh(z) ** 2, bounded=True, polynomial=False
)
relu = Activation(
    "relu",
    3,
    lambda z, p: np.maximum(z, 0.0),
    lambda z, p: (z > 0).astype(np.float64),
    bounded=False,
    polynomial=False,
)
leaky_relu = Activation(
    "leaky_relu",
    4,
    lambda z, p: np.where(z > 0, z, p * z),
    lambda z, p: np.where(z > 0, 1.0, p),
    bounded=False,
    polynomial=False,
    param=0.01,
)
softplus = Activation(
    "softplus",
    5,
    lambda z, p: np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))),
    lambda z, p: _sigmoid64(z),
    bounded=False,
    polynomial=False,
)
elu = Activation(
    "elu",
    6,
    lambda z, p: np.where(z > 0, z, p * np.expm1(np.minimum(z, 0.0))),
    lambda z, p: np.where(z > 0, 1.0, p * np.exp(np.minimum(z, 0.0))),
    bounded=False,
    polynomial=False,
    param=1.0,
)
gelu = Activation(
    "gelu",
    7,
    lambda z, p: z * _phi_cdf(z),
    lambda z, p: _phi_cdf(z) + z * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi),
    bounded=False,
    polynomial=False,
    needs_z=True,
)
sin = Activation(
    "sin", 8, lambda z, p: np.sin(z), lambda z, p: np.cos(z), bounded=True, polynomial=False, needs_z=True
)


def _power(z, k):
    k = int(k)
    out = z.copy()
    for _ in range(k - 1):
        out = out * z
    return out


def _power_derivative(z, k):
    k = int(k)
    return np.ones_like(z) if k == 1 else k * _power(z, k - 1)


def polynomial(k: int) -> Activation:
    """Return the activation z -> z**k, named ``"poly<k>"``, for an integer k >= 1.

    Every network with a polynomial activation of degree k is itself a
    polynomial of bounded degree in x, so such networks are not dense in
    C(K) (Leshno et al. 1993); the approximation experiments use it to show
    that failure.
    """
    if isinstance(k, bool) or not isinstance(k, (numbers.Integral, np.integer)):
        raise TypeError(f"k must be an integer >= 1; got {k!r} of type {type(k).__name__}.")
    if k < 1:
        raise ValueError(f"k must be an integer >= 1; got {int(k)}.")
    if k > 64:
        raise ValueError(
            f"k must be at most 64, because z**k overflows float64 once |z| >= 2**(1024 / k); "
            f"got {int(k)}."
        )
    return Activation(
        f"poly{int(k)}",
        9,
        _power,
        _power_derivative,
        bounded=False,
        polynomial=True,
        needs_z=True,
        param=float(k),
    )


ACTIVATIONS = {
    a.name: a for a in (identity, sigmoid, tanh, relu, leaky_relu, softplus, elu, gelu, sin)
}

_POLY = re.compile(r"poly([1-9][0-9]*)\Z")


def get(activation) -> Activation:
    """Return the activation named ``activation``, or ``activation`` itself if it is one.

    Parameters
    ----------
    activation : str or Activation
        One of ``"identity"``, ``"sigmoid"``, ``"tanh"``, ``"relu"``,
        ``"leaky_relu"``, ``"softplus"``, ``"elu"``, ``"gelu"``, ``"sin"``,
        or ``"poly<k>"`` for z -> z**k (for example ``"poly3"``).

    Raises
    ------
    ValueError
        If the name is not one of these.
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        if activation in ACTIVATIONS:
            return ACTIVATIONS[activation]
        match = _POLY.match(activation)
        if match:
            return polynomial(int(match.group(1)))
    raise ValueError(
        f"activation must be one of {', '.join(repr(k) for k in ACTIVATIONS)} or 'poly<k>' "
        f"such as 'poly3', or an activations.Activation; got {activation!r}."
    )
