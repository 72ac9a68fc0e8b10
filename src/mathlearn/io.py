"""Save and load networks as ``.npz`` files that never execute code.

File format
-----------
A model file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays) read
with ``numpy.load(..., allow_pickle=False)``, so loading a file parses
arrays and never unpickles objects. Every file contains

``format``
    The string ``"mathlearn-model"`` (0-d unicode array).
``format_version``
    An int64 scalar, currently ``FORMAT_VERSION`` = 1. A reader rejects
    files of a newer version instead of guessing their layout.
``kind``
    The model class, e.g. ``"MLP"``.

and then the arrays of that kind, each named ``"<kind>.<field>"``. For
``"MLP"`` these are the public constructor arguments and the parameters:

``MLP.layer_sizes`` (int64, (L + 1,)), ``MLP.activation`` (0-d unicode),
``MLP.dtype`` (0-d unicode, ``"float64"`` or ``"float32"``) and
``MLP.params`` (that dtype, (P,)).

For ``"MLPRegressor"`` and ``"MLPClassifier"`` the arrays are the
hyperparameters as JSON text (``params``), the fitted attributes
(``n_features_in``, ``n_outputs``, ``loss_curve``, ``n_iter``, ``t``, and
``y_1d`` or ``classes``) and the fitted network under ``network.``. The
optimizer's moments are not stored, so ``partial_fit`` after ``load``
starts them afresh.

Each kind is one entry of ``_CODECS``: a class, a function that turns an
instance into a dict of arrays and a function that rebuilds the instance
from them after checking every array. A new model class is supported by
adding one entry. A model that contains a network stores it under its
own prefix with the ``"MLP"`` codec's fields.

Guarantees
----------
``save`` writes to a temporary file in the target directory and renames it
over ``path`` only after the write succeeded, so an interrupted save leaves
any earlier file intact. ``load`` raises ``ValueError`` naming the path and
the problem for a truncated or corrupted archive (zip CRC-32 mismatch), a
file of another format or version, missing or unexpected arrays, or arrays
whose shapes and dtypes do not fit together; it checks the uncompressed
size against the available memory before reading any array.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._validation import check_memory

__all__ = ["FORMAT_VERSION", "save", "load"]

FORMAT_NAME = "mathlearn-model"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class _Codec:
    kind: str
    cls: Callable[[], type]
    to_arrays: Callable[[object], dict]
    from_arrays: Callable[[dict, str], object]
    fields: tuple[str, ...]


def _mlp_class():
    from .network import MLP

    return MLP


def _mlp_to_arrays(net) -> dict:
    params = np.asarray(net.params)
    if not np.isfinite(params).all():
        i = int(np.flatnonzero(~np.isfinite(params))[0])
        raise ValueError(
            f"net.params must be finite to be saved; got {float(params[i])!r} at index {i}. "
            f"A diverged training run leaves NaN or inf behind; retrain or reset the parameters."
        )
    return {
        "layer_sizes": np.asarray(net.layer_sizes, dtype=np.int64),
        "activation": np.array(net.activation),
        "dtype": np.array(np.dtype(net.dtype).name),
        "params": np.ascontiguousarray(params),
    }


def _mlp_from_arrays(arrays: dict, where: str):
    sizes = arrays["layer_sizes"]
    if sizes.dtype.kind not in "iu" or sizes.ndim != 1 or sizes.size < 2:
        raise ValueError(
            f"{where}: MLP.layer_sizes must be a 1-d integer array with at least 2 entries; got "
            f"dtype {sizes.dtype} and shape {sizes.shape}."
        )
    if (sizes < 1).any():
        raise ValueError(f"{where}: MLP.layer_sizes must be >= 1; got {sizes.tolist()}.")
    activation = _string(arrays["activation"], "MLP.activation", where)
    dtype_name = _string(arrays["dtype"], "MLP.dtype", where)
    if dtype_name not in ("float64", "float32"):
        raise ValueError(f"{where}: MLP.dtype must be 'float64' or 'float32'; got {dtype_name!r}.")
    params = arrays["params"]
    # Python ints: the product of two file-supplied sizes must not wrap around in int64.
    n = [int(v) for v in sizes]
    n_params = sum((n[l - 1] + 1) * n[l] for l in range(1, len(n)))
    if params.ndim != 1 or params.shape[0] != n_params:
        raise ValueError(
            f"{where}: MLP.params must have shape ({n_params},) for layer sizes {n}; got shape "
            f"{params.shape}. The file is corrupted or was edited."
        )
    if params.dtype != np.dtype(dtype_name):
        raise ValueError(
            f"{where}: MLP.params must have dtype {dtype_name} (the stored MLP.dtype); got "
            f"{params.dtype}."
        )
    if not np.isfinite(params).all():
        raise ValueError(f"{where}: MLP.params must be finite; the file contains NaN or inf.")

    MLP = _mlp_class()
    try:
        net = MLP(n, activation=activation, seed=0, dtype=np.dtype(dtype_name))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: the stored MLP is invalid: {exc}") from None
    net.params = params
    return net


_MLP_FIELDS = ("layer_sizes", "activation", "dtype", "params")


def _regressor_class():
    from .estimators import MLPRegressor

    return MLPRegressor


def _classifier_class():
    from .estimators import MLPClassifier

    return MLPClassifier


def _estimator_to_arrays(est) -> dict:
    """Store the hyperparameters as JSON text, the fitted network and the fitted attributes."""
    if not hasattr(est, "network_"):
        raise ValueError(f"{type(est).__name__} is not fitted; call fit before saving it.")
    params = est.get_params(deep=False)
    if params["random_state"] is not None and not isinstance(params["random_state"], (int, np.integer)):
        raise ValueError(
            f"random_state must be None or an int to be saved; got {type(params['random_state']).__name__}. "
            "Set an int seed with set_params(random_state=...) before saving."
        )
    if params["random_state"] is not None:
        params["random_state"] = int(params["random_state"])
    sizes = params["hidden_layer_sizes"]
    params["hidden_layer_sizes"] = [int(sizes)] if np.ndim(sizes) == 0 else [int(n) for n in sizes]
    try:
        text = json.dumps(params, sort_keys=True)
    except TypeError as exc:
        raise ValueError(f"the hyperparameters of {type(est).__name__} cannot be saved: {exc}") from None

    arrays = {
        "params": np.array(text),
        "n_features_in": np.int64(est.n_features_in_),
        "n_outputs": np.int64(est._n_outputs),
        "loss_curve": np.asarray(est.loss_curve_, dtype=np.float64),
        "n_iter": np.int64(est.n_iter_),
        "t": np.int64(est.t_),
    }
    if hasattr(est, "classes_"):
        classes = np.asarray(est.classes_)
        if classes.dtype.kind not in "biufU":
            raise ValueError(
                f"classes_ must be numbers or strings to be saved without pickle; got dtype {classes.dtype}."
            )
        arrays["classes"] = classes
    else:
        arrays["y_1d"] = np.bool_(est._y_1d)
    for field, value in _mlp_to_arrays(est.network_).items():
        arrays[f"network.{field}"] = value
    return arrays


def _scalar(value: np.ndarray, name: str, where: str, kind: str = "iu") -> int:
    if value.ndim != 0 or value.dtype.kind not in kind:
        raise ValueError(f"{where}: {name} must be a scalar of kind {kind!r}; got dtype {value.dtype}, "
                         f"shape {value.shape}.")
    return value.item()


def _estimator_from_arrays(cls, arrays: dict, where: str):
    from . import training
    from .estimators import _seed_from

    text = _string(arrays["params"], "params", where)
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: params must be JSON text; {exc}.") from None
    allowed = set(cls().get_params(deep=False))
    if not isinstance(params, dict) or set(params) != allowed:
        raise ValueError(f"{where}: params must name exactly the hyperparameters {sorted(allowed)}.")
    params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    est = cls(**params)

    net = _mlp_from_arrays({f: arrays[f"network.{f}"] for f in _MLP_FIELDS}, where)
    n_features = _scalar(arrays["n_features_in"], "n_features_in", where)
    n_outputs = _scalar(arrays["n_outputs"], "n_outputs", where)
    if net.n_inputs != n_features or net.n_outputs != n_outputs:
        raise ValueError(
            f"{where}: the network maps {net.n_inputs} features to {net.n_outputs} outputs, but the "
            f"file declares {n_features} and {n_outputs}. The file is corrupted or was edited."
        )
    loss_curve = arrays["loss_curve"]
    if loss_curve.ndim != 1 or loss_curve.dtype != np.float64:
        raise ValueError(f"{where}: loss_curve must be a 1-d float64 array; got {loss_curve.dtype}, "
                         f"shape {loss_curve.shape}.")

    est.network_ = net
    est.n_features_in_ = n_features
    est._n_outputs = n_outputs
    est.loss_curve_ = [float(v) for v in loss_curve]
    est.n_iter_ = _scalar(arrays["n_iter"], "n_iter", where)
    est.t_ = _scalar(arrays["t"], "t", where)
    if "classes" in arrays:
        from sklearn.preprocessing import LabelEncoder

        classes = arrays["classes"]
        if classes.ndim != 1 or classes.shape[0] != n_outputs or classes.dtype.kind not in "biufU":
            raise ValueError(f"{where}: classes must be a 1-d array of {n_outputs} numbers or strings; "
                             f"got dtype {classes.dtype}, shape {classes.shape}.")
        est._encoder = LabelEncoder().fit(classes)
        est.classes_ = est._encoder.classes_
    else:
        est._y_1d = bool(_scalar(arrays["y_1d"], "y_1d", where, kind="b"))
    # NOTE: the optimizer's moments (momentum, Adam) and the random stream are
    # not saved; partial_fit after load starts them afresh from random_state.
    est._rng = np.random.default_rng(_seed_from(est.random_state))
    est._optimizer = training.Optimizer(
        est.solver, net.n_params, net.dtype, lr=est.learning_rate_init, momentum=est.momentum,
        beta1=est.beta_1, beta2=est.beta_2, eps=est.epsilon,
    )
    return est


_ESTIMATOR_FIELDS = (
    "params", "n_features_in", "n_outputs", "loss_curve", "n_iter", "t",
    *(f"network.{f}" for f in _MLP_FIELDS),
)

_CODECS = {
    "MLP": _Codec(
        kind="MLP",
        cls=_mlp_class,
        to_arrays=_mlp_to_arrays,
        from_arrays=_mlp_from_arrays,
        fields=_MLP_FIELDS,
    ),
    "MLPRegressor": _Codec(
        kind="MLPRegressor",
        cls=_regressor_class,
        to_arrays=_estimator_to_arrays,
        from_arrays=lambda arrays, where: _estimator_from_arrays(_regressor_class(), arrays, where),
        fields=(*_ESTIMATOR_FIELDS, "y_1d"),
    ),
    "MLPClassifier": _Codec(
        kind="MLPClassifier",
        cls=_classifier_class,
        to_arrays=_estimator_to_arrays,
        from_arrays=lambda arrays, where: _estimator_from_arrays(_classifier_class(), arrays, where),
        fields=(*_ESTIMATOR_FIELDS, "classes"),
    ),
}


def _string(value: np.ndarray, name: str, where: str) -> str:
    if value.dtype.kind != "U" or value.ndim != 0:
        raise ValueError(
            f"{where}: {name} must be a 0-d unicode array; got dtype {value.dtype} and shape "
            f"{value.shape}."
        )
    return str(value[()])


def _check_path(path, name: str = "path") -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike; got {type(path).__name__}.")
    return os.fspath(path)


def _codec_for(model) -> _Codec:
    for codec in _CODECS.values():
        try:
            cls = codec.cls()
        except ImportError:  # the estimators need scikit-learn
            continue
        if isinstance(model, cls):
            return codec
    kinds = ", ".join(sorted(_CODECS))
    raise TypeError(f"model must be one of: {kinds}; got {type(model).__name__}.")


def save(path, model) -> None:
    """Write ``model`` to ``path`` as an ``.npz`` model file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination, used exactly as given (no ``.npz`` suffix is added).
        An existing file is replaced only after the new file is complete.
    model : mathlearn.MLP, MLPRegressor or MLPClassifier
        The model to save. Its parameters must be finite, and an estimator
        must be fitted, with ``random_state`` None or an int.

    Raises
    ------
    TypeError
        If ``model`` is of a kind this module cannot save, or ``path`` is
        not a path.
    ValueError
        If the parameters contain NaN or inf, or an estimator is not fitted
        or has a ``random_state`` that is not None or an int.
    OSError
        If the directory of ``path`` is missing or not writable.
    """
    path = _check_path(path)
    codec = _codec_for(model)
    arrays = {
        "format": np.array(FORMAT_NAME),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "kind": np.array(codec.kind),
    }
    for field, value in codec.to_arrays(model).items():
        arrays[f"{codec.kind}.{field}"] = value

    # A symbolic link at path is followed, so the file it points to is replaced.
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    if os.path.isdir(target):
        raise IsADirectoryError(
            errno.EISDIR, f"cannot save the model: {path!r} is a directory; pass a file path "
            f"such as {os.path.join(path, 'model.npz')!r}",
        )
    try:
        fd, tmp = tempfile.mkstemp(prefix=".mathlearn-", suffix=".npz.tmp", dir=directory)
    except OSError as exc:
        # The OSError would name the hidden temporary file, so the caller's path is named instead.
        raise type(exc)(
            exc.errno, f"cannot save the model to {path!r}: {exc.strerror} (folder {directory!r}); "
            "create the folder or choose a writable one",
        ) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates the file with mode 0o600; give it the mode open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def _umask() -> int:
    # Read, not set: os.umask would change the mask for other threads meanwhile.
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def load(path):
    """Read a model written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    mathlearn.MLP, MLPRegressor or MLPClassifier
        A new model equal to the saved one, with the same layer sizes,
        activation, dtype and bit-identical parameters. An estimator also
        gets its hyperparameters and fitted attributes back and predicts the
        same.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a complete, uncorrupted model file of a version
        this library reads, or its arrays do not describe a valid model, or
        its arrays would not fit in the memory available now. Object arrays
        are rejected, never unpickled.
    """
    path = _check_path(path)
    where = f"model file {path!r}"
    if os.path.isdir(path):
        raise ValueError(f"{where} is a directory; pass the path of a file written by mathlearn.io.save.")
    with open(path, "rb") as fh:  # FileNotFoundError and PermissionError pass through
        is_zip = zipfile.is_zipfile(fh)
    if not is_zip:
        raise ValueError(
            f"{where} is not an .npz archive (it is truncated, corrupted or of another format). "
            f"Load only files written by mathlearn.io.save."
        )
    arrays = _read_arrays(path, where)
    _check_header(arrays, where)
    kind = _string(arrays["kind"], "kind", where)
    codec = _CODECS.get(kind)
    if codec is None:
        raise ValueError(f"{where}: kind must be one of {sorted(_CODECS)}; got {kind!r}.")

    expected = {"format", "format_version", "kind", *(f"{kind}.{f}" for f in codec.fields)}
    missing = sorted(expected - arrays.keys())
    extra = sorted(arrays.keys() - expected)
    if missing:
        raise ValueError(f"{where}: missing arrays {missing} for kind {kind!r}. The file is incomplete.")
    if extra:
        raise ValueError(f"{where}: unexpected arrays {extra} for kind {kind!r} in format version "
                         f"{FORMAT_VERSION}. The file was not written by mathlearn.io.save.")
    fields = {f: arrays[f"{kind}.{f}"] for f in codec.fields}
    return codec.from_arrays(fields, where)


def _read_arrays(path: str, where: str) -> dict:
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{where} cannot be opened as an .npz archive: {exc}") from None
    check_memory(total, f"loading {where}", "The file is damaged or not a mathlearn model file.")

    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for name in archive.files:
                arrays[name] = archive[name]
    except ValueError as exc:
        # numpy raises ValueError for object arrays when allow_pickle=False
        # and for malformed .npy headers.
        raise ValueError(f"{where} contains an invalid array: {exc}") from None
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ValueError(f"{where} is truncated or corrupted: {exc}") from None
    return arrays


def _check_header(arrays: dict, where: str) -> None:
    if "format" not in arrays or "format_version" not in arrays or "kind" not in arrays:
        raise ValueError(
            f"{where} is not a mathlearn model file: it lacks the arrays 'format', "
            f"'format_version' and 'kind'. Load only files written by mathlearn.io.save."
        )
    name = _string(arrays["format"], "format", where)
    if name != FORMAT_NAME:
        raise ValueError(f"{where}: format must be {FORMAT_NAME!r}; got {name!r}.")
    version = arrays["format_version"]
    if version.dtype.kind not in "iu" or version.ndim != 0:
        raise ValueError(
            f"{where}: format_version must be an integer scalar; got dtype {version.dtype} and "
            f"shape {version.shape}."
        )
    if int(version) != FORMAT_VERSION:
        raise ValueError(
            f"{where}: format_version must be {FORMAT_VERSION}; got {int(version)}. "
            f"{'Upgrade mathlearn to read it.' if int(version) > FORMAT_VERSION else 'The file is corrupted.'}"
        )
