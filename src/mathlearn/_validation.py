"""Input checks shared by every public entry point.

Each check raises ``TypeError`` for a value of the wrong kind and
``ValueError`` for a value of the right kind that breaks a rule. Messages
name the argument, the rule and the value received, and tell what to do.

Dtype rule for float data: float64 and float32 arrays are kept as they
are; bool, signed and unsigned integer and float16 arrays are converted
to float64; complex, object, string and other dtypes raise ``TypeError``.
"""

from __future__ import annotations

import numbers
from typing import Iterable

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def float_dtype_of(x, name: str) -> np.dtype:
    """Return the float dtype that ``x`` is computed in under the dtype rule."""
    dtype = np.asarray(x).dtype if not hasattr(x, "dtype") else np.dtype(x.dtype)
    if dtype in FLOAT_DTYPES:
        return dtype
    if dtype.kind in "biu" or dtype == np.float16:
        return np.dtype(np.float64)
    raise TypeError(
        f"{name} must be a real numeric array (float64, float32, or an integer, "
        f"bool or float16 array, which is converted to float64); got dtype "
        f"{dtype}. Convert it with numpy.asarray({name}, dtype=float)."
    )


def as_float_array(
    x,
    name: str,
    *,
    ndim: int | Iterable[int] | None = None,
    dtype=None,
    finite: bool = True,
    allow_empty: bool = True,
) -> np.ndarray:
    """Convert ``x`` to a C-contiguous float array after checking it.

    Parameters
    ----------
    x : array_like
        The input.
    name : str
        The argument name used in error messages.
    ndim : int or iterable of int, optional
        Accepted numbers of dimensions.
    dtype : numpy dtype, optional
        Target float dtype. By default the dtype rule of this module picks it.
    finite : bool
        Reject NaN and infinity when True.
    allow_empty : bool
        Reject arrays with no elements when False.
    """
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array; got a {type(x).__name__} {_short(x)}.")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise TypeError(
            f"{name} must be a numeric array of a regular shape; numpy.asarray failed with: {exc}"
        ) from None
    target = float_dtype_of(arr, name) if dtype is None else np.dtype(dtype)
    if dtype is not None:
        float_dtype_of(arr, name)  # rejects complex, object and strings
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            expected = " or ".join(str(d) for d in allowed)
            raise ValueError(
                f"{name} must have {expected} dimension(s); got an array of shape {arr.shape}."
            )
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} must not be empty; got an array of shape {arr.shape}.")
    arr = np.ascontiguousarray(arr, dtype=target)
    if finite and arr.size and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(
            f"{name} must contain only finite values; got {arr[where].item()!r} at index "
            f"{where if len(where) != 1 else where[0]}. Remove or impute NaN and inf first."
        )
    return arr


def check_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int after checking its type and range."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer; got {_short(value)} of type {type(value).__name__}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {value}.")
    return value


def check_real(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
) -> float:
    """Return ``value`` as a finite float in the given interval."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number; got {_short(value)} of type {type(value).__name__}.")
    value = float(value)
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
    bad = not np.isfinite(value)
    if low is not None:
        bad = bad or value < low or (low_open and value == low)
    if high is not None:
        bad = bad or value > high or (high_open and value == high)
    if bad:
        raise ValueError(f"{name} must be in {interval}; got {value!r}.{(' ' + hint) if hint else ''}")
    return value


def check_choice(value, name: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {_short(value)}.")
    return value


def as_generator(seed, name: str = "seed") -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from None, an int seed or a Generator.

    The global NumPy random state is never used or changed.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)):
        hint = ""
        if isinstance(seed, np.random.SeedSequence):
            hint = f" Pass numpy.random.default_rng({name}) to draw from a SeedSequence."
        # A multi-line repr, such as that of a SeedSequence, is replaced by the type alone.
        seed_text = "an object" if "\n" in repr(seed) else _short(seed)
        raise TypeError(
            f"{name} must be None, a non-negative int or a numpy.random.Generator; got {seed_text} "
            f"of type {type(seed).__name__}.{hint}"
        )
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative int; got {int(seed)}.")
    return np.random.default_rng(int(seed))


def check_memory(n_bytes: int, what: str, hint: str) -> None:
    """Raise ``ValueError`` when ``n_bytes`` exceed the memory available now.

    The limit is the memory the operating system reports as available
    (``MemAvailable`` on Linux); where that is unknown, no check is made.
    """
    available = available_memory()
    if available is not None and n_bytes > available:
        raise ValueError(
            f"{what} needs {n_bytes:,} bytes ({n_bytes / 2**30:.2f} GiB) but only "
            f"{available:,} bytes ({available / 2**30:.2f} GiB) are available. {hint}"
        )


def available_memory() -> int | None:
    """Return the bytes of memory available to new allocations, or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import os

        pages = os.sysconf("SC_AVPHYS_PAGES")
        size = os.sysconf("SC_PAGE_SIZE")
        return int(pages) * int(size)
    except (ValueError, OSError, AttributeError):
        return None
