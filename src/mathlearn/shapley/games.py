"""Cooperative games given by a table, a function, a model at a point or weights.

A cooperative game on the players N = {0, ..., n-1} is a map v from the
coalitions S of N to R (scalar game) or R^m (vector game); v(empty) may
be non-zero. A coalition S is encoded as the integer mask with bit i set
when player i is in S, so the grand coalition N is ``2**n - 1``.

Every game here offers the same interface, which ``exact``, ``sample``
and the axiom checks use:

``n_players``
    The number n of players.
``n_outputs``
    None for a scalar game, m for a game with values in R^m.
``values(masks)``
    v at the given masks: shape (k,) for a scalar game, (k, m) otherwise.
``table()``
    v at every mask 0, ..., 2**n - 1, in mask order.

A user-defined game may subclass ``Game`` and implement ``values`` only.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import as_float_array, check_int, check_memory, float_dtype_of

# Coalitions are int64 masks, so a game has at most 62 players (bit 63 is
# the sign bit and 2**n must still fit).
MAX_MASK_PLAYERS = 62

# A full table of 2**30 float64 values takes 8 GiB, and the subset method
# then needs 30 * 2**29 terms. exact() rejects larger games before any work.
MAX_EXACT_PLAYERS = 30

# Hybrid rows per call of f when ModelGame gets batch_size=None: about
# 2**20 input entries, 8 MiB in float64.
_DEFAULT_BATCH_ENTRIES = 2**20


def check_table_size(n_players: int, n_outputs: int | None, n_tables: int, what: str) -> None:
    """Raise ``ValueError`` if ``n_tables`` float64 tables of 2**n values do not fit.

    The check runs before anything is allocated. It rejects n above
    ``MAX_EXACT_PLAYERS`` outright and otherwise compares the bytes needed
    with the memory available now (``_validation.check_memory``).
    """
    width = 1 if n_outputs is None else n_outputs
    n_bytes = n_tables * (2**n_players) * width * 8
    hint = (
        "Exact Shapley values need all 2**n coalition values; for this many players, "
        f"estimate them by sampling with shapley.sample(game, budget). For n <= {MAX_EXACT_PLAYERS}, "
        "exact(game, method='gray') streams the coalitions without storing a table."
    )
    if n_players > MAX_EXACT_PLAYERS:
        raise ValueError(
            f"{what}: n_players must be <= {MAX_EXACT_PLAYERS} for a full coalition table; got "
            f"n_players={n_players}, which needs {n_bytes:,} bytes ({n_bytes / 2**30:.1f} GiB). "
            f"{hint}"
        )
    check_memory(n_bytes, f"{what} with n_players={n_players}", hint)


def as_masks(masks, n_players: int) -> np.ndarray:
    """Return ``masks`` as a 1-D int64 array after checking each is in [0, 2**n)."""
    arr = np.asarray(masks)
    if arr.dtype == bool or arr.dtype.kind not in "iu":
        raise TypeError(
            f"masks must be an array of integer coalition masks; got dtype {arr.dtype}. "
            f"Bit i of a mask is set when player i is in the coalition."
        )
    if arr.ndim != 1:
        raise ValueError(f"masks must be 1-D; got an array of shape {arr.shape}.")
    if arr.size:
        # Python ints, so that uint64 masks above 2**63 are not wrapped first.
        low, high = int(arr.min()), int(arr.max())
        if low < 0 or high >= 2**n_players:
            bad = low if low < 0 else high
            raise ValueError(
                f"masks must be in [0, 2**{n_players} - 1] for a game with {n_players} players; "
                f"got {bad}."
            )
    return arr.astype(np.int64, copy=False)


class Game:
    """A cooperative game v on n players; subclasses implement ``values``.

    Attributes
    ----------
    n_players : int
        The number n of players.
    n_outputs : int or None
        None for a scalar game, m for a game with values in R^m.
    """

    n_players: int
    n_outputs: int | None

    def values(self, masks) -> np.ndarray:
        """Evaluate v at coalition masks.

        Parameters
        ----------
        masks : array_like of int, shape (k,)
            Coalition masks in [0, 2**n); bit i is player i.

        Returns
        -------
        ndarray, shape (k,) or (k, m), float64 or float32
        """
        raise NotImplementedError(f"{type(self).__name__} must implement values(masks).")

    def table(self) -> np.ndarray:
        """Evaluate v at every coalition, in mask order 0, ..., 2**n - 1.

        Returns
        -------
        ndarray, shape (2**n,) or (2**n, m)

        Raises
        ------
        ValueError
            If the table would not fit in memory or n exceeds ``MAX_EXACT_PLAYERS``.
        """
        check_table_size(self.n_players, self.n_outputs, 1, f"{type(self).__name__}.table()")
        return self.values(np.arange(2**self.n_players, dtype=np.int64))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_players={self.n_players}, n_outputs={self.n_outputs})"


class TableGame(Game):
    """A game given by its full table of coalition values.

    Parameters
    ----------
    values : array_like, shape (2**n,) or (2**n, m)
        v(S) at index S, where bit i of S is player i. float64 and float32
        are kept; bool, integer and float16 are converted to float64. The
        game keeps a read-only view, not a copy, of a C-contiguous float
        array, so writing to that array afterwards changes the game.
        ``exact`` and ``sample`` raise ValueError if NaN or inf was written.

    Examples
    --------
    The glove game with one left glove (player 0) and two right gloves:

    >>> from mathlearn import shapley
    >>> v = [0, 0, 0, 1, 0, 1, 0, 1]
    >>> shapley.exact(shapley.TableGame(v))
    array([0.66666667, 0.16666667, 0.16666667])
    """

    def __init__(self, values):
        table = as_float_array(values, "values", ndim=(1, 2), allow_empty=False)
        length = table.shape[0]
        if length < 2 or length & (length - 1):
            raise ValueError(
                f"values must have 2**n rows, one per coalition of n >= 1 players; got {length} "
                f"rows. Index the table by coalition mask, with bit i set for player i."
            )
        self.n_players = length.bit_length() - 1
        self.n_outputs = None if table.ndim == 1 else table.shape[1]
        view = table.view()
        view.flags.writeable = False
        self._table = view

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the stored table, float64 or float32."""
        return self._table.dtype

    def values(self, masks) -> np.ndarray:
        """Return v at coalition masks, shape (k,) or (k, m), in the table's dtype."""
        return self._table[as_masks(masks, self.n_players)]

    def table(self) -> np.ndarray:
        """Return the stored table, a read-only array of shape (2**n,) or (2**n, m)."""
        return self._table

    def check_finite(self) -> None:
        """Raise ValueError when the table contains NaN or inf.

        The table is a view of the caller's array, which may have changed
        since the game was built, so ``exact`` and ``sample`` call this
        before they use it. One pass over 2**n values is cheap next to them.
        """
        finite = np.isfinite(self._table)
        if not finite.all():
            index = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise ValueError(
                f"the table of this TableGame must contain only finite values; got "
                f"{self._table[index].item()!r} at coalition mask {index[0]}. The game keeps a view "
                "of the array it was built from, so that array was changed afterwards; pass a copy "
                "(TableGame(values.copy())) to keep the game fixed."
            )


