"""The command line: demo, fit, help and errors."""

import io
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest

from mathlearn import cli


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_help_lists_commands():
    code, out, _ = _run(["--help"])
    assert code == 0
    assert "demo" in out
    assert "fit" in out


def test_module_entry_point():
    completed = subprocess.run(
        [sys.executable, "-m", "mathlearn", "--version"], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0
    assert completed.stdout.startswith("mathlearn ")


def _write_csv(tmp_path, seed=0, n=120):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 3))
    y = 2.0 * X[:, 0] + np.sin(3 * X[:, 1]) + 0.0 * X[:, 2]
    path = tmp_path / "toy.csv"
    lines = ["u,v,w,target"] + [f"{a:.17g},{b:.17g},{c:.17g},{t:.17g}" for (a, b, c), t in zip(X, y)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fit_prints_attributions(tmp_path):
    path = _write_csv(tmp_path)
    code, out, err = _run(["fit", str(path), "--target", "target", "--epochs", "50"])
    assert code == 0, err
    assert "least squares" in out
    assert "sum of phi" in out
    ranking = out.split("Features ranked by mean |phi|")[1]
    # The unused column w must come last in the ranking.
    names = [line.split()[1] for line in ranking.strip().splitlines()[1:4]]
    assert names[-1] == "w"


def test_fit_missing_column(tmp_path):
    path = _write_csv(tmp_path)
    code, _, err = _run(["fit", str(path), "--target", "price"])
    assert code == 2
    assert "target column 'price' not found" in err
    assert "u, v, w, target" in err


def test_fit_non_numeric(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("a,b,y\n1,red,2\n3,blue,4\n")
    code, _, err = _run(["fit", str(path), "--target", "y"])
    assert code == 2
    assert "'red' is not a number" in err


def test_fit_missing_file(tmp_path):
    code, _, err = _run(["fit", str(tmp_path / "nope.csv"), "--target", "y"])
    assert code == 2
    assert "CSV file not found" in err


def test_fit_bad_hidden_option(tmp_path):
    path = _write_csv(tmp_path)
    code, _, err = _run(["fit", str(path), "--target", "target", "--hidden", "0"])
    assert code == 2
    assert "expected a positive integer; got 0" in err


def test_demo_runs_end_to_end():
    pytest.importorskip("sklearn")
    code, out, err = _run(["demo"])
    assert code == 0, err
    assert "diabetes" in out
    assert "least squares" in out
    assert "sum of phi" in out
    assert "Features ranked by mean |phi| over the 89 test rows" in out
    assert "converged = True" in out
    # The book's v* top row (Sutton and Barto, Figure 3.5).
    assert "22.0" in out and "24.4" in out and "19.4" in out and "17.5" in out


def test_fold_standardization_is_exact():
    import mathlearn as ml
    from mathlearn._report import fold_standardization

    rng = np.random.default_rng(2)
    net = ml.MLP([4, 7, 5, 2], activation="tanh", seed=3)
    x_mean, x_scale = rng.normal(size=4), rng.uniform(0.5, 2.0, size=4)
    y_mean, y_scale = 3.5, 12.0
    X = rng.normal(size=(30, 4)) * x_scale + x_mean
    folded = fold_standardization(net, x_mean, x_scale, y_mean, y_scale)
    expected = y_mean + y_scale * net.forward((X - x_mean) / x_scale)
    np.testing.assert_allclose(folded.forward(X), expected, rtol=1e-12, atol=1e-12)
    # The original network is left unchanged.
    assert not np.shares_memory(folded.params, net.params)
