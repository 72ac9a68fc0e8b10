"""MLPRegressor and MLPClassifier: scikit-learn's estimator checks and our own contracts."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from mathlearn.estimators import MLPClassifier, MLPRegressor  # noqa: E402


@pytest.mark.parametrize("estimator", [MLPRegressor(random_state=0), MLPClassifier(random_state=0)],
                         ids=["regressor", "classifier"])
def test_check_estimator(estimator):
    results = check_estimator(estimator, on_fail=None, on_skip=None)
    failed = [(r["check_name"], repr(r["exception"])) for r in results if r["status"] == "failed"]
    assert failed == []
    assert sum(r["status"] == "passed" for r in results) >= 50


def blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])
    labels = rng.integers(0, 3, size=n)
    X = centers[labels] + rng.normal(scale=0.5, size=(n, 2))
    names = np.array(["cat", "dog", "emu"])[labels]
    return X, names


def test_string_labels_round_trip():
    X, names = blobs()
    clf = MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", random_state=0, max_iter=300,
                        learning_rate_init=0.01).fit(X, names)
    assert clf.classes_.tolist() == ["cat", "dog", "emu"]
    predicted = clf.predict(X)
    assert predicted.dtype.kind == "U"
    # Well separated blobs (centers 4.2 apart, sd 0.5) are separable.
    assert np.mean(predicted == names) == 1.0
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.log(P), clf.predict_log_proba(X), rtol=1e-12, atol=1e-12)
    assert (clf.classes_[P.argmax(axis=1)] == predicted).all()


def test_classifier_logits_are_network_outputs():
    X, names = blobs(30)
    clf = MLPClassifier(hidden_layer_sizes=(4,), random_state=1, max_iter=5).fit(X, names)
    logits = clf.network_.forward(X)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-15, atol=0)


def test_partial_fit_needs_classes_then_continues():
    X, names = blobs(90)
    clf = MLPClassifier(hidden_layer_sizes=(6,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X[:30], names[:30])
    clf.partial_fit(X[:30], names[:30], classes=["cat", "dog", "emu"])
    assert clf.n_iter_ == 1
    updates = clf.t_
    clf.partial_fit(X[30:60], names[30:60])
    assert clf.n_iter_ == 2
    assert clf.t_ == 2 * updates
    # Adam's step counter continues across calls.
    assert clf._optimizer.t == clf.t_
    with pytest.raises(ValueError, match=r"labels \['fox'\] that are not in classes_"):
        clf.partial_fit(X[:2], np.array(["fox", "cat"]))


def test_partial_fit_equals_train_epochs():
    # Two partial_fit calls on the same data equal fit with max_iter=2 when
    # each epoch is one full batch: the same updates from the same start.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    a = MLPRegressor(hidden_layer_sizes=(5,), random_state=3, max_iter=2).fit(X, y)
    b = MLPRegressor(hidden_layer_sizes=(5,), random_state=3)
    b.partial_fit(X, y)
    b.partial_fit(X, y)
    np.testing.assert_array_equal(a.network_.params, b.network_.params)


def test_too_small_validation_set():
    # ceil(0.1 * 9) = 1 validation row.
    X, names = blobs(9)
    clf = MLPClassifier(early_stopping=True, validation_fraction=0.1, random_state=0)
    with pytest.raises(ValueError, match="at least 2 validation rows .* gives 1 validation rows"):
        clf.fit(X, names)


def test_early_stopping_keeps_best_validation_loss():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4))
    y = np.sin(X[:, 0]) + 0.5 * rng.normal(size=200)
    reg = MLPRegressor(hidden_layer_sizes=(32,), early_stopping=True, n_iter_no_change=3,
                       learning_rate_init=0.05, max_iter=500, random_state=0, tol=0.0).fit(X, y)
    assert reg.n_iter_ < 500
    assert reg.best_loss_ == min(reg.validation_scores_)


def test_integer_weights_equal_repeated_rows():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20, 3))
    y = X[:, 0] - X[:, 1] ** 2
    counts = rng.integers(0, 4, size=20)
    rows = np.repeat(np.arange(20), counts)
    a = MLPRegressor(hidden_layer_sizes=(6,), random_state=0, max_iter=30).fit(X, y, sample_weight=counts)
    b = MLPRegressor(hidden_layer_sizes=(6,), random_state=0, max_iter=30).fit(X[rows], y[rows])
    # Same full-batch Adam updates on the same weighted mean: rounding only.
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-9, atol=1e-12)


def test_regressor_multioutput_and_float32():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    Y = np.stack([X[:, 0], X[:, 1] * X[:, 2]], axis=1)
    reg = MLPRegressor(hidden_layer_sizes=(8, 8), activation="gelu", dtype="float32", random_state=0,
                       max_iter=5).fit(X, Y)
    assert reg.predict(X).shape == (40, 2)
    assert reg.predict(X).dtype == np.float32
    assert reg.network_.layer_sizes == (3, 8, 8, 2)


def test_params_clone_and_pickle():
    reg = MLPRegressor(hidden_layer_sizes=(7,), solver="sgd", momentum=0.5, random_state=4, max_iter=3)
    assert reg.get_params()["momentum"] == 0.5
    reg.set_params(alpha=0.1)
    assert clone(reg).get_params() == reg.get_params()
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 2))
    y = X.sum(axis=1)
    reg.fit(X, y)
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))

