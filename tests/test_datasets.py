"""CSV and bundled-data loaders."""

import numpy as np
import pytest

from mathlearn import datasets


def _write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_csv_columns(tmp_path):
    path = _write(tmp_path, "a,b,y\n1,2,3\n4,5,6\n")
    data = datasets.load_csv(path, "y")
    assert data.feature_names == ["a", "b"]
    np.testing.assert_array_equal(data.X, [[1, 2], [4, 5]])
    np.testing.assert_array_equal(data.y, [3, 6])
    assert data.X.dtype == np.float64


def test_load_csv_target_in_middle_and_features(tmp_path):
    path = _write(tmp_path, "a,y,b\n1,2,3\n4,5,6\n")
    data = datasets.load_csv(path, "y", features=["b"])
    np.testing.assert_array_equal(data.X, [[3], [6]])
    np.testing.assert_array_equal(data.y, [2, 5])


def test_load_csv_skips_blank_lines_and_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffa,y\n1,2\n\n3,4\n".encode("utf-8"))
    data = datasets.load_csv(path, "y")
    assert data.feature_names == ["a"]
    np.testing.assert_array_equal(data.y, [2, 4])


@pytest.mark.parametrize(
    "text, target, pattern",
    [
        ("a,b\n1,2\n", "y", r"target column 'y' not found in .*; the columns are: a, b"),
        ("a,y\n1,x\n", "y", r"line 2, column 'y': 'x' is not a number"),
        ("a,y\n1,2\n3,\n", "y", r"line 3, column 'y': the cell is empty"),
        ("a,y\n1,inf\n", "y", r"'inf' is not finite"),
        ("a,y\n1,2,3\n", "y", r"line 2: expected 2 cells as in the header; got 3"),
        ("a,y\n", "y", r"has a header but no data rows"),
        ("", "y", r"is empty"),
        ("y\n1\n", "y", r"no feature columns besides the target 'y'"),
        ("a,a,y\n1,2,3\n", "y", r"duplicate column names \['a'\]"),
        ("a,,y\n1,2,3\n", "y", r"column 2 of the header has no name"),
        ("a,y\n1_000,2\n", "y", r"line 2, column 'a': '1_000' is not a number"),
    ],
)
def test_load_csv_rejects_bad_files(tmp_path, text, target, pattern):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=pattern):
        datasets.load_csv(path, target)


def test_load_csv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="CSV file not found"):
        datasets.load_csv(tmp_path / "absent.csv", "y")


def test_load_csv_missing_feature(tmp_path):
    path = _write(tmp_path, "a,y\n1,2\n")
    with pytest.raises(ValueError, match=r"feature columns \['z'\] not found"):
        datasets.load_csv(path, "y", features=["z"])


def test_load_diabetes_shape():
    pytest.importorskip("sklearn")
    data = datasets.load_diabetes()
    assert data.X.shape == (442, 10)
    assert data.y.shape == (442,)
    assert len(data.feature_names) == 10
    assert "bmi" in data.feature_names


def test_load_csv_rejects_directory(tmp_path):
    with pytest.raises(ValueError, match="is a directory; expected a CSV file"):
        datasets.load_csv(tmp_path, "y")


def test_load_csv_rejects_non_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("caf\xe9,y\n1,2\n".encode("latin-1"))
    with pytest.raises(ValueError, match="is not valid UTF-8 text"):
        datasets.load_csv(path, "y")


@pytest.mark.parametrize("path, target", [(None, "y"), (3, "y"), ("x.csv", 5)])
def test_load_csv_rejects_bad_argument_types(path, target):
    with pytest.raises(TypeError, match="must be"):
        datasets.load_csv(path, target)


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_load_csv_detects_delimiter(tmp_path, delimiter):
    rows = [["a", "b", "y"], ["0.5", "-1", "2"], ["1e-3", "4", "5"], ["7", "8", "9.25"]]
    comma = datasets.load_csv(_write(tmp_path, "\n".join(",".join(r) for r in rows) + "\n", "comma.csv"), "y")
    text = "\n".join(delimiter.join(r) for r in rows) + "\n"
    other = datasets.load_csv(_write(tmp_path, text, "other.csv"), "y")
    assert other.feature_names == ["a", "b"]
    np.testing.assert_array_equal(other.X, comma.X)
    np.testing.assert_array_equal(other.y, comma.y)


def test_load_csv_missing_target_names_delimiter(tmp_path):
    path = _write(tmp_path, "a;b;y\n1;2;3\n4;5;6\n")
    with pytest.raises(ValueError, match=r"the columns are: a, b, y \(cells separated by ';'"):
        datasets.load_csv(path, "price")
