"""Pure-Python reference for the MLP: forward pass, losses, gradient, Jacobian.

Every formula is written with scalar loops over lists of floats, so that a
reader can check it against the mathematics line by line. NumPy appears only
at the boundary, to accept arrays and return them.

Notation (as in ``mathlearn.network``): layer sizes (n_0, ..., n_L), weights
W_l of shape (n_l, n_{l-1}), biases b_l, pre-activations
z_l = W_l a_{l-1} + b_l with a_0 = x, hidden activations a_l = sigma(z_l)
for l < L, and output f(x) = z_L. The flat parameter vector is
w = (W_1, b_1, ..., W_L, b_L), each W_l row-major.

Arithmetic runs in Python floats (IEEE double). A float32 network is
evaluated here in double precision, which is what the tests compare the
float32 kernels with.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "sigma",
    "sigma_prime",
    "forward",
    "loss",
    "loss_gradient",
    "jacobian",
    "jvp",
    "vjp",
    "per_sample_gradients",
    "ntk",
    "input_jacobian",
]


def _name_and_param(activation):
    """Return (name, param) of an activation given by name or as an Activation record."""
    if isinstance(activation, str):
        defaults = {"leaky_relu": 0.01, "elu": 1.0}
        if activation.startswith("poly") and activation[4:].isdigit():
            return "poly", float(int(activation[4:]))
        return activation, defaults.get(activation, 0.0)
    name = activation.name
    if name.startswith("poly"):
        return "poly", float(activation.param)
    return name, float(activation.param)


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def sigma(activation, z: float) -> float:
    """Evaluate the activation (a name such as "tanh" or "poly3", or an Activation) at z."""
    name, p = _name_and_param(activation)
    if name == "identity":
        return z
    if name == "sigmoid":
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)
    if name == "tanh":
        return math.tanh(z)
    if name == "relu":
        return z if z > 0 else 0.0
    if name == "leaky_relu":
        return z if z > 0 else p * z
    if name == "softplus":
        return max(z, 0.0) + math.log1p(math.exp(-abs(z)))
    if name == "elu":
        return z if z > 0 else p * math.expm1(z)
    if name == "gelu":
        return z * _normal_cdf(z)
    if name == "sin":
        return math.sin(z)
    if name == "poly":
        return z ** int(p)
    raise ValueError(f"unknown activation {activation!r}.")


def sigma_prime(activation, z: float) -> float:
    """Evaluate sigma'(z); at the kink z = 0 relu' = 0, leaky_relu' = slope, elu' = alpha."""
    name, p = _name_and_param(activation)
    if name == "identity":
        return 1.0
    if name == "sigmoid":
        s = sigma("sigmoid", z)
        return s * (1.0 - s)
    if name == "tanh":
        t = math.tanh(z)
        return 1.0 - t * t
    if name == "relu":
        return 1.0 if z > 0 else 0.0
    if name == "leaky_relu":
        return 1.0 if z > 0 else p
    if name == "softplus":
        return sigma("sigmoid", z)
    if name == "elu":
        return 1.0 if z > 0 else p * math.exp(z)
    if name == "gelu":
        return _normal_cdf(z) + z * math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    if name == "sin":
        return math.cos(z)
    if name == "poly":
        k = int(p)
        return 1.0 if k == 1 else k * z ** (k - 1)
    raise ValueError(f"unknown activation {activation!r}.")


def unflatten(layer_sizes, params):
    """Split the flat w into lists W[l] (rows of floats) and b[l], for l = 0..L-1."""
    w = [float(v) for v in np.asarray(params).ravel()]
    W, b = [], []
    k = 0
    for l in range(1, len(layer_sizes)):
        n_in, n_out = layer_sizes[l - 1], layer_sizes[l]
        rows = []
        for i in range(n_out):
            rows.append(w[k : k + n_in])
            k += n_in
        W.append(rows)
        b.append(w[k : k + n_out])
        k += n_out
    if k != len(w):
        raise ValueError(f"params must have {k} entries for layer sizes {list(layer_sizes)}; got {len(w)}.")
    return W, b


def _forward_one(layer_sizes, activation, W, b, x):
    """Return the lists z_1..z_L and a_0..a_{L-1} for one input x."""
    L = len(layer_sizes) - 1
    a = [list(x)]
    z = []
    for l in range(L):
        z_l = []
        for i in range(layer_sizes[l + 1]):
            s = b[l][i]
            for j in range(layer_sizes[l]):
                s += W[l][i][j] * a[l][j]
            z_l.append(s)
        z.append(z_l)
        if l < L - 1:
            a.append([sigma(activation, t) for t in z_l])
    return z, a


def _rows(X):
    return [[float(v) for v in row] for row in np.asarray(X, dtype=np.float64)]


def forward(layer_sizes, activation, params, X) -> np.ndarray:
    """Return f_w(x_b) for every row of X, shape (B, n_L), float64."""
    W, b = unflatten(layer_sizes, params)
    out = [_forward_one(layer_sizes, activation, W, b, x)[0][-1] for x in _rows(X)]
    return np.array(out, dtype=np.float64).reshape(len(out), layer_sizes[-1])


def _target_rows(y, m, n_samples, loss_name):
    """Return y as a list of B rows of length m (labels become one-hot rows)."""
    y = np.asarray(y)
    if loss_name == "cross_entropy" and y.ndim == 1:
        rows = []
        for label in y:
            row = [0.0] * m
            row[int(label)] = 1.0
            rows.append(row)
        return rows
    return [[float(v) for v in row] for row in np.asarray(y, dtype=np.float64).reshape(n_samples, m)]


def _loss_and_dloss(loss_name, f, t):
    """Return the per-sample loss term and d(term)/df for output f and target row t.

    mse: term = sum_k (f_k - t_k)^2 and its derivative 2 (f_k - t_k); the
    factor 1/m is in _scale.
    cross_entropy: term = log sum_k exp(f_k) - sum_k t_k f_k and its
    derivative softmax(f)_k - t_k (for a probability row t), with the
    maximum subtracted inside the exponentials.
    """
    m = len(f)
    if loss_name == "mse":
        term = 0.0
        for k in range(m):
            term += (f[k] - t[k]) ** 2
        return term, [2.0 * (f[k] - t[k]) for k in range(m)]
    if loss_name == "cross_entropy":
        top = max(f)
        total = 0.0
        for k in range(m):
            total += math.exp(f[k] - top)
        log_sum = top + math.log(total)
        term = 0.0
        for k in range(m):
            if t[k] > 0:  # 0 log 0 = 0, also at a logit of -inf
                term -= t[k] * (f[k] - log_sum)
        return term, [math.exp(f[k] - log_sum) - t[k] for k in range(m)]
    if loss_name == "binary_cross_entropy":
        # softplus(f) - t f = -(t log s + (1 - t) log(1 - s)) with s = sigmoid(f).
        term = 0.0
        for k in range(m):
            term += sigma("softplus", f[k]) - t[k] * f[k]
        return term / m, [(sigma("sigmoid", f[k]) - t[k]) / m for k in range(m)]
    raise ValueError(f"unknown loss {loss_name!r}.")


def _scale(loss_name, B, m):
    """Return the factor of the mean: 1 / (B m) for mse, 1 / B for the cross-entropies."""
    return 1.0 / (B * m) if loss_name == "mse" else 1.0 / B


def _weights(sample_weight, n):
    if sample_weight is None:
        return [1.0] * n
    return [float(v) for v in np.asarray(sample_weight, dtype=np.float64)]


def loss(layer_sizes, activation, params, X, y, loss_name="mse", sample_weight=None) -> float:
    """Return (1/B) sum_b w_b l_b: mse = (1/(B m)) sum_b w_b ||f(x_b) - y_b||^2, and so on."""
    W, b = unflatten(layer_sizes, params)
    rows = _rows(X)
    m = layer_sizes[-1]
    targets = _target_rows(y, m, len(rows), loss_name)
    weights = _weights(sample_weight, len(rows))
    total = 0.0
    for x, t, weight in zip(rows, targets, weights):
        f = _forward_one(layer_sizes, activation, W, b, x)[0][-1]
        total += weight * _loss_and_dloss(loss_name, f, t)[0]
    return total * _scale(loss_name, len(rows), m)


def loss_gradient(layer_sizes, activation, params, X, y, loss_name="mse", sample_weight=None) -> np.ndarray:
    """Return grad_w of the loss, shape (P,), by backpropagation one sample at a time.

    For each sample: delta_L = dL/dz_L, then for l = L, ..., 1:
    dL/dW_l[i][j] += delta_l[i] a_{l-1}[j], dL/db_l[i] += delta_l[i], and
    delta_{l-1}[j] = sigma'(z_{l-1}[j]) sum_i W_l[i][j] delta_l[i]
    (Goodfellow, Bengio and Courville, Deep Learning, Algorithm 6.4).
    """
    W, b = unflatten(layer_sizes, params)
    L = len(layer_sizes) - 1
    m = layer_sizes[-1]
    rows = _rows(X)
    targets = _target_rows(y, m, len(rows), loss_name)
    scale = _scale(loss_name, len(rows), m)
    weights = _weights(sample_weight, len(rows))
    gW = [[[0.0] * layer_sizes[l] for _ in range(layer_sizes[l + 1])] for l in range(L)]
    gb = [[0.0] * layer_sizes[l + 1] for l in range(L)]
    for x, t, weight in zip(rows, targets, weights):
        z, a = _forward_one(layer_sizes, activation, W, b, x)
        _, dloss = _loss_and_dloss(loss_name, z[-1], t)
        delta = [weight * scale * d for d in dloss]
        for l in range(L - 1, -1, -1):
            for i in range(layer_sizes[l + 1]):
                gb[l][i] += delta[i]
                for j in range(layer_sizes[l]):
                    gW[l][i][j] += delta[i] * a[l][j]
            if l > 0:
                previous = []
                for j in range(layer_sizes[l]):
                    s = 0.0
                    for i in range(layer_sizes[l + 1]):
                        s += W[l][i][j] * delta[i]
                    previous.append(sigma_prime(activation, z[l - 1][j]) * s)
                delta = previous
    return np.array(_flatten(gW, gb), dtype=np.float64)


def _flatten(W, b):
    flat = []
    for W_l, b_l in zip(W, b):
        for row in W_l:
            flat.extend(row)
        flat.extend(b_l)
    return flat


def jacobian(layer_sizes, activation, params, X) -> np.ndarray:
    """Return the per-sample Jacobians Jac f_{x_b}(w), shape (B, n_L, P).

    Row k of Jac f_x(w) is the gradient of the output f_k: backpropagation
    started from delta_L = e_k, the k-th unit vector, so that
    d f_k / d W_l[i][j] = delta_l[i] a_{l-1}[j] and d f_k / d b_l[i] = delta_l[i].
    """
    W, b = unflatten(layer_sizes, params)
    L = len(layer_sizes) - 1
    m = layer_sizes[-1]
    P = sum((layer_sizes[l] + 1) * layer_sizes[l + 1] for l in range(L))
    result = []
    for x in _rows(X):
        z, a = _forward_one(layer_sizes, activation, W, b, x)
        rows = []
        for k in range(m):
            delta = [1.0 if i == k else 0.0 for i in range(m)]
            gW = [None] * L
            gb = [None] * L
            for l in range(L - 1, -1, -1):
                gb[l] = list(delta)
                gW[l] = [[delta[i] * a[l][j] for j in range(layer_sizes[l])] for i in range(layer_sizes[l + 1])]
                if l > 0:
                    previous = []
                    for j in range(layer_sizes[l]):
                        s = 0.0
                        for i in range(layer_sizes[l + 1]):
                            s += W[l][i][j] * delta[i]
                        previous.append(sigma_prime(activation, z[l - 1][j]) * s)
                    delta = previous
            rows.append(_flatten(gW, gb))
        result.append(rows)
    return np.array(result, dtype=np.float64).reshape(len(result), m, P)


def jvp(layer_sizes, activation, params, X, v) -> np.ndarray:
    """Return J_b v for each row: sum_p Jac f_{x_b}(w)[k, p] v[p], shape (B, n_L)."""
    J = jacobian(layer_sizes, activation, params, X)
    v = [float(t) for t in np.asarray(v).ravel()]
    B, m, P = J.shape
    out = [[sum(float(J[r, k, p]) * v[p] for p in range(P)) for k in range(m)] for r in range(B)]
    return np.array(out, dtype=np.float64).reshape(B, m)


def vjp(layer_sizes, activation, params, X, U) -> np.ndarray:
    """Return sum_b sum_k U[b, k] Jac f_{x_b}(w)[k, :], shape (P,)."""
    J = jacobian(layer_sizes, activation, params, X)
    U = np.asarray(U, dtype=np.float64)
    B, m, P = J.shape
    out = [sum(float(U[r, k]) * float(J[r, k, p]) for r in range(B) for k in range(m)) for p in range(P)]
    return np.array(out, dtype=np.float64)


def per_sample_gradients(layer_sizes, activation, params, X, y, loss_name="mse") -> np.ndarray:
    """Return grad_w l_b for each row, shape (B, P): the one-row batch gradient of row b.

    The loss of a one-row batch is l_b itself (B = 1 in the mean).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    rows = [loss_gradient(layer_sizes, activation, params, X[r : r + 1], y[r : r + 1], loss_name)
            for r in range(X.shape[0])]
    P = sum((layer_sizes[l] + 1) * layer_sizes[l + 1] for l in range(len(layer_sizes) - 1))
    return np.array(rows, dtype=np.float64).reshape(X.shape[0], P)


