"""Multilayer perceptrons with exact gradients and per-sample Jacobians.

Notation
--------
An MLP with layer sizes (n_0, ..., n_L), L >= 1, and activation sigma is

    f_w = h_L o sigma o h_{L-1} o ... o sigma o h_1,    h_l(a) = W_l a + b_l,

with W_l of shape (n_l, n_{l-1}) and b_l of shape (n_l,). The output layer
is affine: no sigma follows h_L. The P = sum_l (n_{l-1} + 1) n_l parameters
form one flat vector w = (W_1, b_1, ..., W_L, b_L), each W_l row-major.
For an input x, f_x(w) = f_w(x) maps R^P to R^m with m = n_L, and its
Jacobian Jac f_x(w) is an m x P matrix whose columns follow the order of w.

Backpropagation is the chain rule for f_x (Goodfellow, Bengio and
Courville, Deep Learning, Section 6.5). The C++ kernels in
``mathlearn._core`` compute it; ``mathlearn.reference.network`` is the
plain-Python statement of the same formulas that the tests compare against.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _core, activations, losses
from ._blas import ensure_blas
from ._validation import (
    FLOAT_DTYPES,
    as_float_array,
    as_generator,
    available_memory,
    check_int,
    check_memory,
)

__all__ = ["MLP"]

ensure_blas()

# Default Jacobian chunk: keep the hidden activations of one chunk under this
# many bytes, so the temporary memory stays small next to the output.
_JACOBIAN_CHUNK_BYTES = 64 * 2**20


def _check_layer_sizes(layer_sizes) -> tuple[int, ...]:
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
        raise TypeError(
            f"layer_sizes must be a sequence of integers such as [10, 32, 1]; got "
            f"{layer_sizes!r} of type {type(layer_sizes).__name__}."
        )
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(
            f"layer_sizes must contain at least 2 sizes (inputs and outputs); got {sizes!r}."
        )
    for i, n in enumerate(sizes):
        if isinstance(n, bool) or not isinstance(n, (numbers.Integral, np.integer)):
            raise TypeError(
                f"layer_sizes[{i}] must be an integer; got {n!r} of type {type(n).__name__}."
            )
        if n < 1:
            raise ValueError(f"layer_sizes[{i}] must be >= 1; got {int(n)}.")
        if n > 2**31 - 1:
            raise ValueError(f"layer_sizes[{i}] must be < 2**31 (the BLAS index limit); got {int(n)}.")
    return tuple(int(n) for n in sizes)


def _check_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be numpy.float64 or numpy.float32; got {dtype!r}.") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be numpy.float64 or numpy.float32; got {dt}.")
    return dt


class MLP:
    """A multilayer perceptron f_w: R^{n_0} -> R^{n_L} with flat parameters.

    Parameters
    ----------
    layer_sizes : sequence of int
        (n_0, ..., n_L) with L >= 1 and every n_l >= 1.
    activation : {"tanh", "sigmoid", "relu", "identity"}
        The componentwise sigma between affine layers (see
        :mod:`mathlearn.activations`).
    seed : None, int or numpy.random.Generator
        Source of the initial weights.
    dtype : numpy.float64 or numpy.float32
        Dtype of the parameters and of every computation and result.

    Notes
    -----
    Initialization: biases are zero. For ``relu``, W_l has entries drawn from
    N(0, 2 / n_{l-1}) (He et al. 2015, "Delving deep into rectifiers",
    Section 2.2). For the other activations they are drawn from U(-r, r)
    with r = sqrt(6 / (n_{l-1} + n_l)) (Glorot and Bengio 2010,
    "Understanding the difficulty of training deep feedforward neural
    networks", eq. 16). Draws are made in float64 and rounded to ``dtype``,
    so float32 and float64 networks with one seed agree up to rounding.

    Input arrays are checked by ``mathlearn._validation`` and converted to
    the network's dtype; results have that dtype.
    """

    def __init__(self, layer_sizes, activation="tanh", seed=None, dtype=np.float64):
        self._layer_sizes = _check_layer_sizes(layer_sizes)
        self._activation = activations.get(activation)
        self._dtype = _check_dtype(dtype)
        rng = as_generator(seed)

        n = self._layer_sizes
        self._n_params = sum((n[l - 1] + 1) * n[l] for l in range(1, len(n)))
        check_memory(
            self._n_params * self._dtype.itemsize,
            f"MLP with layer sizes {list(n)} ({self._n_params:,} parameters)",
            "Use smaller layer sizes.",
        )
        self._params = np.zeros(self._n_params, dtype=self._dtype)
        self._make_views()
        for W, n_in, n_out in zip(self._weights, n[:-1], n[1:]):
            if self._activation.name == "relu":
                values = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))
            else:
                r = np.sqrt(6.0 / (n_in + n_out))
                values = rng.uniform(-r, r, size=(n_out, n_in))
            W[...] = values

    def _make_views(self):
        self._weights = []
        self._biases = []
        offset = 0
        n = self._layer_sizes
        for n_in, n_out in zip(n[:-1], n[1:]):
            self._weights.append(self._params[offset : offset + n_out * n_in].reshape(n_out, n_in))
            offset += n_out * n_in
            self._biases.append(self._params[offset : offset + n_out])
            offset += n_out

    # ------------------------------------------------------------------
    # Properties

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Layer sizes (n_0, ..., n_L)."""
        return self._layer_sizes

    @property
    def activation(self) -> str:
        """Name of the activation sigma."""
        return self._activation.name

    @property
    def dtype(self) -> np.dtype:
        """Dtype of the parameters and results (float64 or float32)."""
        return self._dtype

    @property
    def n_params(self) -> int:
        """Number of parameters P = sum_l (n_{l-1} + 1) n_l."""
        return self._n_params

    @property
    def n_inputs(self) -> int:
        """Input dimension n_0."""
        return self._layer_sizes[0]

    @property
    def n_outputs(self) -> int:
        """Output dimension m = n_L."""
        return self._layer_sizes[-1]

    @property
    def params(self) -> np.ndarray:
        """Flat parameter vector w (P,), writable in place.

        Assigning ``net.params = v`` copies ``v`` into the existing array
        after checking its shape (P,) and finiteness, so the views in
        ``weights`` and ``biases`` stay valid.
        """
        return self._params

    @params.setter
    def params(self, value):
        v = as_float_array(value, "params", ndim=1, dtype=self._dtype)
        if v.shape != (self._n_params,):
            raise ValueError(
                f"params must have shape ({self._n_params},) for layer sizes "
                f"{list(self._layer_sizes)}; got shape {v.shape}."
            )
        self._params[...] = v

    @property
    def weights(self) -> list[np.ndarray]:
        """Views W_1, ..., W_L into ``params``, W_l of shape (n_l, n_{l-1})."""
        return list(self._weights)

    @property
    def biases(self) -> list[np.ndarray]:
        """Views b_1, ..., b_L into ``params``, b_l of shape (n_l,)."""
        return list(self._biases)

    def __repr__(self) -> str:
        return (
            f"MLP(layer_sizes={list(self._layer_sizes)}, activation={self.activation!r}, "
            f"dtype=numpy.{self._dtype.name})"
        )

    # ------------------------------------------------------------------
    # Copies

    def copy(self) -> "MLP":
        """Return an independent network with the same sizes, activation and parameters."""
        return self.astype(self._dtype)

    def astype(self, dtype) -> "MLP":
        """Return a copy of the network whose parameters are converted to ``dtype``."""
        dtype = _check_dtype(dtype)
        new = object.__new__(MLP)
        new._layer_sizes = self._layer_sizes
        new._activation = self._activation
        new._dtype = dtype
        new._n_params = self._n_params
        new._params = self._params.astype(dtype, copy=True)
        new._make_views()
        return new

    def __copy__(self) -> "MLP":
        return self.copy()

    def __deepcopy__(self, memo) -> "MLP":
        return self.copy()

    def __getstate__(self):
        # The views in _weights and _biases are rebuilt on unpickling, so
        # that they share memory with _params again.
        return {
            "layer_sizes": self._layer_sizes,
            "activation": self._activation.name,
            "dtype": self._dtype.str,
            "params": self._params,
        }

    def __setstate__(self, state):
        self._layer_sizes = tuple(state["layer_sizes"])
        self._activation = activations.get(state["activation"])
        self._dtype = np.dtype(state["dtype"])
        self._params = np.array(state["params"], dtype=self._dtype, copy=True)
        self._n_params = self._params.size
        self._make_views()

    # ------------------------------------------------------------------
    # Checks of inputs

    def _check_X(self, X) -> np.ndarray:
        X = as_float_array(X, "X", ndim=2, dtype=self._dtype)
        if X.shape[1] != self.n_inputs:
            raise ValueError(
                f"X must have {self.n_inputs} columns (n_0 of the network); got shape {X.shape}. "
                f"Pass a (B, {self.n_inputs}) array, one sample per row."
            )
        return X

    def _check_params_finite(self):
        if not np.isfinite(self._params).all():
            i = int(np.flatnonzero(~np.isfinite(self._params))[0])
            raise ValueError(
                f"params must be finite; got {float(self._params[i])!r} at index {i}. Reset the "
                f"parameters (a diverged training run leaves NaN or inf behind)."
            )

    def _check_out(self, out, shape, name="out") -> np.ndarray:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray; got {type(out).__name__}.")
        if out.dtype != self._dtype:
            raise ValueError(
                f"{name} must have dtype {self._dtype} (the network dtype); got {out.dtype}. "
                f"Allocate it with dtype=net.dtype; out= arrays are never converted."
            )
        if out.shape != shape:
            raise ValueError(f"{name} must have shape {shape}; got {out.shape}.")
        if not out.flags.c_contiguous:
            raise ValueError(f"{name} must be C-contiguous; got a non-contiguous array.")
        if not out.flags.writeable:
            raise ValueError(f"{name} must be writable; got a read-only array.")
        if np.shares_memory(out, self._params):
            raise ValueError(f"{name} must not overlap net.params.")
        return out

    # ------------------------------------------------------------------
    # Forward pass, loss and gradient

    def _forward(self, X, keep_hidden: bool):
        self._check_params_finite()
        B = X.shape[0]
        Y = np.empty((B, self.n_outputs), dtype=self._dtype)
        hidden = [np.empty((B, n), dtype=self._dtype) for n in self._layer_sizes[1:-1]]
        _core.forward(
            self._params, X, list(self._layer_sizes), self._activation.code, Y,
            hidden if keep_hidden else [],
        )
        return Y, hidden

    def forward(self, X) -> np.ndarray:
        """Compute f_w(x_b) for every row x_b of X.

        Parameters
        ----------
        X : array_like, shape (B, n_0)
            Inputs, one per row; converted to the network dtype.

        Returns
        -------
        numpy.ndarray, shape (B, n_L), network dtype
        """
        X = self._check_X(X)
        Y, _ = self._forward(X, keep_hidden=False)
        return Y

    __call__ = forward

    def loss(self, X, y, loss: str = "mse") -> float:
        """Return the loss of the network on (X, y); see :mod:`mathlearn.losses` for scaling."""
        X, y, spec = self._check_batch(X, y, loss)
        Y, _ = self._forward(X, keep_hidden=False)
        return spec.value(Y, y)

    def loss_gradient(self, X, y, loss: str = "mse") -> np.ndarray:
        """Return the gradient of the loss with respect to w, shape (P,)."""
        return self.value_and_gradient(X, y, loss=loss)[1]

    def value_and_gradient(self, X, y, loss: str = "mse", out=None):
        """Compute the loss and its gradient with one forward and one backward pass.

        Parameters
        ----------
        X : array_like, shape (B, n_0)
            Inputs with B >= 1.
        y : array_like
            Targets, shape (B, m) or (B,); see :func:`mathlearn.losses.check_target`.
        loss : {"mse", "cross_entropy"}
            ``"mse"`` is (1 / (B m)) sum_b ||f(x_b) - y_b||^2; ``"cross_entropy"``
            is the mean over the batch of the softmax cross-entropy of the logits.
        out : numpy.ndarray, shape (P,), optional
            Receives the gradient; must have the network dtype and be C-contiguous.

        Returns
        -------
        value : float
        gradient : numpy.ndarray, shape (P,), network dtype
            grad_w L = sum_b (dL/df(x_b)) . Jac f_{x_b}(w).
        """
        X, y, spec = self._check_batch(X, y, loss)
        if out is None:
            out = np.empty(self._n_params, dtype=self._dtype)
        else:
            self._check_out(out, (self._n_params,))
        Y, hidden = self._forward(X, keep_hidden=True)
        value = spec.value(Y, y)
        G = np.ascontiguousarray(spec.gradient(Y, y), dtype=self._dtype)
        _core.backward(
            self._params, X, list(self._layer_sizes), self._activation.code, hidden, G, out
        )
        return value, out

    def _check_batch(self, X, y, loss):
        spec = losses.get(loss)
        X = self._check_X(X)
        if X.shape[0] == 0:
            raise ValueError(
                "X must contain at least one sample for a loss, because the loss is a mean over "
                "the batch; got shape (0, n_0)."
            )
        y = losses.check_target(y, loss, X.shape[0], self.n_outputs, self._dtype)
        return X, y, spec

    # ------------------------------------------------------------------
    # Jacobian

    def jacobian(self, X, out=None, chunk_size=None) -> np.ndarray:
        """Compute the per-sample Jacobians Jac f_{x_b}(w) for every row of X.

        Parameters
        ----------
        X : array_like, shape (B, n_0)
        out : numpy.ndarray, shape (B, n_L, P), optional
            Receives the result in place; must have the network dtype and be
            C-contiguous. It is written without any intermediate copy.
        chunk_size : int, optional
            Rows of X processed per kernel call. It bounds the temporary
            memory (the hidden activations of one chunk), not the output.
            By default chunks keep those under 64 MiB.

        Returns
        -------
        numpy.ndarray, shape (B, n_L, P), network dtype
            ``J[b, k, p]`` = d f_k(x_b) / d w_p, columns in the order of ``params``.

        Raises
        ------
        ValueError
            If ``out`` is None and an array of shape (B, n_L, P) would not fit
            in the memory available now. The message gives the bytes needed
            and a number of rows per slice that fits.
        """
        X = self._check_X(X)
        self._check_params_finite()
        B, m, P = X.shape[0], self.n_outputs, self._n_params
        itemsize = self._dtype.itemsize
        hidden_row_bytes = max(1, sum(self._layer_sizes[1:-1])) * itemsize
        if chunk_size is None:
            chunk_size = max(1, _JACOBIAN_CHUNK_BYTES // hidden_row_bytes)
        else:
            chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
        if out is None:
            needed = B * m * P * itemsize + min(B, chunk_size) * hidden_row_bytes
            row_bytes = m * P * itemsize
            check_memory(
                needed,
                f"jacobian of {B} samples with shape ({B}, {m}, {P}) in {self._dtype}",
                f"Call jacobian on slices of X of at most "
                f"{max(1, _available_rows(row_bytes))} rows and consume each result before the "
                f"next, reusing one out= array for every slice.",
            )
            out = np.empty((B, m, P), dtype=self._dtype)
        else:
            self._check_out(out, (B, m, P))
            check_memory(
                min(B, chunk_size) * hidden_row_bytes,
                f"temporary memory of jacobian with chunk_size={chunk_size}",
                "Pass a smaller chunk_size.",
            )
        sizes = list(self._layer_sizes)
        for start in range(0, B, chunk_size):
            stop = min(B, start + chunk_size)
            _core.jacobian(self._params, X[start:stop], sizes, self._activation.code, out[start:stop])
        return out


def _available_rows(row_bytes: int) -> int:
    """Return how many Jacobian rows (B axis) fit in half the memory available now."""
    available = available_memory()
    if available is None:
        return 1
    return available // 2 // row_bytes