class ModelGame(Game):
    """The interventional game of a model f at a point x over a background set.

    v_x(S) = (1/K) sum_k f(x_S, (b_k)_{N minus S}): the features in S take
    their values from x and the others from the background row b_k
    (D. Janzing, L. Minorics and P. Bloebaum, Feature relevance
    quantification in explainable AI: a causal problem, AISTATS 2020,
    arXiv:1910.13413). Each call of f gets
    many hybrid rows at once, never one row per call.

    Parameters
    ----------
    f : callable
        Maps an array of shape (B, n) to shape (B,), (B, 1) or (B, k).
        Output (B,) makes a scalar game (``n_outputs`` None); (B, k) makes
        a vector game with ``n_outputs == k``, including k = 1, so that
        shapes stay predictable. Outputs of any float or integer dtype are
        averaged in float64.
    x : array_like, shape (n,)
        The point to explain.
    background : array_like, shape (K, n)
        Background rows b_1, ..., b_K, K >= 1.
    batch_size : int, optional
        Maximum number of hybrid rows per call of f; it bounds the
        temporary memory to a few arrays of shape (batch_size, n). By
        default it covers about 2**20 input entries, rounded down to whole
        coalitions (K rows each) and never below K.
    mlp_kernel : bool, optional
        Whether ``table()`` uses the C++ Gray-code kernel for a
        ``mathlearn.MLP`` (see Notes). None (default) uses it whenever f is
        an MLP or its bound method ``forward`` and x and background are
        numeric. False forces the generic path through f. True requires
        the kernel and raises ``TypeError`` when f is not an MLP.

    Notes
    -----
    The rows passed to f have the dtype of ``x`` and ``background``
    combined: float32 if both are float32, float64 for other numeric
    inputs, and object when either is an object or string array (for
    models that take categorical features). Numeric inputs may hold NaN
    and infinity, which reach f unchanged.

    Feature j of background row k equals x_j when ``x[j] == b_k[j]`` or
    both are NaN (``equal_to_x``). A feature equal to x_j in every
    background row is a null player of v_x, because no hybrid row changes
    with it. ``explain`` gives it exactly 0 without evaluating f for it.

    The constructor calls f once on the first min(K, batch_size)
    background rows (hybrid rows of the empty coalition) to learn and
    check the shape of its output.

    When f is a ``mathlearn.MLP`` ``net`` or ``net.forward``, ``table()``
    runs ``mathlearn._core.model_game_table``. It walks the coalitions in
    Gray-code order and updates the first pre-activation W_1 z + b_1 by
    +-W_1[:, i] (x_i - b_{k,i}) when player i joins or leaves, so no hybrid
    row is built and the first layer costs h additions per row instead of
    n h multiply-adds. The pre-activation is kept in float64 and
    recomputed directly every ``_core.MODEL_GAME_SEGMENT`` (256) steps.
    Its error is then at most (n + 1 + 5 * 255) * 2**-53 * M_i for unit
    i, with M_i = |b_{1,i}| + sum_j |W_1[i, j]| max(|x_j|, max_k |b_{k,j}|),
    before any rounding to the network dtype. For tanh (c = 2) and the
    sigmoid (c = 1), a unit with 4 <= c M_i <= 64 keeps exp(c u) instead
    and multiplies it by precomputed exp(+-c W_1[i, j] (x_j - b_{k,j})), so
    that its activation needs a division but no exp. The same bound applies
    to the pre-activation that exp(c u) represents. With one hidden layer
    the activations are averaged over the background rows in float64
    before the output layer, which is affine. x and background are
    converted to the network dtype first, as ``net.forward`` converts
    them. ``values(masks)`` always calls f.
    """

    def __init__(self, f, x, background, batch_size=None, mlp_kernel=None):
        if not callable(f):
            raise TypeError(
                f"f must be a callable mapping an array of shape (B, n) to (B,) or (B, k); "
                f"got {type(f).__name__}. Pass the model's prediction function, e.g. net.forward."
            )
        if mlp_of(f) is not None:
            # An MLP accepts only finite real inputs. Checking them here names
            # x or background in the error, not the X of MLP.forward.
            as_float_array(x, "x", ndim=1)
            as_float_array(background, "background", ndim=2)
        x = as_feature_array(x, "x", ndim=1)
        if x.shape[0] == 0:
            raise ValueError(f"x must not be empty; got an array of shape {x.shape}.")
        background = as_background(background)
        n = x.shape[0]
        if background.shape[1] != n:
            raise ValueError(
                f"x and background must have the same number of features; got x of length {n} "
                f"and background of shape {background.shape}. Pass x as one row of the data."
            )
        if n > MAX_MASK_PLAYERS:
            raise ValueError(
                f"x must have at most {MAX_MASK_PLAYERS} features, because coalitions are int64 "
                f"masks; got {n}."
            )
        dtype = feature_dtype(x, background)
        self.f = f
        self.x = _read_only(np.array(x, dtype=dtype))
        self.background = _read_only(np.array(background, dtype=dtype))
        self.n_players = n
        n_background = background.shape[0]
        if batch_size is None:
            per_coalition = max(1, _DEFAULT_BATCH_ENTRIES // (n * n_background))
            batch_size = per_coalition * n_background
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)

        self.n_outputs = None
        probe_rows = min(n_background, self.batch_size)
        probe = self._call_f(self.background[:probe_rows], lambda r: 0, probe=True)
        self.n_outputs = None if probe.ndim == 1 else probe.shape[1]
        self._net = self._kernel_network(mlp_kernel)

    def _kernel_network(self, mlp_kernel):
        """Return the MLP whose table the C++ kernel computes, or None for the generic path."""
        if mlp_kernel is not None and not isinstance(mlp_kernel, (bool, np.bool_)):
            raise TypeError(f"mlp_kernel must be None, True or False; got {mlp_kernel!r}.")
        if mlp_kernel is not None and not mlp_kernel:
            return None
        net = mlp_of(self.f)
        if net is None or self.x.dtype == object:
            if mlp_kernel:
                raise TypeError(
                    f"mlp_kernel=True needs f to be a mathlearn.MLP or its bound method forward, "
                    f"and numeric x and background; got f of type {type(self.f).__name__} and "
                    f"inputs of dtype {self.x.dtype}. Pass mlp_kernel=None to fall back to f."
                )
            return None
        return net

    @property
    def uses_mlp_kernel(self) -> bool:
        """True when ``table()`` runs the C++ kernel of a ``mathlearn.MLP``."""
        return self._net is not None

    def table(self) -> np.ndarray:
        """Evaluate v at every coalition, in mask order 0, ..., 2**n - 1.

        Returns
        -------
        ndarray, shape (2**n,) or (2**n, m), float64

        Raises
        ------
        ValueError
            If the table would not fit in memory, n exceeds
            ``MAX_EXACT_PLAYERS``, or f returns non-finite values.
        """
        if self._net is None:
            return super().table()
        check_table_size(self.n_players, self.n_outputs, 1, "ModelGame.table()")
        players = np.flatnonzero(~self.equal_to_x().all(axis=0)).astype(np.int64)
        if players.size == self.n_players:
            return self.mlp_table(players)

        # A feature equal to x in every background row is a null player, so v
        # does not depend on its bit: walk the others and spread the values.
        restricted = self.mlp_table(players)
        masks = np.arange(2**self.n_players, dtype=np.int64)
        compressed = np.zeros_like(masks)
        for t, player in enumerate(players):
            compressed |= ((masks >> player) & 1) << t
        return restricted[compressed]

    def mlp_table(self, players) -> np.ndarray:
        """Compute the table of the game restricted to ``players`` with the C++ kernel.

        Parameters
        ----------
        players : ndarray of int64, shape (p,)
            Distinct feature indices. Bit t of a mask is feature
            ``players[t]``; the other features keep their background values.

        Returns
        -------
        ndarray, shape (2**p, m), float64
        """
        from .. import _core

        net = self._net
        if net is None:
            raise ValueError(
                "mlp_table needs the game of a mathlearn.MLP built with mlp_kernel None or True; "
                "this game calls f. Use table() instead."
            )
        net._check_params_finite()
        players = np.ascontiguousarray(players, dtype=np.int64)
        x = np.ascontiguousarray(self.x, dtype=net.dtype)
        background = np.ascontiguousarray(self.background, dtype=net.dtype)
        for name, arr in (("x", x), ("background", background)):
            if not np.isfinite(arr).all():
                raise ValueError(
                    f"{name} must be finite in the network dtype {net.dtype} to be passed to the "
                    f"MLP; got {arr[~np.isfinite(arr)][0]!r}. Replace missing or out-of-range values."
                )
        sizes = net.layer_sizes
        n_background = background.shape[0]
        width = max(sizes[1:])
        # An upper bound on the kernel's scratch: at most two (p, K, h_1)
        # float64 tables of updates for the walk. Per thread, the running
        # (K, h_1) first layer, a (K, h_1) activation buffer, one hybrid row
        # and two block buffers of at most max(2**14, K * width) entries
        # (kBlockElements in model_game.hpp).
        per_thread = (
            2 * 8 * n_background * sizes[1] + 8 * (sizes[0] + sizes[1])
            + 2 * 8 * max(2**14, n_background * width)
        )
        scratch = 2 * 8 * players.size * n_background * sizes[1] + _core.get_num_threads() * per_thread
        check_table_size(players.size, self.n_outputs, 1, "ModelGame.mlp_table()")
        check_memory(scratch, f"the MLP kernel's scratch for K={n_background}", "Pass fewer background rows.")
        table = np.empty((2**players.size, net.n_outputs), dtype=np.float64)
        _core.model_game_table(
            net.params, list(sizes), net._activation.code, net._activation.param, x, background,
            players, table
        )
        if not np.isfinite(table).all():
            mask = int(np.flatnonzero(~np.isfinite(table).all(axis=1))[0])
            raise ValueError(
                f"f must return finite values; the mean of the MLP's output over the background is "
                f"{table[mask]} for coalition mask {mask}. Check the model for overflow."
            )
        return table

    def equal_to_x(self) -> np.ndarray:
        """Return the (K, n) bool array of background entries equal to x, NaN equal to NaN."""
        return features_equal(self.background, self.x[None, :])

    def values(self, masks) -> np.ndarray:
        """Evaluate v_x at coalition masks in batches of hybrid rows.

        Parameters
        ----------
        masks : array_like of int, shape (k,)
            Coalition masks in [0, 2**n); bit i is feature i.

        Returns
        -------
        ndarray, shape (k,) or (k, m), float64
            The mean of f over the K hybrid rows of each coalition,
            accumulated in float64.
        """
        masks = as_masks(masks, self.n_players)
        width = 1 if self.n_outputs is None else self.n_outputs
        sums = np.zeros((masks.shape[0], width), dtype=np.float64)
        if self.batch_size >= self.background.shape[0]:
            self._sum_by_coalition(masks, sums)
        else:
            self._sum_by_row(masks, sums)
        sums /= self.background.shape[0]  # in place, so a full table is never held twice
        return sums[:, 0] if self.n_outputs is None else sums

    def _sum_by_coalition(self, masks: np.ndarray, sums: np.ndarray) -> None:
        """Add sum_k f(x_S, b_k) to ``sums`` for each mask, whole coalitions per call of f."""
        n_background, n = self.background.shape
        per_batch = self.batch_size // n_background
        bits = np.arange(n, dtype=np.int64)
        for start in _batches(range(0, masks.shape[0], per_batch)):
            batch = masks[start : start + per_batch]
            in_S = ((batch[:, None] >> bits) & 1).astype(bool)
            # Block c of K rows is x on the features of coalition c, the background elsewhere.
            Z = np.where(in_S[:, None, :], self.x, self.background).reshape(-1, n)
            out = self._call_f(Z, lambda r: batch[r // n_background])
            sums[start : start + batch.shape[0]] = out.reshape(batch.shape[0], n_background, -1).sum(axis=1)

    def _sum_by_row(self, masks: np.ndarray, sums: np.ndarray) -> None:
        """Add sum_k f(x_S, b_k) to ``sums`` for each mask when batch_size < K splits coalitions."""
        n_background, n = self.background.shape
        bits = np.arange(n, dtype=np.int64)
        total_rows = masks.shape[0] * n_background

        # Hybrid row r belongs to coalition masks[r // K] and background row r % K.
        for start in _batches(range(0, total_rows, self.batch_size)):
            rows = np.arange(start, min(start + self.batch_size, total_rows), dtype=np.int64)
            coalition = rows // n_background
            in_S = ((masks[coalition, None] >> bits) & 1).astype(bool)
            Z = np.where(in_S, self.x, self.background[rows - coalition * n_background])
            out = self._call_f(Z, lambda r: masks[coalition[r]]).reshape(rows.shape[0], -1)

            # A batch may start or end inside a coalition, so sum each run of
            # equal coalition indices and add the sums to that coalition.
            run_starts = np.flatnonzero(np.diff(coalition, prepend=-1))
            sums[coalition[run_starts]] += np.add.reduceat(out, run_starts, axis=0)

    def _call_f(self, Z: np.ndarray, mask_of_row, probe: bool = False) -> np.ndarray:
        """Call f on hybrid rows Z and return its output as float64 after checking it.

        ``mask_of_row(r)`` is the coalition mask of row r, used in error messages.
        """
        out = np.asarray(self.f(Z))
        float_dtype_of(out, "f(Z)")
        rows = Z.shape[0]
        if out.ndim not in (1, 2) or out.shape[0] != rows:
            raise ValueError(
                f"f must return one row per input row, shape ({rows},) or ({rows}, k), when "
                f"called with an array of shape {Z.shape}; got shape {out.shape}."
            )
        if probe:
            if out.ndim == 2 and out.shape[1] == 0:
                raise ValueError(f"f must return at least one output column; got shape {out.shape}.")
        else:
            expected = (rows,) if self.n_outputs is None else (rows, self.n_outputs)
            if out.shape != expected:
                raise ValueError(
                    f"f must return the same output shape for every batch; it returned shape "
                    f"{out.shape} for {rows} rows, but shape {expected} was expected from its "
                    f"first call."
                )
        out = out.astype(np.float64, copy=False)
        finite = np.isfinite(out)
        if not finite.all():
            r = int(np.flatnonzero(~finite.reshape(rows, -1).all(axis=1))[0])
            where = f"hybrid row {r} of the batch, coalition mask {int(mask_of_row(r))}"
            raise ValueError(
                f"f must return finite values; got {out.reshape(rows, -1)[r]} for {where} "
                f"(input {Z[r]}). Check the model for overflow or invalid inputs."
            )
        return out


def mlp_of(f):
    """Return the ``mathlearn.MLP`` that f is, or whose bound ``forward`` f is, else None."""
    from ..network import MLP

    if isinstance(f, MLP):
        return f
    owner = getattr(f, "__self__", None)
    if isinstance(owner, MLP) and getattr(f, "__func__", None) is MLP.forward:
        return owner
    return None


def as_feature_array(values, name: str, ndim: int) -> np.ndarray:
    """Return model inputs as a C-contiguous array: numeric as float, anything else as object.

    Numeric inputs follow the dtype rule of ``_validation`` but may hold NaN
    and infinity, because features are compared by equality and a model may
    accept missing values. Object and string arrays (categorical features)
    are kept as object arrays for models that accept them.
    """
    arr = np.asarray(values) if not isinstance(values, (str, bytes)) else None
    if arr is not None and arr.dtype.kind in "OUS":
        if arr.ndim != ndim:
            raise ValueError(
                f"{name} must have {ndim} dimension(s); got an array of shape {arr.shape}."
            )
        return np.ascontiguousarray(arr, dtype=object)
    return as_float_array(values, name, ndim=ndim, finite=False)


def as_background(background) -> np.ndarray:
    """Return a background set as a (K, n) feature array with K >= 1 rows."""
    background = as_feature_array(background, "background", ndim=2)
    if background.shape[0] == 0:
        raise ValueError(
            f"background must have at least one row; got shape {background.shape}. "
            f"Pass rows of the training data, or x itself for a one-row background."
        )
    return background


def feature_dtype(x: np.ndarray, background: np.ndarray) -> np.dtype:
    """Return the dtype of hybrid rows: object if either input is object, else the float result type."""
    if x.dtype == object or background.dtype == object:
        return np.dtype(object)
    return np.result_type(x.dtype, background.dtype)


def features_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return ``a == b`` elementwise with broadcasting, where NaN equals NaN.

    Object arrays are compared entry by entry with ``==``; a float NaN entry
    there equals another float NaN entry.
    """
    if a.dtype != object and b.dtype != object:
        return (a == b) | (np.isnan(a) & np.isnan(b))
    a, b = np.broadcast_arrays(a, b)
    equal = np.empty(a.shape, dtype=bool)
    for index in np.ndindex(a.shape):
        left, right = a[index], b[index]
        same = left is right or _is_nan(left) and _is_nan(right)
        equal[index] = bool(same or left == right)
    return equal


def _is_nan(value) -> bool:
    return isinstance(value, (float, np.floating)) and value != value


def _batches(starts: range):
    """Iterate over batch starts with a progress bar, shown on a terminal after 1 s.

    MATHLEARN_PROGRESS=0 turns it off (see mathlearn._progress).
    """
    from .._progress import progress

    return progress(starts, total=len(starts), desc="model evaluations", unit="batch")


def _read_only(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


class CallableGame(Game):
    """A game given by a function of a batch of coalitions.

    Parameters
    ----------
    v : callable
        Maps a bool array of shape (k, n) to an array of shape (k,) for a
        scalar game or (k, m) for a game with m outputs. Row r of the input
        is coalition r: entry i is True when player i is in it. Outputs of any float or integer dtype are converted to
        float64 and must be finite.
    n_players : int
        The number n of players, 1 <= n <= 62.
    batch_size : int, default 65536
        Maximum number of coalitions per call of v.

    Notes
    -----
    The constructor calls v once on the empty coalition to learn the
    output shape. Estimators count game evaluations themselves and do not
    count this call.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn import shapley
    >>> majority = shapley.CallableGame(lambda Z: (Z.sum(axis=1) >= 2).astype(float), 3)
    >>> shapley.exact(majority)
    array([0.33333333, 0.33333333, 0.33333333])
    """

    def __init__(self, v, n_players, batch_size=65536):
        if not callable(v):
            raise TypeError(
                f"v must be a callable mapping a bool array of shape (k, n) to shape (k,) or "
                f"(k, m); got {type(v).__name__}."
            )
        self.v = v
        self.n_players = check_int(n_players, "n_players", minimum=1, maximum=MAX_MASK_PLAYERS)
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.n_outputs = None
        probe = self._call_v(np.zeros((1, self.n_players), dtype=bool), probe=True)
        self.n_outputs = None if probe.ndim == 1 else probe.shape[1]

    def values(self, masks) -> np.ndarray:
        """Evaluate v at coalition masks, shape (k,) or (k, m), float64, in batches of ``batch_size``."""
        masks = as_masks(masks, self.n_players)
        width = 1 if self.n_outputs is None else self.n_outputs
        out = np.empty((masks.shape[0], width), dtype=np.float64)
        bits = np.arange(self.n_players, dtype=np.int64)
        for start in range(0, masks.shape[0], self.batch_size):
            batch = masks[start : start + self.batch_size]
            members = ((batch[:, None] >> bits) & 1).astype(bool)
            out[start : start + batch.shape[0]] = self._call_v(members).reshape(batch.shape[0], width)
        return out[:, 0] if self.n_outputs is None else out

    def _call_v(self, members: np.ndarray, probe: bool = False) -> np.ndarray:
        out = np.asarray(self.v(members))
        float_dtype_of(out, "v(coalitions)")
        k = members.shape[0]
        if probe:
            if out.ndim not in (1, 2) or out.shape[0] != k or (out.ndim == 2 and out.shape[1] == 0):
                raise ValueError(
                    f"v must return shape (k,) or (k, m) with m >= 1 for k coalitions; got shape "
                    f"{out.shape} for k = {k}."
                )
        else:
            expected = (k,) if self.n_outputs is None else (k, self.n_outputs)
            if out.shape != expected:
                raise ValueError(
                    f"v must return shape {expected} for {k} coalitions, as on its first call; "
                    f"got shape {out.shape}."
                )
        out = out.astype(np.float64, copy=False)
        finite = np.isfinite(out.reshape(k, -1)).all(axis=1)
        if not finite.all():
            r = int(np.flatnonzero(~finite)[0])
            players = np.flatnonzero(members[r]).tolist()
            raise ValueError(
                f"v must return finite values; got {out.reshape(k, -1)[r]} for the coalition "
                f"{players}."
            )
        return out


class WeightedVotingGame(Game):
    """The weighted voting game [quota; w_0, ..., w_{n-1}].

    v(S) = 1 when the weights of S sum to at least the quota, else 0.
    ``shapley_shubik`` and ``banzhaf`` compute its power indices from the
    integer weights for thousands of players; ``values`` and ``table``
    need masks and so work for n <= 62 only.

    Parameters
    ----------
    quota : int
        The quota q, 1 <= q <= sum of the weights.
    weights : array_like of int, shape (n,)
        Non-negative integer weights with a sum below 2**62.

    Examples
    --------
    >>> from mathlearn import shapley
    >>> game = shapley.WeightedVotingGame(3, [2, 1, 1])
    >>> shapley.shapley_shubik(game, fractions=True)
    [Fraction(2, 3), Fraction(1, 6), Fraction(1, 6)]
    """

    n_outputs = None

    def __init__(self, quota, weights):
        arr = np.asarray(weights)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"weights must be a non-empty 1-D array; got shape {arr.shape}.")
        if arr.dtype.kind not in "iu" and not (arr.dtype == object and all(
            isinstance(w, (int, np.integer)) and not isinstance(w, bool) for w in arr
        )):
            raise TypeError(
                f"weights must be integers, because the power indices are computed by integer "
                f"dynamic programming; got dtype {arr.dtype}. Scale rational weights to integers."
            )
        python_weights = [int(w) for w in arr]
        if min(python_weights) < 0:
            bad = min(python_weights)
            raise ValueError(f"weights must be non-negative; got {bad} at index {python_weights.index(bad)}.")
        total = sum(python_weights)
        if total >= 2**62:
            raise ValueError(f"weights must sum to less than 2**62; got a sum of {total}.")
        if total == 0:
            raise ValueError(
                f"weights must have a positive sum, because the quota is at least 1 and must not "
                f"exceed the sum of the weights; got all {len(python_weights)} weights equal to 0."
            )
        self.quota = check_int(quota, "quota", minimum=1, maximum=total)
        self.weights = _read_only(np.array(python_weights, dtype=np.int64))
        self.n_players = len(python_weights)

    def values(self, masks) -> np.ndarray:
        """Return v at coalition masks, shape (k,), float64 (1.0 for a winning coalition)."""
        if self.n_players > MAX_MASK_PLAYERS:
            raise ValueError(
                f"values needs int64 coalition masks, so n_players must be <= {MAX_MASK_PLAYERS}; "
                f"got {self.n_players}. Use shapley_shubik or banzhaf for the power indices."
            )
        masks = as_masks(masks, self.n_players)
        bits = np.arange(self.n_players, dtype=np.int64)
        totals = np.zeros(masks.shape[0], dtype=np.int64)
        for start in range(0, masks.shape[0], 65536):
            batch = masks[start : start + 65536]
            totals[start : start + batch.shape[0]] = ((batch[:, None] >> bits) & 1) @ self.weights
        return (totals >= self.quota).astype(np.float64)

    def __repr__(self) -> str:
        return f"WeightedVotingGame(quota={self.quota}, n_players={self.n_players})"


def binomial_weights(n_players: int) -> np.ndarray:
    """Return w(s) = s! (n - s - 1)! / n! for s = 0, ..., n - 1, as float64.

    Each weight is 1 / (n * C(n - 1, s)) with the integer computed exactly,
    so it is correctly rounded.
    """
    n = n_players
    return np.array([1.0 / (n * math.comb(n - 1, s)) for s in range(n)], dtype=np.float64)
