"""Model files: round trips, and clear errors for damaged or foreign files."""

from __future__ import annotations

import io
import os
import stat
import zipfile

import numpy as np
import pytest

import mathlearn as ml
from mathlearn import io as mlio


@pytest.fixture
def trained_net():
    net = ml.MLP([3, 5, 2], activation="relu", seed=1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    ml.train(net, X, X[:, :2] ** 2, epochs=5, lr=0.05, seed=0)
    return net


def _rewrite(src, dst, edit):
    """Copy the arrays of model file ``src`` to ``dst`` after ``edit(dict)``."""
    with np.load(src, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    edit(arrays)
    np.savez(dst, **arrays)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "identity"])
def test_round_trip_is_bit_identical(tmp_path, dtype, activation):
    net = ml.MLP([4, 7, 3, 2], activation=activation, seed=3, dtype=dtype)
    path = tmp_path / "net.npz"
    mlio.save(path, net)
    back = mlio.load(path)
    assert back.layer_sizes == net.layer_sizes
    assert back.activation == net.activation
    assert back.dtype == net.dtype
    assert back.params.dtype == net.params.dtype
    assert back.params.tobytes() == net.params.tobytes()
    X = np.random.default_rng(0).normal(size=(6, 4))
    assert np.array_equal(back.forward(X), net.forward(X))


def test_trained_network_round_trip(tmp_path, trained_net):
    path = str(tmp_path / "trained.npz")
    mlio.save(path, trained_net)
    back = mlio.load(path)
    assert back.params.tobytes() == trained_net.params.tobytes()
    assert back.params is not trained_net.params


def test_saved_file_has_no_object_arrays(tmp_path, trained_net):
    path = tmp_path / "net.npz"
    mlio.save(path, trained_net)
    with np.load(path, allow_pickle=False) as f:
        kinds = {name: f[name].dtype.kind for name in f.files}
    assert "O" not in kinds.values()
    assert int(np.load(path)["format_version"]) == mlio.FORMAT_VERSION


def test_path_used_exactly(tmp_path, trained_net):
    path = tmp_path / "model.bin"
    mlio.save(path, trained_net)
    assert path.exists()
    assert not (tmp_path / "model.bin.npz").exists()


def test_symlink_is_followed(tmp_path, trained_net):
    real = tmp_path / "real.npz"
    link = tmp_path / "link.npz"
    real.write_bytes(b"old")
    link.symlink_to(real)
    mlio.save(link, trained_net)
    assert link.is_symlink()
    assert mlio.load(real).params.tobytes() == trained_net.params.tobytes()


def test_file_mode_follows_umask(tmp_path, trained_net):
    old = os.umask(0o027)
    try:
        mlio.save(tmp_path / "m.npz", trained_net)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.npz").st_mode) == 0o640


def test_failed_save_keeps_old_file(tmp_path, trained_net, monkeypatch):
    path = tmp_path / "net.npz"
    mlio.save(path, trained_net)
    before = path.read_bytes()

    def broken_savez(fh, **arrays):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(mlio.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        mlio.save(path, trained_net)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]


def test_save_rejects_non_finite(tmp_path):
    net = ml.MLP([2, 2], seed=0)
    net.params[3] = np.nan
    with pytest.raises(ValueError, match=r"net.params must be finite.*nan.*index 3"):
        mlio.save(tmp_path / "x.npz", net)
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("model", [object(), np.zeros(3), "net"])
def test_save_rejects_other_objects(tmp_path, model):
    with pytest.raises(TypeError, match=r"model must be one of: MLP, MLPClassifier, MLPRegressor; got"):
        mlio.save(tmp_path / "x.npz", model)


@pytest.mark.parametrize("path", [3, None, b"x.npz"])
def test_bad_path_type(path):
    with pytest.raises(TypeError, match=r"path must be a str or os.PathLike"):
        mlio.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        mlio.load(tmp_path / "none.npz")


def test_directory(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        mlio.load(tmp_path)


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.1, 0.5, 0.9, 0.999])
def test_truncated_file(tmp_path, trained_net, fraction):
    path = tmp_path / "net.npz"
    mlio.save(path, trained_net)
    data = path.read_bytes()
    cut = min(int(len(data) * fraction), len(data) - 1)
    (tmp_path / "cut.npz").write_bytes(data[:cut])
    with pytest.raises(ValueError, match=r"model file .*cut\.npz"):
        mlio.load(tmp_path / "cut.npz")


