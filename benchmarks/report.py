"""Print the ratio tables of the network benchmarks from a pytest-benchmark JSON file.

Usage, from benchmarks/::

    python -m pytest bench_machine.py bench_network.py bench_network_peers.py \\
        --benchmark-json=network.json
    python report.py network.json

Every benchmark is read by the ``op``, ``impl`` and ``case`` labels in its
``extra_info``, and its time is the fastest round (``stats.min``), which is
the one least disturbed by other processes. The machine limits come from
bench_machine.py in the same file:

- copy bound of a Jacobian: its bytes divided by the copy rate, where the
  copy rate counts read plus write bytes per second (``gbytes_per_s``);
- fill bound of a Jacobian: its bytes divided by the write rate of a pure
  streaming-store fill, an estimate of the highest write rate of the machine;
- GEMM bound of a gradient: its multiply-add FLOPs (``flops``) divided by
  the matmul rate of the same dtype.

Targets, as ratios in one run: per-sample Jacobian >= 3x faster than
torch.func and <= 1.5x the copy bound; MSE gradient >= 1.5x faster than
the fastest peer on the small net at B=256 and <= 1.3x the GEMM bound on
the large net at B=4096; one SGD epoch faster than scikit-learn and
PyTorch.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections import defaultdict

PEERS = ("torch", "jax", "numpy")


def load(path):
    """Return {(op, impl, case): (seconds, extra_info)} and the machine_info of a JSON file."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    table = {}
    for bench in data.get("benchmarks", []):
        info = bench.get("extra_info", {})
        if "op" not in info:
            continue
        table[(info["op"], info["impl"], info["case"])] = (bench["stats"]["min"], info)
    return table, data.get("machine_info", {})


def fmt_ms(seconds):
    return "-" if seconds is None else f"{seconds * 1e3:.3f}"


def fmt_ratio(value, target=None, higher_is_better=True):
    if value is None:
        return "-"
    text = f"{value:.2f}"
    if target is not None:
        met = value >= target if higher_is_better else value <= target
        text += " ok" if met else " MISS"
    return text


def cases_of(table, op):
    return sorted({case for (o, _, case) in table if o == op})


def time_of(table, op, impl, case):
    entry = table.get((op, impl, case))
    return None if entry is None else entry[0]


def rate(table, op, case, key, impl="numpy"):
    entry = table.get((op, impl, case))
    return None if entry is None else entry[1].get(key)


def print_table(title, header, rows, out):
    print(f"\n## {title}\n", file=out)
    print("| " + " | ".join(header) + " |", file=out)
    print("|" + "|".join("---" for _ in header) + "|", file=out)
    for row in rows:
        print("| " + " | ".join(row) + " |", file=out)


