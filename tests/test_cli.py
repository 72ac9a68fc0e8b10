"""The command line: demo, fit, help and errors."""

import importlib.util
import io
import re
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest

from mathlearn import cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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
    assert "approx" in out


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


@pytest.mark.parametrize("column, label", [("a", "feature column 'a'"), ("y", "target column 'y'")])
def test_fit_rejects_overflowing_column(tmp_path, column, label):
    rng = np.random.default_rng(0)
    table = rng.normal(size=(40, 3))
    index = ["a", "b", "y"].index(column)
    # The squared deviation of 1e308 from the mean overflows float64.
    table[0, index] = 1e308
    path = tmp_path / "huge.csv"
    path.write_text("a,b,y\n" + "\n".join(",".join(f"{v:.17g}" for v in row) for row in table) + "\n")
    code, _, err = _run(["fit", str(path), "--target", "y", "--epochs", "2", "--no-progress"])
    assert code == 2
    assert f"{label} cannot be standardized: its standard deviation overflows float64" in err
    assert "largest |value| 1e+308" in err


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


def test_demo_runs_end_to_end(tmp_path):
    pytest.importorskip("sklearn")
    argv = ["demo", "--no-progress"]
    plots_dir = tmp_path / "figures"
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    if has_matplotlib:
        argv += ["--plots", str(plots_dir)]
    code, out, err = _run(argv)
    assert code == 0, err
    if has_matplotlib:
        names = ["loss.png", "shapley_bar.png", "shapley_waterfall.png", "shapley_summary.png", "gridworld.png"]
        for name in names:
            assert (plots_dir / name).read_bytes()[:8] == PNG_SIGNATURE, name
            assert f"wrote {plots_dir / name}" in out
    assert "diabetes" in out
    assert "least squares" in out
    assert "sum of phi" in out
    assert "Features ranked by mean |phi| over the 89 test rows" in out
    assert "converged = True" in out
    assert re.search(r"\(\d+\.\d{3} s, after \d+\.\d{2} s to compile or load the Numba kernels\)", out)
    assert "least squares is a strong baseline" in out
    # The book's v* top row (Sutton and Barto, Figure 3.5).
    for value in ("22.0", "24.4", "19.4", "17.5"):
        assert value in out


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


def test_fit_writes_plots(tmp_path):
    pytest.importorskip("matplotlib")
    path = _write_csv(tmp_path)
    plots_dir = tmp_path / "new" / "figures"
    code, out, err = _run(["fit", str(path), "--target", "target", "--epochs", "30", "--plots", str(plots_dir)])
    assert code == 0, err
    written = sorted(p.name for p in plots_dir.iterdir())
    assert written == ["loss.png", "shapley_bar.png", "shapley_summary.png", "shapley_waterfall.png"]
    for name in written:
        assert (plots_dir / name).read_bytes()[:8] == PNG_SIGNATURE


def test_fit_report_records_test_loss(tmp_path):
    from mathlearn import datasets
    from mathlearn._report import FitSettings, fit_and_explain

    path = _write_csv(tmp_path)
    data = datasets.load_csv(str(path), "target")
    report = fit_and_explain(data, FitSettings(epochs=25, progress=False), io.StringIO())
    assert report.train_loss.shape == (26,)
    assert report.test_loss.shape == (26,)
    assert np.isfinite(report.test_loss).all()
    # Full-batch gradient descent with a small step lowers the training loss.
    assert report.train_loss[-1] < report.train_loss[0]
    assert report.all_phi.shape == (24, 3)


def test_approx_prints_table():
    code, out, err = _run(["approx", "--theorem", "hornik", "--widths", "1,4,16", "--points", "301"])
    assert code == 0, err
    assert "Hornik" in out
    assert "grid of 301 = 301 points" in out
    header = next(line for line in out.splitlines() if line.split()[:3] == ["width", "depth", "P"])
    rows = out.splitlines()[out.splitlines().index(header) + 1:][:3]
    assert [int(line.split()[0]) for line in rows] == [1, 4, 16]
    assert [int(line.split()[2]) for line in rows] == [4, 13, 49]


