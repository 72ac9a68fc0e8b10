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

# Default rows per call of the Jacobian kernel, below the 2**31 - 1 rows that
# one compiled call accepts.
_JACOBIAN_CHUNK_ROWS = 2**20


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
    activation : str or mathlearn.activations.Activation
        The componentwise sigma between affine layers: ``"identity"``,
        ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"leaky_relu"``,
        ``"softplus"``, ``"elu"``, ``"gelu"``, ``"sin"`` or ``"poly<k>"``
        (see :mod:`mathlearn.activations`).
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
            if self._activation.name in ("relu", "leaky_relu", "elu"):
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
    def activation_function(self) -> activations.Activation:
        """The activation sigma with its parameter and derivative."""
        return self._activation

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
            "activation_param": self._activation.param,
            "dtype": self._dtype.str,
            "params": self._params,
        }

    def __setstate__(self, state):
        self._layer_sizes = tuple(state["layer_sizes"])
        self._activation = activations.get(state["activation"])
        if self._activation.name in ("leaky_relu", "elu"):
            self._activation = self._activation.with_param(state["activation_param"])
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

    def _forward(self, X, keep_hidden: bool, keep_pre: bool = False):
        """Run the kernel; return Y, the hidden a_l and (when kept) the pre-activations z_l."""
        self._check_params_finite()
        B = X.shape[0]
        Y = np.empty((B, self.n_outputs), dtype=self._dtype)
        hidden_sizes = self._layer_sizes[1:-1]
        hidden = [np.empty((B, n), dtype=self._dtype) for n in hidden_sizes] if keep_hidden else []
        pre = [np.empty((B, n), dtype=self._dtype) for n in hidden_sizes] if keep_pre else []
        _core.forward(
            self._params, X, list(self._layer_sizes), self._activation.code,
            self._activation.param, Y, hidden, pre,
        )
        return Y, hidden, pre

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
        Y, _, _ = self._forward(X, keep_hidden=False)
        return Y

    __call__ = forward

    def loss(self, X, y, loss: str = "mse", sample_weight=None) -> float:
        """Return the loss of the network on (X, y); see :mod:`mathlearn.losses` for scaling.

        ``sample_weight`` (B,) gives L = (1 / B) sum_b w_b l_b.
        """
        X, y, spec, weight = self._check_batch(X, y, loss, sample_weight)
        Y, _, _ = self._forward(X, keep_hidden=False)
        return spec.value(Y, y, weight)

    def loss_gradient(self, X, y, loss: str = "mse", sample_weight=None) -> np.ndarray:
        """Return the gradient of the loss with respect to w, shape (P,)."""
        return self.value_and_gradient(X, y, loss=loss, sample_weight=sample_weight)[1]

    def value_and_gradient(self, X, y, loss: str = "mse", out=None, sample_weight=None):
        """Compute the loss and its gradient with one forward and one backward pass.

        Parameters
        ----------
        X : array_like, shape (B, n_0)
            Inputs with B >= 1.
        y : array_like
            Targets, shape (B, m) or (B,); see :func:`mathlearn.losses.check_target`.
        loss : {"mse", "cross_entropy", "binary_cross_entropy"}
            ``"mse"`` is (1 / (B m)) sum_b ||f(x_b) - y_b||^2; ``"cross_entropy"``
            is the mean over the batch of the softmax cross-entropy of the
            logits; ``"binary_cross_entropy"`` the mean over batch and outputs
            of the Bernoulli cross-entropy of the logits.
        out : numpy.ndarray, shape (P,), optional
            Receives the gradient; must have the network dtype and be C-contiguous.
        sample_weight : array_like, shape (B,), optional
            Per-sample weights w_b; the loss becomes (1 / B) sum_b w_b l_b.
            Weights may be negative, as in a policy gradient.

        Returns
        -------
        value : float
        gradient : numpy.ndarray, shape (P,), network dtype
            grad_w L = sum_b (dL/df(x_b)) . Jac f_{x_b}(w).
        """
        X, y, spec, weight = self._check_batch(X, y, loss, sample_weight)
        if out is None:
            out = np.empty(self._n_params, dtype=self._dtype)
        else:
            self._check_out(out, (self._n_params,))
        keep_pre = self._activation.needs_z
        if spec.name == "mse" and not keep_pre:
            self._check_params_finite()
            value = _core.mse_value_and_gradient(
                self._params, X, y, list(self._layer_sizes), self._activation.code,
                self._activation.param, weight, out,
            )
            return value, out
        Y, hidden, pre = self._forward(X, keep_hidden=True, keep_pre=keep_pre)
        value = spec.value(Y, y, weight)
        G = np.ascontiguousarray(spec.gradient(Y, y, weight), dtype=self._dtype)
        self._backward(X, hidden, pre, G, out)
        return value, out

    def _make_gradient_step(self, loss: str):
        """Return step(X, y, sample_weight, out) that writes the loss gradient into out.

        For training loops: X and y must already be checked and converted
        (X by the network's input check, y by :func:`mathlearn.losses.check_target`),
        so no check is repeated per mini-batch.
        """
        spec = losses.get(loss)
        keep_pre = self._activation.needs_z
        sizes = list(self._layer_sizes)
        code, param = self._activation.code, self._activation.param
        hidden_sizes = self._layer_sizes[1:-1]
        dtype = self._dtype

        if spec.name == "mse" and not keep_pre:

            def mse_step(X, y, weight, out):
                _core.mse_value_and_gradient(self._params, X, y, sizes, code, param, weight, out)

            return mse_step

        def step(X, y, weight, out):
            B = X.shape[0]
            Y = np.empty((B, self.n_outputs), dtype=dtype)
            hidden = [np.empty((B, n), dtype=dtype) for n in hidden_sizes]
            pre = [np.empty((B, n), dtype=dtype) for n in hidden_sizes] if keep_pre else []
            _core.forward(self._params, X, sizes, code, param, Y, hidden, pre)
            G = np.ascontiguousarray(spec.gradient(Y, y, weight), dtype=dtype)
            _core.backward(self._params, X, sizes, code, param, hidden, pre, G, out)

        return step

    def _backward(self, X, hidden, pre, G, out):
        _core.backward(
            self._params, X, list(self._layer_sizes), self._activation.code,
            self._activation.param, hidden, pre, G, out,
        )

    def _check_batch(self, X, y, loss, sample_weight=None):
        spec = losses.get(loss)
        X = self._check_X(X)
        if X.shape[0] == 0:
            raise ValueError(
                "X must contain at least one sample for a loss, because the loss is a mean over "
                "the batch; got shape (0, n_0)."
            )
        y = losses.check_target(y, loss, X.shape[0], self.n_outputs, self._dtype)
        weight = losses.check_sample_weight(sample_weight, X.shape[0], self._dtype)
        return X, y, spec, weight

    # ------------------------------------------------------------------
    # Products with the Jacobian, from the per-layer factors

    def _slopes(self, hidden, pre):
        """Return S_l = sigma'(z_l), (B, n_l), for the hidden layers l = 1..L-1."""
        act = self._activation
        return [act.derivative(z).astype(self._dtype, copy=False) for z in pre]

    def _factors(self, X):
        """Return (A, S): A = [a_0 = X, a_1, ..., a_{L-1}] and S = [S_1, ..., S_{L-1}]."""
        _, hidden, pre = self._forward(X, keep_hidden=True, keep_pre=True)
        return [X, *hidden], self._slopes(hidden, pre)

    def _output_factors(self, S):
        """Return D_1, ..., D_L with D_l = d f / d z_l of shape (B, m, n_l).

        D_L = I_m and D_l = (D_{l+1} W_{l+1}) diag(S_l): the chain rule
        from the output back to layer l.
        """
        B = S[0].shape[0] if S else None
        m = self.n_outputs
        L = len(self._layer_sizes) - 1
        D = [None] * (L + 1)
        if B is None:
            return D
        D[L] = np.broadcast_to(np.eye(m, dtype=self._dtype), (B, m, m))
        for l in range(L - 1, 0, -1):
            W_up = self._weights[l]  # W_{l+1}, (n_{l+1}, n_l)
            D[l] = (D[l + 1] @ W_up) * S[l - 1][:, None, :]
        return D

    def _all_output_factors(self, X):
        A, S = self._factors(X)
        B, m, L = X.shape[0], self.n_outputs, len(self._layer_sizes) - 1
        if L == 1:
            return A, [None, np.broadcast_to(np.eye(m, dtype=self._dtype), (B, m, m))]
        return A, self._output_factors(S)

    def jvp(self, X, v) -> np.ndarray:
        """Compute the Jacobian-vector products Jac f_{x_b}(w) v for every row of X.

        Forward-mode chain rule with tangents t_0 = 0 (x is fixed),
        u_l = W_l t_{l-1} + dW_l a_{l-1} + db_l and t_l = sigma'(z_l) * u_l,
        where (dW_1, db_1, ..., dW_L, db_L) is v split as ``params``; the
        result is u_L. No m x P matrix is formed.

        Parameters
        ----------
        X : array_like, shape (B, n_0)
        v : array_like, shape (P,)
            A direction in parameter space, ordered as ``params``.

        Returns
        -------
        numpy.ndarray, shape (B, n_L), network dtype
        """
        X = self._check_X(X)
        v = self._check_vector(v, "v")
        A, S = self._factors(X)
        dW, db = self._split(v)
        L = len(self._layer_sizes) - 1
        t = None
        for l in range(1, L + 1):
            u = A[l - 1] @ dW[l - 1].T + db[l - 1]
            if t is not None:
                u += t @ self._weights[l - 1].T
            if l < L:
                t = S[l - 1] * u
        return u

    def vjp(self, X, U) -> np.ndarray:
        """Compute sum_b U_b^T Jac f_{x_b}(w), the vector-Jacobian product over the batch.

        Parameters
        ----------
        X : array_like, shape (B, n_0)
        U : array_like, shape (B, n_L)
            One cotangent row per sample.

        Returns
        -------
        numpy.ndarray, shape (P,), network dtype
            Backpropagation started from delta_L = U; ``value_and_gradient``
            is the case U = dL/dY.
        """
        X = self._check_X(X)
        U = as_float_array(U, "U", ndim=2, dtype=self._dtype)
        if U.shape != (X.shape[0], self.n_outputs):
            raise ValueError(
                f"U must have shape (B, n_L) = ({X.shape[0]}, {self.n_outputs}); got {U.shape}."
            )
        out = np.empty(self._n_params, dtype=self._dtype)
        _, hidden, pre = self._forward(X, keep_hidden=True, keep_pre=self._activation.needs_z)
        self._backward(X, hidden, pre, U, out)
        return out

    def per_sample_gradients(self, X, y, loss: str = "mse", out=None) -> np.ndarray:
        """Compute the gradient of each sample's own loss term, grad_w l_b, shape (B, P).

        l_b is the per-sample term of :mod:`mathlearn.losses`, so the batch
        gradient is (1 / B) sum_b w_b grad_w l_b. Built from per-layer
        factors: grad_{W_l} l_b = delta_l[b] a_{l-1}[b]^T and
        grad_{b_l} l_b = delta_l[b], with delta_L[b] = d l_b / d f(x_b) and
        delta_{l-1} = (delta_l W_l) * sigma'(z_{l-1}) (Goodfellow, "Efficient
        per-example gradient computations", 2015).

        Parameters
        ----------
        X : array_like, shape (B, n_0)
        y : array_like
            Targets as for :meth:`value_and_gradient`.
        loss : str
        out : numpy.ndarray, shape (B, P), optional
            Receives the result without any copy.

        Returns
        -------
        numpy.ndarray, shape (B, P), network dtype
        """
        X, y, spec, _ = self._check_batch(X, y, loss)
        B, P = X.shape[0], self._n_params
        if out is None:
            check_memory(
                B * P * self._dtype.itemsize,
                f"per_sample_gradients of {B} samples with shape ({B}, {P}) in {self._dtype}",
                "Call it on slices of X and reuse one out= array.",
            )
            out = np.empty((B, P), dtype=self._dtype)
        else:
            self._check_out(out, (B, P))
        for l, delta, A_prev in self._per_sample_deltas(X, y, spec):
            n_out, n_in = self._weights[l - 1].shape
            w0 = self._offsets[l - 1]
            np.multiply(
                delta[:, :, None], A_prev[:, None, :],
                out=out[:, w0 : w0 + n_out * n_in].reshape(B, n_out, n_in),
            )
            out[:, w0 + n_out * n_in : w0 + n_out * n_in + n_out] = delta
        return out

    def per_sample_gradient_norms(self, X, y, loss: str = "mse") -> np.ndarray:
        """Compute ||grad_w l_b|| for every sample without forming the (B, P) gradients.

        ||grad_w l_b||^2 = sum_l ||delta_l[b]||^2 (||a_{l-1}[b]||^2 + 1),
        because the W_l block is the outer product delta_l[b] a_{l-1}[b]^T
        and the b_l block is delta_l[b].

        Returns
        -------
        numpy.ndarray, shape (B,), network dtype
        """
        X, y, spec, _ = self._check_batch(X, y, loss)
        total = np.zeros(X.shape[0], dtype=np.float64)
        for _, delta, A_prev in self._per_sample_deltas(X, y, spec):
            d2 = np.einsum("bi,bi->b", delta, delta, dtype=np.float64)
            a2 = np.einsum("bj,bj->b", A_prev, A_prev, dtype=np.float64)
            total += d2 * (a2 + 1.0)
        return np.sqrt(total).astype(self._dtype)

    def _per_sample_deltas(self, X, y, spec):
        """Yield (l, delta_l, a_{l-1}) for l = L..1 with delta_L = d l_b / d f(x_b)."""
        A, S = self._factors(X)
        Y = self._forward(X, keep_hidden=False)[0]
        # The loss gradient carries the factor 1 / B of the mean; undo it per sample.
        delta = np.ascontiguousarray(spec.gradient(Y, y) * X.shape[0], dtype=self._dtype)
        L = len(self._layer_sizes) - 1
        for l in range(L, 0, -1):
            yield l, delta, A[l - 1]
            if l > 1:
                delta = (delta @ self._weights[l - 1]) * S[l - 2]

    def ntk(self, X, X2=None) -> np.ndarray:
        """Compute the empirical neural tangent kernel Theta(x_b, x'_c) = J_b J'_c^T.

        Theta[b, c] = sum_l (D_l[b] D'_l[c]^T) (<a_{l-1}[b], a'_{l-1}[c]> + 1),
        with D_l = d f / d z_l (B, m, n_l), because the W_l block of J_b is
        D_l[b] (x) a_{l-1}[b] and the b_l block is D_l[b] (Jacot, Gabriel and
        Hongler 2018, "Neural Tangent Kernel"). No (B, m, P) array is formed.

        Parameters
        ----------
        X : array_like, shape (B, n_0)
        X2 : array_like, shape (B2, n_0), optional
            Second set of inputs; X itself by default.

        Returns
        -------
        numpy.ndarray, shape (B, B2, m, m), network dtype
        """
        X = self._check_X(X)
        A1, D1 = self._all_output_factors(X)
        if X2 is None:
            X2, A2, D2 = X, A1, D1
        else:
            X2 = self._check_X(X2)
            A2, D2 = self._all_output_factors(X2)
        B1, B2, m = X.shape[0], X2.shape[0], self.n_outputs
        check_memory(
            B1 * B2 * m * m * self._dtype.itemsize * 2,
            f"ntk of {B1} x {B2} samples with {m} outputs",
            "Pass fewer rows in X and X2 and assemble the blocks.",
        )
        theta = np.zeros((B1, B2, m, m), dtype=self._dtype)
        for l in range(1, len(self._layer_sizes)):
            n_l = self._layer_sizes[l]
            DD = D1[l].reshape(B1 * m, n_l) @ D2[l].reshape(B2 * m, n_l).T
            DD = DD.reshape(B1, m, B2, m).transpose(0, 2, 1, 3)
            K = A1[l - 1] @ A2[l - 1].T + 1
            theta += DD * K[:, :, None, None]
        return theta

    def input_jacobian(self, X) -> np.ndarray:
        """Compute d f / d x at every row of X, shape (B, n_L, n_0).

        d f / d x = D_1 W_1 with D_1 = d f / d z_1 from the chain rule.
        """
        X = self._check_X(X)
        _, D = self._all_output_factors(X)
        return D[1] @ self._weights[0]

    def saliency(self, X) -> np.ndarray:
        """Compute gradient x input attributions x_j d f_k / d x_j, shape (B, n_L, n_0).

        For a linear model this is the contribution w_kj x_j of each input
        (Shrikumar, Greenside and Kundaje 2017, "Learning important features
        through propagating activation differences", Section 2.1 names it).
        """
        X = self._check_X(X)
        return self.input_jacobian(X) * X[:, None, :]

    def _check_vector(self, v, name):
        v = as_float_array(v, name, ndim=1, dtype=self._dtype)
        if v.shape != (self._n_params,):
            raise ValueError(f"{name} must have shape ({self._n_params},) (P); got {v.shape}.")
        return v

    def _split(self, v):
        """Split a flat (P,) vector into per-layer views like ``weights`` and ``biases``."""
        W, b = [], []
        for l, (n_in, n_out) in enumerate(zip(self._layer_sizes[:-1], self._layer_sizes[1:])):
            w0 = self._offsets[l]
            W.append(v[w0 : w0 + n_out * n_in].reshape(n_out, n_in))
            b.append(v[w0 + n_out * n_in : w0 + n_out * n_in + n_out])
        return W, b

    @property
    def _offsets(self):
        offsets, k = [], 0
        for n_in, n_out in zip(self._layer_sizes[:-1], self._layer_sizes[1:]):
            offsets.append(k)
            k += (n_in + 1) * n_out
        return offsets

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
            Rows of X processed per kernel call, by default up to 2**20.
            The kernel's temporary memory does not grow with it, because
            each thread keeps the hidden activations of only 16 samples at
            a time.

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
        if chunk_size is None:
            chunk_size = max(1, min(B, _JACOBIAN_CHUNK_ROWS))
        else:
            chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
        if out is None:
            row_bytes = m * P * itemsize
            check_memory(
                B * row_bytes,
                f"jacobian of {B} samples with shape ({B}, {m}, {P}) in {self._dtype}",
                f"Call jacobian on slices of X of at most "
                f"{max(1, _available_rows(row_bytes))} rows and consume each result before the "
                f"next, reusing one out= array for every slice.",
            )
            out = np.empty((B, m, P), dtype=self._dtype)
        else:
            self._check_out(out, (B, m, P))
        sizes = list(self._layer_sizes)
        for start in range(0, B, chunk_size):
            stop = min(B, start + chunk_size)
            _core.jacobian(
                self._params, X[start:stop], sizes, self._activation.code, self._activation.param,
                out[start:stop],
            )
        return out


def _available_rows(row_bytes: int) -> int:
    """Return how many Jacobian rows (B axis) fit in half the memory available now."""
    available = available_memory()
    if available is None:
        return 1
    return available // 2 // row_bytes
