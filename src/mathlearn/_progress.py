"""Progress bars for long work, drawn by tqdm when it is installed.

Every solver that may run for more than about a second wraps its outer
loop in :func:`progress`. The bar is shown only when all of these hold:

* the caller passes ``show=True``, or passes ``show=None`` (the default)
  and the output stream is a terminal;
* the environment variable ``MATHLEARN_PROGRESS`` is not ``"0"``, ``"off"``
  or ``"false"`` (it turns every bar off, e.g. in scripts and CI);
* tqdm can be imported.

Otherwise :func:`progress` returns a silent stand-in with the same
methods, so callers never branch on it. tqdm's ``delay`` argument keeps the
bar hidden until the work has run for ``delay`` seconds (1 s by default),
so fast calls print nothing.
"""

from __future__ import annotations

import os
import sys

__all__ = ["progress", "progress_enabled"]

_OFF_VALUES = ("0", "off", "false", "no")


def progress_enabled(show=None, file=None) -> bool:
    """Decide whether a bar is drawn; see the module docstring for the rule.

    Raises
    ------
    TypeError
        If ``show`` is not None, True or False.
    """
    if show is not None and not isinstance(show, bool):
        raise TypeError(
            f"progress must be None (bar on a terminal only), True or False; got {show!r} "
            f"of type {type(show).__name__}."
        )
    if show is False:
        return False
    if os.environ.get("MATHLEARN_PROGRESS", "").strip().lower() in _OFF_VALUES:
        return False
    if show is None:
        stream = sys.stderr if file is None else file
        isatty = getattr(stream, "isatty", None)
        try:
            if isatty is None or not isatty():
                return False
        except ValueError:  # a closed stream
            return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


class _SilentBar:
    """Stand-in for a tqdm bar that draws nothing."""

    def __init__(self, iterable=None, total=None):
        self.iterable = iterable
        self.total = total
        self.n = 0

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.n += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def update(self, n=1):
        self.n += n

    def set_postfix_str(self, text="", refresh=True):
        pass

    def set_description_str(self, text="", refresh=True):
        pass

    def close(self):
        pass


def progress(iterable=None, *, total=None, desc=None, unit="it", show=None, delay=1.0, file=None):
    """Wrap ``iterable`` (or count to ``total``) with a progress bar when enabled.

    Parameters
    ----------
    iterable : iterable, optional
        Items to yield; None for a bar advanced by ``update(n)``.
    total : int, optional
        Expected number of items or steps.
    desc : str, optional
        Label printed before the bar.
    unit : str
        Name of one step, e.g. ``"epoch"`` or ``"sweep"``.
    show : None, True or False
        None draws the bar only on a terminal, True always (when tqdm is
        installed), False never.
    delay : float
        Seconds of work before the bar first appears.
    file : text stream, optional
        Where the bar is drawn; standard error by default.

    Returns
    -------
    tqdm.tqdm or a silent stand-in
        Both support iteration, ``update``, ``set_postfix_str``, ``close``
        and use as a context manager.
    """
    if not progress_enabled(show, file):
        return _SilentBar(iterable, total)
    from tqdm import tqdm

    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        delay=delay,
        file=sys.stderr if file is None else file,
        leave=False,
        dynamic_ncols=True,
    )