def test_approx_all_theorems_with_plots(tmp_path):
    pytest.importorskip("matplotlib")
    plots_dir = tmp_path / "approx"
    code, out, err = _run([
        "approx", "--target", "abs", "--widths", "2,8", "--depths", "1,2", "--fit", "lstsq",
        "--points", "101", "--plots", str(plots_dir), "--no-progress",
    ])
    assert code == 0, err
    for theorem in ("Cybenko", "Hornik", "Kidger-Lyons", "Leshno-Lin-Pinkus-Schocken"):
        assert theorem in out
    # The best uniform approximation of |x| on [-1, 1] of degree 3 is
    # x^2 + 1/8 (|x| is even), with error 1/8.
    assert "E_3(g) = 0.125" in out
    names = sorted(p.name for p in plots_dir.iterdir())
    assert "approx_width.png" in names
    assert "approx_depth.png" in names
    assert "approx_params.png" in names
    for name in names:
        assert (plots_dir / name).read_bytes()[:8] == PNG_SIGNATURE


def test_approx_rejects_activation_against_theorem():
    code, _, err = _run(["approx", "--theorem", "cybenko", "--activation", "relu"])
    assert code == 2
    assert "sigmoidal" in err


def test_approx_rejects_bad_widths():
    code, _, err = _run(["approx", "--widths", "4,x"])
    assert code == 2
    assert "expected a positive integer; got 'x'" in err


def test_plots_directory_that_cannot_be_made(tmp_path):
    pytest.importorskip("matplotlib")
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = _run(["approx", "--theorem", "relu", "--plots", str(blocker / "sub")])
    assert code == 2
    assert "cannot create directory" in err


def test_plots_without_matplotlib_leave_no_directory(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    plots_dir = tmp_path / "figures"
    code, _, err = _run(["approx", "--theorem", "relu", "--plots", str(plots_dir)])
    assert code == 2
    assert "pip install 'mathlearn[examples]'" in err
    assert not plots_dir.exists()


def test_fit_divergence_names_epoch(tmp_path):
    path = _write_csv(tmp_path)
    argv = ["fit", str(path), "--target", "target", "--activation", "relu", "--lr", "100", "--epochs", "20"]
    code, _, err = _run(argv)
    assert code == 2
    assert "training diverged" in err
    match = re.search(r"in epoch (\d+) of 20", err)
    assert match is not None, err
    # The epoch is counted over the whole run, not per call of ml.train.
    assert int(match.group(1)) > 1
    assert f"after epoch {int(match.group(1)) - 1}" in err
    assert "Lower --lr" in err


def test_approx_2d_target_plots(tmp_path):
    pytest.importorskip("matplotlib")
    plots_dir = tmp_path / "ripple"
    code, out, err = _run([
        "approx", "--theorem", "hornik", "--target", "ripple", "--widths", "4,16", "--points", "41",
        "--n-train", "400", "--plots", str(plots_dir),
    ])
    assert code == 0, err
    assert "grid of 41^2 = 1,681 points" in out
    assert sorted(p.name for p in plots_dir.iterdir()) == [
        "approx_fit_hornik.png", "approx_params.png", "approx_width.png",
    ]


@pytest.mark.parametrize(
    "options, message",
    [
        (["--test-size", "0"], "the test set is empty"),
        (["--row", "500"], r"the explained test row (--row) must be between 0 and 23"),
        (["--hidden", "16,,8"], "with no empty entries; got '16,,8'"),
        (["--seed", "-1"], "argument --seed: expected a non-negative integer; got -1"),
    ],
)
def test_fit_rejects_bad_options_before_training(tmp_path, options, message):
    path = _write_csv(tmp_path)
    code, out, err = _run(["fit", str(path), "--target", "target", *options])
    assert code == 2
    assert message in err
    # Nothing was trained: the RMSE table is never printed.
    assert "least squares" not in out


def test_fit_rejects_too_many_features_for_exact(tmp_path):
    rng = np.random.default_rng(0)
    n_features = 30
    X = rng.normal(size=(40, n_features))
    header = ",".join([f"x{i}" for i in range(n_features)] + ["y"])
    lines = [header] + [",".join(f"{v:.6g}" for v in [*row, row.sum()]) for row in X]
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(lines) + "\n")
    code, out, err = _run(["fit", str(path), "--target", "y"])
    assert code == 2
    assert "exact attributions of 30 features" in err
    assert "least squares" not in out


def test_demo_output_closed_early():
    # `mathlearn demo | head -3` closes the pipe early; the command must end
    # without a traceback.
    pytest.importorskip("sklearn")
    completed = subprocess.run(
        f"{sys.executable} -m mathlearn demo --no-progress | head -3",
        shell=True, capture_output=True, text=True, check=False,
    )
    assert completed.stdout.count("\n") == 3
    assert "Traceback" not in completed.stderr
