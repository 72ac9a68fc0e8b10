"""Row-wise computations of mathlearn on a Dask cluster.

Every function here splits the rows of X into blocks and applies one
mathlearn kernel to each block: per-sample Jacobians Jac f_{x_b}(w),
per-sample loss gradients grad_w l_b, the loss gradient of the whole data
set as a sum of block gradients, and Shapley attributions of many rows.
The same block function runs in three places:

- ``client=None`` and a NumPy input: in this process, one block after the
  other. This is the local reference path.
- a ``dask.distributed.Client`` and a NumPy input: on the client's
  workers. The model, its parameters and the background set are scattered
  to every worker once (``Client.scatter(..., broadcast=True)``), and each
  task carries only its block of rows.
- a dask array (or a dask DataFrame) as input: as a dask graph with one
  task per row chunk. The model enters the graph as a single
  ``dask.delayed`` node, so that each worker receives it once.

Both paths apply the same function to the same blocks in the same order,
so results are equal bit for bit to the local path when the blocks are
equal. Sampled Shapley values draw row r's randomness from the seed
sequence ``SeedSequence(seed).spawn(2)[1].spawn(N)[r]`` (see
:func:`row_seed`), so no row depends on which worker ran it or on the
block sizes.

A worker that dies in the middle of a job loses only the tasks it was
running, and the Dask scheduler runs them again on the other workers.
For a deterministic model those tasks return the same blocks wherever
they run, so the result is complete and unchanged. Row blocks travel
inside their tasks, so the scheduler can always rerun them, but the
scattered model is lost if every worker with a copy dies at once.

Dask is an optional dependency (``pip install "mathlearn[distributed]"``).
It is imported on first use, and only the cluster paths need it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import losses
from ._validation import _short, check_choice, check_int, check_memory

__all__ = [
    "jacobian",
    "per_sample_gradients",
    "value_and_gradient",
    "loss_gradient",
    "explain",
    "row_seed",
]

# Upper bound of one block's result in bytes when chunk_rows is not given.
# It depends only on the shapes, never on the cluster, so that the local
# and the distributed runs cut the rows into the same blocks.
_BLOCK_BYTES = 64 * 2**20

# Blocks of an attribution job when chunk_rows is not given: enough tasks
# to balance a few dozen workers, few enough that the scheduler overhead
# (an estimate: about a millisecond per task) stays small.
_EXPLAIN_BLOCKS = 64


# ----------------------------------------------------------------------
# Public functions


def jacobian(net, X, client=None, chunk_rows=None):
    """Compute the per-sample Jacobians Jac f_{x_b}(w) block by block.

    Parameters
    ----------
    net : mathlearn.MLP
    X : array_like, dask array or dask DataFrame, shape (B, n_0)
    client : dask.distributed.Client, optional
        Runs the blocks of a NumPy ``X`` on this cluster. Without it, a
        NumPy ``X`` is computed in this process.
    chunk_rows : int or sequence of int, optional
        Rows per block, as one size or as the list of block sizes (which
        must sum to B). By default blocks hold at most 64 MiB of result.
        A dask input keeps its own row chunks unless this is given.

    Returns
    -------
    numpy.ndarray or dask.array.Array, shape (B, n_L, P), network dtype
        A NumPy array for a NumPy input, a lazy dask array with the row
        chunks of X for a dask input. ``J[b, k, p]`` is
        d f_k(x_b) / d w_p, as :meth:`mathlearn.MLP.jacobian` returns it.
    """
    m, P = net.n_outputs, net.n_params
    row_bytes = m * P * net.dtype.itemsize
    if _is_dask(X):
        X = _dask_rows(X, "X", net.n_inputs, chunk_rows)
        return _dask_map_rows(_jacobian_block, net, [X], (m, P), net.dtype)

    X = net._check_X(X)
    B = X.shape[0]
    bounds = _block_bounds(B, chunk_rows, _rows_per_block(row_bytes))
    check_memory(
        B * row_bytes,
        f"jacobian of {B} samples with shape ({B}, {m}, {P}) in {net.dtype}",
        "Pass X as a dask array to get a lazy result, or call this on slices of X.",
    )
    out = np.empty((B, m, P), dtype=net.dtype)
    _run_into(out, _jacobian_block, net, [X], bounds, client)
    return out


def per_sample_gradients(net, X, y, loss="mse", client=None, chunk_rows=None):
    """Compute each sample's own loss gradient grad_w l_b block by block.

    l_b is the loss of the batch (x_b, y_b) of one sample, so that the
    gradient of the mean loss over a batch is (1 / B) sum_b grad_w l_b.
    The blocks use ``net.per_sample_gradients`` where the network has it,
    and otherwise contract the Jacobian with the output gradient:
    grad_w l_b = (d l_b / d f(x_b)) . Jac f_{x_b}(w).

    Parameters
    ----------
    net : mathlearn.MLP
    X : array_like, dask array or dask DataFrame, shape (B, n_0)
    y : array_like or dask array
        Targets as for :meth:`mathlearn.MLP.value_and_gradient`, with rows
        aligned to X.
    loss : {"mse", "cross_entropy"}
    client, chunk_rows
        As for :func:`jacobian`.

    Returns
    -------
    numpy.ndarray or dask.array.Array, shape (B, P), network dtype
    """
    losses.get(loss)
    P = net.n_params
    # The Jacobian fallback holds a (rows, m, P) block in memory.
    row_bytes = net.n_outputs * P * net.dtype.itemsize
    if _is_dask(X):
        X = _dask_rows(X, "X", net.n_inputs, chunk_rows)
        y = _dask_aligned(y, X, "y")
        return _dask_map_rows(_per_sample_gradient_block, net, [X, y], (P,), net.dtype, loss)

    X = net._check_X(X)
    B = X.shape[0]
    y = _check_target_rows(y, B)
    bounds = _block_bounds(B, chunk_rows, _rows_per_block(row_bytes))
    check_memory(
        B * P * net.dtype.itemsize,
        f"per_sample_gradients of {B} samples with shape ({B}, {P}) in {net.dtype}",
        "Pass X and y as dask arrays to get a lazy result, or call this on slices of X.",
    )
    out = np.empty((B, P), dtype=net.dtype)
    _run_into(out, _per_sample_gradient_block, net, [X, y], bounds, client, loss)
    return out


def value_and_gradient(net, X, y, loss="mse", client=None, chunk_rows=None):
    """Compute the loss over all rows and its gradient as a sum of block gradients.

    With blocks X_1, ..., X_K of B_1, ..., B_K rows, the mean loss over all
    B rows is L = sum_k (B_k / B) L_k, where L_k is the mean loss of block
    k, so grad_w L = sum_k (B_k / B) grad_w L_k. Each block's term is
    computed where its rows are, and only the (P,) vectors travel. The sum
    runs in block order, so the result depends on the block sizes (through
    rounding) but not on the workers.

    Parameters
    ----------
    net : mathlearn.MLP
    X : array_like, dask array or dask DataFrame, shape (B, n_0), B >= 1
    y : array_like or dask array
        Targets as for :meth:`mathlearn.MLP.value_and_gradient`.
    loss : {"mse", "cross_entropy"}
        Scaled as in :mod:`mathlearn.losses` (a mean over the batch).
    client : dask.distributed.Client, optional
        Runs the blocks of a NumPy ``X`` on this cluster. A dask input is
        computed with this client if given, else with dask's current
        scheduler.
    chunk_rows : int or sequence of int, optional
        As for :func:`jacobian`; by default the hidden activations of a
        block take at most 64 MiB.

    Returns
    -------
    value : float
    gradient : numpy.ndarray, shape (P,), network dtype
    """
    losses.get(loss)
    row_bytes = max(1, sum(net.layer_sizes)) * net.dtype.itemsize
    if _is_dask(X):
        X = _dask_rows(X, "X", net.n_inputs, chunk_rows)
        y = _dask_aligned(y, X, "y")
        B = X.shape[0]
        _check_nonempty(B)
        parts = _dask_compute_blocks(_loss_block, net, [X, y], client, loss, B)
    else:
        X = net._check_X(X)
        B = X.shape[0]
        _check_nonempty(B)
        y = _check_target_rows(y, B)
        bounds = _block_bounds(B, chunk_rows, _rows_per_block(row_bytes))
        parts = _run_blocks(_loss_block, net, [X, y], bounds, client, loss, B)

    value = 0.0
    gradient = np.zeros(net.n_params, dtype=net.dtype)
    for part_value, part_gradient in parts:
        value += part_value
        gradient += part_gradient
    return value, gradient


def loss_gradient(net, X, y, loss="mse", client=None, chunk_rows=None):
    """Return the gradient of the loss over all rows, shape (P,); see :func:`value_and_gradient`."""
    return value_and_gradient(net, X, y, loss=loss, client=client, chunk_rows=chunk_rows)[1]


def explain(
    f,
    X,
    background,
    method="exact",
    budget=None,
    max_background=None,
    seed=None,
    batch_size=None,
    client=None,
    chunk_rows=None,
):
    """Explain a model's outputs at many rows, block by block.

    Each row gets the Shapley values of the game v_x(S) = mean over
    background rows b of f(x_S, b_{N minus S}), as
    :func:`mathlearn.shapley.explain` computes them.

    Parameters
    ----------
    f : callable
        Maps an array of shape (B, n) to (B,), (B, 1) or (B, k). On a
        cluster it must be picklable (a bound method of a
        :class:`mathlearn.MLP`, such as ``net.forward``, is).
    X : array_like, dask array or dask DataFrame, shape (N, n)
    background : array_like, shape (K, n), K >= 1
    method : {"exact", "antithetic", "permutation", "stratified", "kernel"}
    budget : int, optional
        Game evaluations per row for the sampling methods (required there).
    max_background : int, optional
        Use a random subset of this many background rows when K is larger.
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Root of every random draw. The background subset uses
        ``SeedSequence(seed).spawn(2)[0]`` and row r uses :func:`row_seed`.
        A Generator is used once, to draw the entropy of the root.
    batch_size : int, optional
        Passed to :class:`mathlearn.shapley.ModelGame`.
    client : dask.distributed.Client, optional
        Runs the blocks on this cluster. A dask input is computed with it
        if given, else with dask's current scheduler.
    chunk_rows : int or sequence of int, optional
        Rows per task. By default N is cut into at most 64 blocks. Values
        do not depend on the blocks, only the task overhead does.

    Returns
    -------
    mathlearn.shapley.Explanation
        With NumPy arrays, also for a dask input.
    """
    from .shapley.explain import EXPLAIN_METHODS, Explanation
    from .shapley.games import as_background, as_feature_array

    check_choice(method, "method", EXPLAIN_METHODS)
    if method != "exact":
        if budget is None:
            raise ValueError(f"budget is required for method={method!r}; pass the game evaluations per row.")
        budget = check_int(budget, "budget", minimum=1)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", minimum=1)
    root = _seed_sequence(seed)
    background = as_background(background)
    n = background.shape[1]
    if max_background is not None:
        max_background = check_int(max_background, "max_background", minimum=1)
        if background.shape[0] > max_background:
            rng = np.random.default_rng(_child_seed(root, (0,)))
            keep = np.sort(rng.choice(background.shape[0], size=max_background, replace=False))
            background = background[keep]

    options = (method, budget, batch_size, root.entropy, root.spawn_key, root.pool_size)
    if _is_dask(X):
        X = _dask_rows(X, "X", n, chunk_rows)
        N = X.shape[0]
        parts = _dask_compute_blocks(_explain_block, (f, background), [X], client, *options, row_offsets=True)
    else:
        X = as_feature_array(X, "X", ndim=2)
        if X.shape[1] != n:
            raise ValueError(f"X must have {n} columns, one per background column; got shape {X.shape}.")
        N = X.shape[0]
        bounds = _block_bounds(N, chunk_rows, max(1, math.ceil(N / _EXPLAIN_BLOCKS)))
        parts = _run_blocks(_explain_block, (f, background), [X], bounds, client, *options, row_offsets=True)

    if N == 0:
        from .shapley.explain import explain as explain_rows

        # The output width of f comes from one call, which explain makes for empty X.
        return explain_rows(f, np.zeros((0, n)), background, batch_size=batch_size)
    values = np.concatenate([part.values for part in parts])
    std_errors = np.concatenate([part.std_errors for part in parts])
    base_values = np.concatenate([part.base_values for part in parts])
    n_evaluations = sum(part.n_evaluations for part in parts)
    return Explanation(values, std_errors, base_values, n_evaluations)


def row_seed(seed, row: int) -> np.random.SeedSequence:
    """Return the seed sequence that sampled attributions use for row ``row``.

    It is child ``row`` of child 1 of ``SeedSequence(seed)``, the same as
    ``SeedSequence(seed).spawn(2)[1].spawn(row + 1)[row]``, but built in
    constant time from the root's entropy and a spawn key, so that each
    task derives the seeds of its own rows.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
        The ``seed`` given to :func:`explain`.
    row : int
        Row index in X, counted from 0 over the whole input.
    """
    row = check_int(row, "row", minimum=0)
    return _child_seed(_seed_sequence(seed), (1, row))


def _child_seed(root: np.random.SeedSequence, key: tuple) -> np.random.SeedSequence:
    """Return the descendant of ``root`` at ``key``, as repeated ``spawn`` calls would."""
    return np.random.SeedSequence(root.entropy, spawn_key=root.spawn_key + key, pool_size=root.pool_size)


# ----------------------------------------------------------------------
# Block functions. They run on the workers, so they live at module level
# where pickle finds them by name.


def _jacobian_block(net, X):
    return net.jacobian(X)


def _per_sample_gradient_block(net, X, y, loss):
    if hasattr(net, "per_sample_gradients"):
        return net.per_sample_gradients(X, y, loss=loss)
    spec = losses.get(loss)
    X = net._check_X(X)
    target = losses.check_target(y, loss, X.shape[0], net.n_outputs, net.dtype)
    Y = net.forward(X)
    # spec.gradient carries the factor 1 / B of the batch mean. Multiplying by
    # B leaves d l_b / d f(x_b) of row b's own one-sample loss in row b.
    G = spec.gradient(Y, target) * X.shape[0]
    J = net.jacobian(X)
    return np.einsum("bk,bkp->bp", G.astype(net.dtype, copy=False), J)


def _loss_block(net, X, y, loss, n_total):
    value, gradient = net.value_and_gradient(X, y, loss=loss)
    weight = X.shape[0] / n_total
    return value * weight, gradient * net.dtype.type(weight)


def _explain_block(shared, X, offset, method, budget, batch_size, entropy, spawn_key, pool_size):
    from .shapley.explain import Explanation
    from .shapley.explain import explain as explain_rows

    f, background = shared
    if method == "exact":
        return explain_rows(f, X, background, method="exact", batch_size=batch_size)
    root = np.random.SeedSequence(entropy, spawn_key=spawn_key, pool_size=pool_size)
    rows = [
        explain_rows(
            f, X[r : r + 1], background, method=method, budget=budget, batch_size=batch_size,
            seed=np.random.default_rng(_child_seed(root, (1, offset + r))),
        )
        for r in range(X.shape[0])
    ]
    return Explanation(
        np.concatenate([e.values for e in rows]),
        np.concatenate([e.std_errors for e in rows]),
        np.concatenate([e.base_values for e in rows]),
        sum(e.n_evaluations for e in rows),
    )


# ----------------------------------------------------------------------
# Running blocks locally or on a client


def _run_blocks(function, shared, arrays, bounds, client, *args, row_offsets=False):
    """Return ``[function(shared, *blocks, [start,] *args) for each block]`` in block order."""
    if client is None:
        results = []
        for start, stop in bounds:
            blocks = [a[start:stop] for a in arrays]
            offset = (start,) if row_offsets else ()
            results.append(function(shared, *blocks, *offset, *args))
        return results
    futures = _submit_blocks(function, shared, arrays, bounds, client, args, row_offsets)
    try:
        return client.gather(futures)
    finally:
        for future in futures:
            future.release()


def _run_into(out, function, shared, arrays, bounds, client, *args):
    """Write ``function(shared, *blocks, *args)`` into ``out[start:stop]`` for each block."""
    if client is None:
        for start, stop in bounds:
            out[start:stop] = function(shared, *(a[start:stop] for a in arrays), *args)
        return
    from distributed import as_completed

    futures = _submit_blocks(function, shared, arrays, bounds, client, args, False)
    where = {future.key: bound for future, bound in zip(futures, bounds)}
    try:
        # Copy each block as it arrives and release it on the cluster, so
        # that workers do not keep every block until the last one is done.
        for future, block in as_completed(futures, with_results=True):
            start, stop = where[future.key]
            out[start:stop] = block
            future.release()
    finally:
        for future in futures:
            future.release()


def _submit_blocks(function, shared, arrays, bounds, client, args, row_offsets):
    _check_client(client)
    shared_future = client.scatter([_Shared(shared)], broadcast=True, hash=False)[0]
    _wait_until_everywhere(client, shared_future)
    futures = []
    for start, stop in bounds:
        # Blocks travel inside their task, not by scatter, because the
        # scheduler keeps a task's arguments and can rerun it when its worker
        # dies. The only copy of a scattered block dies with its worker.
        blocks = [a[start:stop] for a in arrays]
        offset = (start,) if row_offsets else ()
        futures.append(
            client.submit(_call_shared, function, shared_future, *blocks, *offset, *args, pure=False)
        )
    return futures


def _wait_until_everywhere(client, future, timeout: float = 30.0) -> None:
    """Wait until every worker holds ``future`` before any task needs it.

    A task scheduled on a worker that the scheduler does not yet list as a
    holder makes that worker fetch its own copy, so the object would reach
    it twice (once by the fetch, once by the broadcast).
    """
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = set(client.scheduler_info(n_workers=-1)["workers"])
        holders = set(client.who_has([future]).get(future.key, ()))
        if workers <= holders:
            return
        client.replicate([future])
    # NOTE: past the timeout the tasks still run; a worker without a copy
    # fetches one, which costs a transfer but no correctness.


class _Shared:
    """The objects every block needs, sent to the workers as one item.

    ``Client.scatter`` splits lists, tuples and dicts into separate items,
    so a tuple such as (f, background) travels inside this wrapper.
    """

    def __init__(self, value):
        self.value = value


def _call_shared(function, shared, *args):
    return function(shared.value, *args)


# ----------------------------------------------------------------------
# Dask collections


def _is_dask(x) -> bool:
    return hasattr(x, "__dask_graph__") and callable(getattr(x, "__dask_graph__"))


def _require_dask():
    try:
        import dask
        import dask.array
    except ImportError:
        raise ImportError(
            "mathlearn.distributed needs dask for dask inputs and clusters; it is not installed. "
            "Install it with: pip install 'mathlearn[distributed]'."
        ) from None
    return dask


def _dask_rows(X, name, n_columns, chunk_rows):
    """Return a 2-D dask array of X with one chunk across the columns."""
    _require_dask()
    if hasattr(X, "to_dask_array"):
        X = X.to_dask_array(lengths=True)
    if not hasattr(X, "chunks") or not hasattr(X, "ndim"):
        raise TypeError(
            f"{name} must be a NumPy array, a dask array or a dask DataFrame; got "
            f"{type(X).__name__}. Convert a dask Bag or Delayed to a dask array first."
        )
    if X.ndim != 2:
        raise ValueError(f"{name} must have 2 dimensions; got a dask array of shape {X.shape}.")
    if any(math.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            f"{name} must have known chunk sizes along the rows; got chunks {X.chunks[0]}. "
            f"Call {name}.compute_chunk_sizes() first."
        )
    if X.shape[1] != n_columns:
        raise ValueError(f"{name} must have {n_columns} columns; got a dask array of shape {X.shape}.")
    rows = X.chunks[0] if chunk_rows is None else _block_sizes(X.shape[0], chunk_rows, None)
    return X.rechunk((rows, X.shape[1]))


def _dask_aligned(y, X, name):
    """Return y as a dask array whose row chunks match those of X."""
    import dask.array as da

    if hasattr(y, "to_dask_array"):
        y = y.to_dask_array(lengths=True)
    if not _is_dask(y):
        y = np.asarray(y)
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"{name} must have {X.shape[0]} rows, one per row of X, and 1 or 2 dimensions; got "
            f"shape {y.shape}."
        )
    chunks = (X.chunks[0],) + tuple((size,) for size in y.shape[1:])
    if _is_dask(y):
        return y.rechunk(chunks)
    return da.from_array(y, chunks=chunks)


def _dask_blocks(arrays):
    """Return, per row chunk, the delayed blocks of every array and the first row."""
    columns = [a.to_delayed().reshape(len(a.chunks[0]), -1)[:, 0] for a in arrays]
    starts = np.concatenate([[0], np.cumsum(arrays[0].chunks[0])[:-1]]).astype(int)
    return list(zip(*columns)), [int(s) for s in starts]


def _dask_map_rows(function, shared, arrays, tail_shape, dtype, *args):
    """Return the lazy dask array of ``function`` over the row chunks of ``arrays``."""
    dask = _require_dask()
    import dask.array as da

    shared_node = dask.delayed(_Shared(shared), pure=False, traverse=False)
    call = dask.delayed(_call_shared, pure=True)
    blocks, _ = _dask_blocks(arrays)
    pieces = [
        da.from_delayed(call(function, shared_node, *parts, *args), shape=(rows,) + tail_shape, dtype=dtype)
        for parts, rows in zip(blocks, arrays[0].chunks[0])
    ]
    if not pieces:
        return da.zeros((0,) + tail_shape, dtype=dtype)
    return da.concatenate(pieces, axis=0)


def _dask_compute_blocks(function, shared, arrays, client, *args, row_offsets=False):
    """Compute ``function`` on every row chunk and return the results in chunk order."""
    dask = _require_dask()
    shared_node = dask.delayed(_Shared(shared), pure=False, traverse=False)
    call = dask.delayed(_call_shared, pure=True)
    blocks, starts = _dask_blocks(arrays)
    tasks = [
        call(function, shared_node, *parts, *((start,) if row_offsets else ()), *args)
        for parts, start in zip(blocks, starts)
    ]
    if client is not None:
        _check_client(client)
        return client.gather(client.compute(tasks))
    return list(dask.compute(*tasks))


def _check_client(client):
    try:
        from distributed import Client
    except ImportError:
        raise ImportError(
            "client needs dask.distributed, which is not installed. Install it with: pip install "
            "'mathlearn[distributed]'."
        ) from None
    if not isinstance(client, Client):
        raise TypeError(
            f"client must be a dask.distributed.Client or None; got {_short(client)} of type "
            f"{type(client).__name__}. Create one with Client('tcp://host:8786') or "
            f"Client(LocalCluster())."
        )


# ----------------------------------------------------------------------
# Blocks and seeds


def _rows_per_block(row_bytes: int) -> int:
    return max(1, _BLOCK_BYTES // max(1, row_bytes))


def _block_sizes(n_rows: int, chunk_rows, default: int | None) -> tuple[int, ...]:
    """Return the block sizes from an int, a sequence of sizes, or the default."""
    if chunk_rows is None:
        chunk_rows = default
    if isinstance(chunk_rows, (numbers.Integral, np.integer)) and not isinstance(chunk_rows, bool):
        size = check_int(chunk_rows, "chunk_rows", minimum=1)
        full, rest = divmod(n_rows, size)
        return (size,) * full + ((rest,) if rest else ())
    try:
        sizes = tuple(check_int(s, "chunk_rows", minimum=1) for s in chunk_rows)
    except TypeError:
        raise TypeError(
            f"chunk_rows must be None, a positive int or a sequence of positive ints; got "
            f"{_short(chunk_rows)} of type {type(chunk_rows).__name__}."
        ) from None
    if sum(sizes) != n_rows:
        raise ValueError(
            f"chunk_rows must sum to the number of rows, {n_rows}; got sizes summing to "
            f"{sum(sizes)}. Pass one int, or block sizes such as X.chunks[0] of a dask array."
        )
    return sizes


def _block_bounds(n_rows: int, chunk_rows, default: int) -> list[tuple[int, int]]:
    sizes = _block_sizes(n_rows, chunk_rows, default)
    stops = np.cumsum(sizes, dtype=np.int64)
    return [(int(stop - size), int(stop)) for size, stop in zip(sizes, stops)]


def _check_target_rows(y, n_rows):
    if isinstance(y, (str, bytes)):
        raise TypeError(f"y must be an array of targets; got a {type(y).__name__} {_short(y)}.")
    y = np.asarray(y)
    if y.ndim not in (1, 2) or y.shape[0] != n_rows:
        raise ValueError(
            f"y must have {n_rows} rows, one per row of X, and 1 or 2 dimensions; got shape {y.shape}."
        )
    return y


def _check_nonempty(n_rows):
    if n_rows == 0:
        raise ValueError(
            "X must contain at least one sample for a loss, because the loss is a mean over the "
            "rows; got 0 rows."
        )


def _seed_sequence(seed) -> np.random.SeedSequence:
    """Return the root SeedSequence of a job from None, an int, a SeedSequence or a Generator."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence([int(v) for v in seed.integers(0, 2**63, size=4)])
    if seed is None:
        return np.random.SeedSequence()
    seed = check_int(seed, "seed", minimum=0)
    return np.random.SeedSequence(seed)