def ntk(layer_sizes, activation, params, X, X2=None) -> np.ndarray:
    """Return Theta[b, c, k, j] = sum_p J_b[k, p] J'_c[j, p], shape (B, B2, m, m)."""
    J1 = jacobian(layer_sizes, activation, params, X)
    J2 = J1 if X2 is None else jacobian(layer_sizes, activation, params, X2)
    B1, m, P = J1.shape
    B2 = J2.shape[0]
    out = np.zeros((B1, B2, m, m))
    for r in range(B1):
        for c in range(B2):
            for k in range(m):
                for j in range(m):
                    out[r, c, k, j] = sum(float(J1[r, k, p]) * float(J2[c, j, p]) for p in range(P))
    return out


def input_jacobian(layer_sizes, activation, params, X) -> np.ndarray:
    """Return d f_k / d x_j for each row, shape (B, n_L, n_0).

    Backpropagation from delta_L = e_k down to the input:
    d f_k / d x_j = sum_i W_1[i][j] delta_1[i].
    """
    W, b = unflatten(layer_sizes, params)
    L = len(layer_sizes) - 1
    m, n = layer_sizes[-1], layer_sizes[0]
    result = []
    for x in _rows(X):
        z, _ = _forward_one(layer_sizes, activation, W, b, x)
        rows = []
        for k in range(m):
            delta = [1.0 if i == k else 0.0 for i in range(m)]
            for l in range(L - 1, -1, -1):
                previous = []
                for j in range(layer_sizes[l]):
                    s = 0.0
                    for i in range(layer_sizes[l + 1]):
                        s += W[l][i][j] * delta[i]
                    previous.append(s if l == 0 else sigma_prime(activation, z[l - 1][j]) * s)
                delta = previous
            rows.append(delta)
        result.append(rows)
    return np.array(result, dtype=np.float64).reshape(len(result), m, n)