def report(path, out=sys.stdout):
    table, machine = load(path)
    cpu = machine.get("cpu", {}).get("brand_raw") or platform.processor() or "unknown CPU"
    print(f"# Network benchmarks\n\nFile: {path}\nMachine: {cpu}, {machine.get('system', '')} "
          f"{machine.get('release', '')}, Python {machine.get('python_version', '')}", file=out)

    gflops = {dt: rate(table, "matmul", dt, "gflops") for dt in ("float64", "float32")}
    copy_rate = rate(table, "copy", next(iter(cases_of(table, "copy")), ""), "gbytes_per_s")
    fill_rate = rate(table, "stream_fill", next(iter(cases_of(table, "stream_fill")), ""),
                     "gbytes_per_s", impl="mathlearn")
    print_table(
        "Machine limits (same run)",
        ["matmul float64 GFLOP/s", "matmul float32 GFLOP/s", "copy GB/s (read + write)",
         "streaming fill GB/s (write)"],
        [[f"{gflops['float64'] or 0:.1f}", f"{gflops['float32'] or 0:.1f}", f"{copy_rate or 0:.1f}",
          f"{fill_rate or 0:.1f}"]],
        out,
    )

    rows = []
    for case in cases_of(table, "jacobian"):
        ours = time_of(table, "jacobian", "mathlearn", case)
        peers = {p: time_of(table, "jacobian", p, case) for p in PEERS}
        n_bytes = table.get(("jacobian", "mathlearn", case), (None, {}))[1].get("bytes")
        bound = n_bytes / (copy_rate * 1e9) if n_bytes and copy_rate else None
        fill_bound = n_bytes / (fill_rate * 1e9) if n_bytes and fill_rate else None
        rows.append([
            case, fmt_ms(ours), *(fmt_ms(peers[p]) for p in PEERS),
            fmt_ratio(peers["torch"] / ours if ours and peers["torch"] else None, 3.0),
            fmt_ratio(ours / bound if ours and bound else None, 1.5, higher_is_better=False),
            fmt_ratio(ours / fill_bound if ours and fill_bound else None),
        ])
    print_table(
        "Per-sample Jacobian (B, m, P) with a reused out= (ms)",
        ["case", "mathlearn", "torch.func", "JAX", "NumPy", "torch / ours (>= 3)", "ours / copy bound (<= 1.5)",
         "ours / fill bound"],
        rows, out,
    )

    rows = []
    for case in cases_of(table, "value_and_gradient"):
        ours = time_of(table, "value_and_gradient", "mathlearn", case)
        peers = {p: time_of(table, "value_and_gradient", p, case) for p in PEERS}
        fastest = min((t for t in peers.values() if t), default=None)
        flops = table.get(("value_and_gradient", "mathlearn", case), (None, {}))[1].get("flops")
        dtype = case.rsplit("-", 1)[-1]
        bound = flops / (gflops[dtype] * 1e9) if flops and gflops.get(dtype) else None
        small = case.startswith("8x64x64x1-B256-")
        large = case.startswith("32x256x256x10-B4096-")
        rows.append([
            case, fmt_ms(ours), *(fmt_ms(peers[p]) for p in PEERS),
            fmt_ratio(fastest / ours if ours and fastest else None, 1.5 if small else None),
            fmt_ratio(ours / bound if ours and bound else None, 1.3 if large else None, higher_is_better=False),
        ])
    print_table(
        "MSE value and gradient, forward + backward (ms)",
        ["case", "mathlearn", "torch", "JAX", "NumPy", "fastest peer / ours", "ours / GEMM bound"],
        rows, out,
    )

    rows = []
    for case in cases_of(table, "sgd_epoch"):
        ours = time_of(table, "sgd_epoch", "mathlearn", case)
        sk = time_of(table, "sgd_epoch", "sklearn", case)
        torch = time_of(table, "sgd_epoch", "torch", case)
        rows.append([
            case, fmt_ms(ours), fmt_ms(sk), fmt_ms(torch),
            fmt_ratio(sk / ours if ours and sk else None, 1.0),
            fmt_ratio(torch / ours if ours and torch else None, 1.0),
        ])
    print_table(
        "One SGD epoch (ms)",
        ["case", "mathlearn", "scikit-learn", "PyTorch", "sklearn / ours (> 1)", "torch / ours (> 1)"],
        rows, out,
    )

    grouped = defaultdict(dict)
    for (op, impl, case), (seconds, _) in table.items():
        if op == "forward_path":
            grouped[case][impl] = seconds
    if grouped:
        rows = [[case, fmt_ms(t.get("blas")), fmt_ms(t.get("fused")),
                 fmt_ratio(t["blas"] / t["fused"] if t.get("blas") and t.get("fused") else None)]
                for case, t in sorted(grouped.items())]
        print_table("Forward kernels on a Shapley-sized batch (ms)", ["case", "BLAS", "fused", "BLAS / fused"],
                    rows, out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="file written by pytest --benchmark-json")
    args = parser.parse_args(argv)
    report(args.json)


if __name__ == "__main__":
    main()
