"""Loaders for the data sets the command line and examples use."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Dataset", "load_csv", "load_diabetes"]


@dataclass
class Dataset:
    """A regression data set.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), float64
    feature_names : list of str
    target_name : str
    description : str
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list
    target_name: str
    description: str = ""


def load_diabetes() -> Dataset:
    """Load scikit-learn's bundled diabetes data (442 patients, 10 features).

    The features are as scikit-learn ships them, each column centred and
    scaled to unit Euclidean norm. The target is a quantitative measure of
    disease progression one year after baseline (Efron, Hastie, Johnstone
    and Tibshirani, "Least Angle Regression", Annals of Statistics, 2004).
    The data are read from scikit-learn's installation, with no download.
    """
    try:
        from sklearn.datasets import load_diabetes as _sk_load_diabetes
    except ImportError:
        raise ImportError(
            "the diabetes data ship with scikit-learn, which is not installed. "
            "Install it with: pip install 'mathlearn[examples]'"
        ) from None
    bunch = _sk_load_diabetes()
    return Dataset(
        X=np.ascontiguousarray(bunch.data, dtype=np.float64),
        y=np.ascontiguousarray(bunch.target, dtype=np.float64),
        feature_names=list(bunch.feature_names),
        target_name="disease progression",
        description="scikit-learn diabetes data (Efron et al. 2004)",
    )


# Delimiters that load_csv detects. A file that matches none is read as comma-separated.
CSV_DELIMITERS = (",", ";", "\t", "|")

# Characters read to detect the delimiter: enough for the header and some rows.
_SNIFF_CHARS = 64 * 1024


def _sniff_delimiter(fh) -> str:
    """Detect the delimiter of an open CSV file, or return ',' when that fails, and rewind the file."""
    sample = fh.read(_SNIFF_CHARS)
    fh.seek(0)
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(CSV_DELIMITERS)).delimiter
    except csv.Error:
        return ","


def load_csv(path, target: str, *, features=None) -> Dataset:
    """Load a numeric CSV file with a header row.

    Parameters
    ----------
    path : str or path-like
        The file. The first row names the columns; every other cell must
        parse as a finite number. The delimiter (one of ``CSV_DELIMITERS``)
        is detected with ``csv.Sniffer``, and comma is used when that fails.
    target : str
        Name of the column to predict.
    features : list of str, optional
        Columns to use as inputs; by default all columns except ``target``.

    Raises
    ------
    TypeError
        When ``path`` or ``target`` has the wrong type.
    FileNotFoundError
        When the file does not exist.
    ValueError
        When the path is a directory, or the file is not UTF-8 or is empty.
        Also when a header cell is empty, the target or a feature column is
        missing, a row has the wrong number of cells, or a cell is not a
        finite number.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like; got {path!r} of type {type(path).__name__}.")
    if not isinstance(target, str):
        raise TypeError(f"target must be a column name (str); got {target!r} of type {type(target).__name__}.")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory; expected a CSV file.")
    if not path.is_file():
        raise FileNotFoundError(f"CSV file not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            delimiter = _sniff_delimiter(fh)
            reader = csv.reader(fh, delimiter=delimiter)
            try:
                header = [name.strip() for name in next(reader)]
            except StopIteration:
                raise ValueError(f"{path} is empty; expected a header row and data rows.") from None
            rows = [row for row in reader if any(cell.strip() for cell in row)]
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path} is not valid UTF-8 text (byte {exc.start}: {exc.reason}). "
            "Save it as UTF-8, or convert it with iconv."
        ) from None

    if any(not name for name in header):
        position = header.index("") + 1
        raise ValueError(f"{path}: column {position} of the header has no name; name every column.")

    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise ValueError(f"{path} has duplicate column names {duplicated}; rename them so each is unique.")
    if target not in header:
        raise ValueError(
            f"target column {target!r} not found in {path}; the columns are: {', '.join(header)} "
            f"(cells separated by {delimiter!r}, detected among "
            f"{', '.join(repr(d) for d in CSV_DELIMITERS)})."
        )
    if features is None:
        features = [name for name in header if name != target]
    missing = [name for name in features if name not in header]
    if missing:
        raise ValueError(f"feature columns {missing} not found in {path}; the columns are: {', '.join(header)}.")
    if not features:
        raise ValueError(f"{path} has no feature columns besides the target {target!r}.")
    if not rows:
        raise ValueError(f"{path} has a header but no data rows.")

    table = np.empty((len(rows), len(header)), dtype=np.float64)
    for i, row in enumerate(rows):
        line = i + 2
        if len(row) != len(header):
            raise ValueError(
                f"{path}, line {line}: expected {len(header)} cells as in the header; got {len(row)}."
            )
        for j, cell in enumerate(row):
            if not cell.strip():
                raise ValueError(
                    f"{path}, line {line}, column {header[j]!r}: the cell is empty. "
                    "Remove or impute missing values first."
                )
            try:
                # float() also reads "1_000" as 1000; a CSV number has no underscores.
                if "_" in cell:
                    raise ValueError(cell)
                value = float(cell)
            except ValueError:
                raise ValueError(
                    f"{path}, line {line}, column {header[j]!r}: {cell.strip()!r} is not a number. "
                    "mathlearn fit needs numeric data; encode categories as numbers first."
                ) from None
            if not math.isfinite(value):
                raise ValueError(
                    f"{path}, line {line}, column {header[j]!r}: {cell.strip()!r} is not finite. "
                    "Remove or impute missing and infinite values first."
                )
            table[i, j] = value

    columns = {name: j for j, name in enumerate(header)}
    X = np.ascontiguousarray(table[:, [columns[name] for name in features]])
    y = np.ascontiguousarray(table[:, columns[target]])
    return Dataset(X=X, y=y, feature_names=list(features), target_name=target, description=str(path))
