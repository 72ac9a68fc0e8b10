"""The command line of mathlearn.

    mathlearn demo                       the main job on bundled real data
    mathlearn fit FILE.csv --target COL  network and attribution on any numeric CSV
"""

from __future__ import annotations

import argparse
import sys
import time

from . import __version__


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {value}")
    return value


def _hidden_sizes(text: str) -> tuple:
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer widths such as 32,16; got {text!r}")
    return tuple(_positive_int(part.strip()) for part in parts)


def _add_network_options(parser: argparse.ArgumentParser, *, epochs: int) -> None:
    """Add the options shared by ``demo`` and ``fit``; defaults match FitSettings."""
    group = parser.add_argument_group("network and training")
    group.add_argument("--hidden", type=_hidden_sizes, default=(16,),
                       help="hidden layer widths, comma-separated (default: 16)")
    group.add_argument("--activation", default="tanh", choices=["identity", "sigmoid", "tanh", "relu"],
                       help="activation sigma of the hidden layers (default: tanh)")
    group.add_argument("--epochs", type=_positive_int, default=epochs,
                       help=f"passes over the training set (default: {epochs})")
    group.add_argument("--lr", type=float, default=0.05, help="learning rate (default: 0.05)")
    group.add_argument("--batch-size", type=_positive_int, default=None,
                       help="mini-batch size in rows for SGD (default: full-batch gradient descent)")
    group.add_argument("--test-size", type=float, default=0.2,
                       help="fraction of rows held out for testing (default: 0.2)")
    group.add_argument("--seed", type=int, default=0, help="seed of the split, the initial weights and SGD (default: 0)")
    group.add_argument("--row", type=int, default=0, help="test row whose attributions are printed (default: 0)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mathlearn",
        description="Machine learning as the mathematics states it: networks and the chain "
        "rule, Shapley values, Bellman equations.",
    )
    parser.add_argument("--version", action="version", version=f"mathlearn {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="train and explain an MLP on the diabetes data, then solve a gridworld",
        description="Train an MLP on scikit-learn's diabetes data (80/20 split), compare it with "
        "least squares, print exact Shapley attributions, then solve the 5x5 gridworld of "
        "Sutton and Barto (Example 3.5) by value iteration.",
    )
    _add_network_options(demo, epochs=200)

    fit = commands.add_parser(
        "fit",
        help="train and explain an MLP on a numeric CSV file",
        description="Train an MLP on a numeric CSV file with a header row, compare it with least "
        "squares and print exact Shapley attributions of the features.",
    )
    fit.add_argument("csv", metavar="FILE.csv", help="numeric CSV file with a header row")
    fit.add_argument("--target", required=True, help="name of the column to predict")
    fit.add_argument("--background", type=_positive_int, default=200,
                     help="maximum training rows used as the Shapley background set (default: 200)")
    _add_network_options(fit, epochs=200)
    return parser


def _settings(args, **extra):
    from ._report import FitSettings

    return FitSettings(
        hidden=args.hidden,
        activation=args.activation,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        test_size=args.test_size,
        seed=args.seed,
        **extra,
    )


def run_demo(args, out) -> int:
    from . import datasets
    from ._report import fit_and_explain, solve_gridworld

    started = time.perf_counter()
    data = datasets.load_diabetes()
    print(f"== 1. An MLP on the diabetes data ({data.X.shape[0]} patients, {data.X.shape[1]} features) ==",
          file=out)
    print(f"target: {data.target_name}; source: {data.description}", file=out)
    fit_and_explain(data, _settings(args), out, explain_row=args.row)
    print(file=out)
    print("== 2. The 5x5 gridworld (Sutton and Barto, Example 3.5) ==", file=out)
    solve_gridworld(out)
    print(file=out)
    print(f"demo finished in {time.perf_counter() - started:.1f} s", file=out)
    return 0


def run_fit(args, out) -> int:
    from . import datasets
    from ._report import fit_and_explain

    data = datasets.load_csv(args.csv, args.target)
    print(f"== An MLP on {args.csv}: {data.X.shape[0]} rows, {data.X.shape[1]} features, "
          f"target {data.target_name!r} ==", file=out)
    fit_and_explain(data, _settings(args, max_background=args.background), out, explain_row=args.row)
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    runner = {"demo": run_demo, "fit": run_fit}[args.command]
    try:
        return runner(args, sys.stdout)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        print(f"mathlearn {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