def test_flipped_byte_in_params(tmp_path, trained_net):
    path = tmp_path / "net.npz"
    mlio.save(path, trained_net)
    data = bytearray(path.read_bytes())
    # Find the params bytes inside the (uncompressed) archive and flip one bit.
    start = bytes(data).find(trained_net.params.tobytes())
    assert start > 0
    data[start + 5] ^= 0x10
    (tmp_path / "bad.npz").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"(?i)truncated or corrupted.*crc"):
        mlio.load(tmp_path / "bad.npz")


def test_not_an_archive(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("layer_sizes,3,5,2\n")
    with pytest.raises(ValueError, match=r"not an \.npz archive"):
        mlio.load(path)


def test_plain_npz_without_header(tmp_path):
    np.savez(tmp_path / "plain.npz", params=np.zeros(3))
    with pytest.raises(ValueError, match="not a mathlearn model file"):
        mlio.load(tmp_path / "plain.npz")


class _Trap:
    """An object whose unpickling would create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickled_payload_is_never_executed(tmp_path, trained_net):
    path = tmp_path / "net.npz"
    mlio.save(path, trained_net)
    marker = tmp_path / "executed"
    trap = np.empty(1, dtype=object)
    trap[0] = _Trap(marker)

    def edit(arrays):
        arrays["MLP.activation"] = trap

    _rewrite(path, tmp_path / "evil.npz", edit)
    with pytest.raises(ValueError, match=r"(?i)invalid array.*pickle"):
        mlio.load(tmp_path / "evil.npz")
    assert not marker.exists()


def _edit_case(name):
    cases = {
        "newer version": (lambda a: a.update(format_version=np.array(2)), r"format_version must be 1; got 2. Upgrade"),
        "float version": (lambda a: a.update(format_version=np.array(1.0)), r"format_version must be an integer"),
        "other format": (lambda a: a.update(format=np.array("other")), r"format must be 'mathlearn-model'; got 'other'"),
        "unknown kind": (lambda a: a.update(kind=np.array("SVM")), r"kind must be one of \['MLP', 'MLPClassifier', 'MLPRegressor'\]; got 'SVM'"),
        "kind as bytes": (lambda a: a.update(kind=np.array(b"MLP")), r"kind must be a 0-d unicode array"),
        "missing params": (lambda a: a.pop("MLP.params"), r"missing arrays \['MLP.params'\]"),
        "extra array": (lambda a: a.update({"MLP.extra": np.zeros(1)}), r"unexpected arrays \['MLP.extra'\]"),
        "short params": (lambda a: a.update({"MLP.params": a["MLP.params"][:-1]}), r"MLP.params must have shape \(32,\).*got shape \(31,\)"),
        "params dtype": (lambda a: a.update({"MLP.params": a["MLP.params"].astype(np.float32)}), r"MLP.params must have dtype float64.*got float32"),
        "nan params": (lambda a: a["MLP.params"].__setitem__(0, np.nan), r"MLP.params must be finite"),
        "float sizes": (lambda a: a.update({"MLP.layer_sizes": np.array([3.0, 5.0, 2.0])}), r"MLP.layer_sizes must be a 1-d integer array"),
        "zero size": (lambda a: a.update({"MLP.layer_sizes": np.array([3, 0, 2])}), r"MLP.layer_sizes must be >= 1; got \[3, 0, 2\]"),
        "bad activation": (lambda a: a.update({"MLP.activation": np.array("swish")}), r"stored MLP is invalid.*swish"),
        "bad dtype": (lambda a: a.update({"MLP.dtype": np.array("float16")}), r"MLP.dtype must be 'float64' or 'float32'; got 'float16'"),
        "huge sizes": (
            lambda a: a.update({"MLP.layer_sizes": np.array([2**40, 2**40])}),
            r"MLP.params must have shape \(1208925819615728686333952,\)",
        ),
    }
    return cases[name]


@pytest.mark.parametrize(
    "case",
    ["newer version", "float version", "other format", "unknown kind", "kind as bytes",
     "missing params", "extra array", "short params", "params dtype", "nan params",
     "float sizes", "zero size", "bad activation", "bad dtype", "huge sizes"],
)
def test_mismatching_contents(tmp_path, trained_net, case):
    edit, pattern = _edit_case(case)
    path = tmp_path / "net.npz"
    mlio.save(path, trained_net)
    _rewrite(path, tmp_path / "edited.npz", edit)
    with pytest.raises(ValueError, match=pattern):
        mlio.load(tmp_path / "edited.npz")


def test_memory_guard_before_reading(tmp_path, trained_net, monkeypatch):
    import mathlearn._validation as validation

    path = tmp_path / "net.npz"
    mlio.save(path, trained_net)
    monkeypatch.setattr(validation, "available_memory", lambda: 100)
    with pytest.raises(ValueError, match=r"loading model file .* needs [\d,]+ bytes"):
        mlio.load(path)


def test_zip_member_is_not_a_npy(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("format.npy", b"\x93NUMPY garbage")
    (tmp_path / "z.npz").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match=r"model file .*z\.npz"):
        mlio.load(tmp_path / "z.npz")


# ----------------------------------------------------------------------
# scikit-learn estimators


def _fitted_regressor(y_columns=None, seed=0):
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0])
    if y_columns:
        y = np.column_stack([y * (k + 1) for k in range(y_columns)])
    est = ml.MLPRegressor(hidden_layer_sizes=(5,), max_iter=20, random_state=3).fit(X, y)
    return est, X, y


@pytest.mark.parametrize("y_columns", [None, 2])
def test_regressor_round_trip(tmp_path, y_columns):
    est, X, y = _fitted_regressor(y_columns)
    path = tmp_path / "reg.npz"
    ml.save(path, est)
    loaded = ml.load(path)
    assert type(loaded) is type(est)
    assert loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    assert loaded.predict(X).shape == est.predict(X).shape
    assert loaded.loss_curve_ == est.loss_curve_
    assert loaded.n_iter_ == est.n_iter_
    assert loaded.n_features_in_ == 4
    # Training can continue after loading.
    loaded.partial_fit(X, y)
    assert loaded.n_iter_ == est.n_iter_ + 1


def test_classifier_round_trip_string_labels(tmp_path):
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    est = ml.MLPClassifier(hidden_layer_sizes=(6,), max_iter=15, random_state=0).fit(X, y)
    path = tmp_path / "clf.npz"
    ml.save(path, est)
    loaded = ml.load(path)
    np.testing.assert_array_equal(loaded.classes_, est.classes_)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    assert loaded.score(X, y) == est.score(X, y)


def test_unfitted_estimator_rejected(tmp_path):
    pytest.importorskip("sklearn")
    with pytest.raises(ValueError, match="MLPRegressor is not fitted; call fit before saving it"):
        ml.save(tmp_path / "x.npz", ml.MLPRegressor())
    assert not (tmp_path / "x.npz").exists()


def test_generator_random_state_rejected(tmp_path):
    est, _, _ = _fitted_regressor()
    est.set_params(random_state=np.random.default_rng(0))
    with pytest.raises(ValueError, match="random_state must be None or an int to be saved; got Generator"):
        ml.save(tmp_path / "x.npz", est)


def _replace_arrays(path, **changes):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays.update(changes)
    np.savez(path, **arrays)


def test_estimator_bad_params_text(tmp_path):
    est, _, _ = _fitted_regressor()
    path = tmp_path / "reg.npz"
    ml.save(path, est)
    _replace_arrays(path, **{"MLPRegressor.params": np.array("{not json")})
    with pytest.raises(ValueError, match="params must be JSON text"):
        ml.load(path)
    _replace_arrays(path, **{"MLPRegressor.params": np.array('{"alpha": 1.0}')})
    with pytest.raises(ValueError, match="params must name exactly the hyperparameters"):
        ml.load(path)


def test_estimator_shape_mismatch(tmp_path):
    est, _, _ = _fitted_regressor()
    path = tmp_path / "reg.npz"
    ml.save(path, est)
    _replace_arrays(path, **{"MLPRegressor.n_features_in": np.int64(7)})
    with pytest.raises(ValueError, match="the network maps 4 features to 1 outputs, but the file declares 7"):
        ml.load(path)
