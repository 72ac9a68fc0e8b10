"""Benchmark collection and shared helpers.

Run from this directory with ``python -m pytest`` (all ``bench_*.py``
files) or name a file. pytest-benchmark prints the timings; each benchmark
also stores the derived rate (FLOP/s, bytes/s) in ``extra_info``, which
``--benchmark-json`` writes out.
"""

from __future__ import annotations

import pytest


def pytest_collect_file(file_path, parent):
    # pytest collects test_*.py by default; the benchmark modules are named
    # bench_*.py so that the unit-test run never picks them up.
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        if not parent.session.isinitpath(file_path):
            return pytest.Module.from_parent(parent, path=file_path)
    return None


def pedantic_or_plain(benchmark, func, *, big: bool, rounds: int = 3):
    """Time ``func`` with few rounds when ``big``, with pytest-benchmark defaults otherwise."""
    if big:
        return benchmark.pedantic(func, rounds=rounds, iterations=1, warmup_rounds=1)
    return benchmark(func)


def record_rate(benchmark, key: str, amount: float) -> None:
    """Store amount / (fastest round in seconds) as ``extra_info[key]``; no-op when timing is disabled."""
    if benchmark.stats is None:
        return
    benchmark.extra_info[key] = amount / benchmark.stats.stats.min
