"""scikit-learn estimators around :class:`mathlearn.MLP` and :func:`mathlearn.train`.

``MLPRegressor`` fits the mean squared error. ``MLPClassifier`` fits the
softmax cross-entropy with one output per class (two for a binary
problem) and predicts the class of the largest logit. Both follow the
scikit-learn estimator API (fit, predict, score, partial_fit, get_params,
set_params; predict_proba for the classifier) and pass
``sklearn.utils.estimator_checks.check_estimator``.

Parameters keep scikit-learn's names where the meaning is the same, with
two differences of scaling, because the objective here is the one of
``mathlearn.train``: ``alpha`` is lambda of the penalty (lambda / 2)
sum_l ||W_l||^2 added to the mean loss (scikit-learn divides it by the
batch size), and the mean squared error has no factor 1/2.

Sample weights enter as a weighted mean, sum_b w_b l_b / sum_b w_b, so
integer weights fit the same model as repeated rows whenever the updates
see whole batches (``batch_size`` of at least the number of rows).
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import training
from .network import MLP

__all__ = ["MLPRegressor", "MLPClassifier"]


def _seed_from(random_state):
    """Map scikit-learn's random_state (None, int, RandomState, Generator) to a seed for mathlearn."""
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if random_state is None or isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, (numbers.Integral, np.integer)) and not isinstance(random_state, bool):
        return int(random_state)
    raise TypeError(
        f"random_state must be None, an int, a numpy.random.RandomState or a "
        f"numpy.random.Generator; got {random_state!r}."
    )


class _BaseMLP(BaseEstimator):
    """Shared fitting code; subclasses set the loss and the target encoding.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Widths of the hidden layers; the input and output sizes come from the data.
    activation : str
        An activation of :mod:`mathlearn.activations`.
    solver : {"adam", "sgd"}
        Optimizer of :func:`mathlearn.train`.
    alpha : float >= 0
        L2 penalty lambda on the weight matrices.
    batch_size : int or "auto"
        Mini-batch size; "auto" is min(200, n_samples).
    learning_rate_init : float > 0
        Learning rate.
    max_iter : int >= 1
        Epochs (passes over the training rows).
    momentum : float in [0, 1)
        Momentum of the "sgd" solver.
    beta_1, beta_2, epsilon : float
        Adam's parameters.
    early_stopping : bool
        Hold out ``validation_fraction`` of the rows and stop when their
        loss stops falling; the best epoch's parameters are kept.
    validation_fraction : float in (0, 1)
    n_iter_no_change : int >= 1
    tol : float >= 0
        Early-stopping rule of :func:`mathlearn.train`.
    random_state : None, int, RandomState or Generator
        Source of the initial weights, the shuffles and the validation split.
    dtype : {"float64", "float32"}
        Dtype of the network and its computations.
    verbose : bool
        Show a progress bar (needs tqdm).
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate_init=1e-3,
        max_iter=200,
        momentum=0.9,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        random_state=None,
        dtype="float64",
        verbose=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.dtype = dtype
        self.verbose = verbose

    # Subclass hooks -------------------------------------------------

    _loss = "mse"

    def _encode_targets(self, y, first_call, classes=None):
        raise NotImplementedError

    # Fitting ----------------------------------------------------------

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, (numbers.Integral, np.integer)) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise TypeError(
                f"hidden_layer_sizes must be a tuple of positive ints such as (100,); got "
                f"{self.hidden_layer_sizes!r}."
            ) from None
        return sizes

    def _validate_X_y(self, X, y, reset):
        dtype = np.dtype(self.dtype)
        X, y = validate_data(
            self, X, y, reset=reset, dtype=dtype, multi_output=self._loss == "mse",
            y_numeric=self._loss == "mse",
        )
        return X, y

    def _make_network(self, n_outputs, rng):
        sizes = [self.n_features_in_, *self._hidden_sizes(), n_outputs]
        self.network_ = MLP(sizes, activation=self.activation, seed=rng, dtype=np.dtype(self.dtype))
        self._optimizer = training.Optimizer(
            self.solver, self.network_.n_params, self.network_.dtype,
            lr=training.check_real(self.learning_rate_init, "learning_rate_init", low=0.0, low_open=True),
            momentum=self.momentum, beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon,
        )
        self.loss_curve_ = []
        self.n_iter_ = 0
        self.t_ = 0

    def _weights(self, sample_weight, n):
        if sample_weight is None:
            return None
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.ndim != 1 or w.shape[0] != n:
            raise ValueError(f"sample_weight must have shape ({n},); got shape {w.shape}.")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("sample_weight must contain finite, non-negative values.")
        total = w.sum()
        if total <= 0:
            raise ValueError("sample_weight must have a positive sum; got all zeros.")
        # n w_b / sum(w) turns the loss (1/n) sum_b w_b l_b into the weighted mean.
        return w * (n / total)

    def _run(self, X, target, sample_weight, epochs, early_stopping):
        n = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n)
        else:
            batch_size = training.check_int(self.batch_size, "batch_size", minimum=1)
        result = training.train(
            self.network_, X, target, epochs=epochs, lr=self._optimizer.lr, batch_size=batch_size,
            test_size=0, loss=self._loss, seed=self._rng, optimizer=self._optimizer,
            l2=self.alpha, sample_weight=sample_weight, early_stopping=early_stopping,
            validation_fraction=self.validation_fraction, n_iter_no_change=self.n_iter_no_change,
            tol=self.tol, progress=bool(self.verbose),
        )
        self.loss_curve_.extend(float(v) for v in result.train_loss[1:])
        self.n_iter_ += result.epochs
        self.t_ += result.n_updates
        if early_stopping:
            self.validation_scores_ = list(result.validation_loss[1:])
            self.best_loss_ = float(result.validation_loss[result.best_epoch])
        return self

    def _fit(self, X, y, sample_weight, *, partial, classes=None):
        first_call = not partial or not hasattr(self, "network_")
        X, y = self._validate_X_y(X, y, reset=first_call)
        target = self._encode_targets(y, first_call, classes)
        weight = self._weights(sample_weight, X.shape[0])
        if first_call:
            self._rng = np.random.default_rng(_seed_from(self.random_state))
            self._make_network(self._n_outputs, self._rng)
        if partial:
            return self._run(X, target, weight, 1, early_stopping=False)
        epochs = training.check_int(self.max_iter, "max_iter", minimum=1)
        return self._run(X, target, weight, epochs, early_stopping=bool(self.early_stopping))

    def fit(self, X, y, sample_weight=None):
        """Fit a new network to (X, y) for ``max_iter`` epochs; return self.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array_like of shape (n_samples,), optional
            Non-negative weights; the loss is their weighted mean.
        """
        return self._fit(X, y, sample_weight, partial=False)

    def _forward(self, X):
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=np.dtype(self.dtype))
        return self.network_.forward(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multilayer perceptron regressor trained on the mean squared error.

    Parameters are those of ``_BaseMLP`` (listed in its docstring).

    Attributes
    ----------
    network_ : mathlearn.MLP
        The fitted network, sizes (n_features, *hidden_layer_sizes, n_outputs).
    loss_curve_ : list of float
        Training loss after each epoch.
    n_iter_ : int
        Epochs run over all calls of fit and partial_fit since the last fit.
    t_ : int
        Parameter updates made.
    n_features_in_ : int
    """

    _loss = "mse"

    def _encode_targets(self, y, first_call, classes=None):
        y = np.asarray(y, dtype=np.dtype(self.dtype))
        if first_call:
            self._y_1d = y.ndim == 1
            self._n_outputs = 1 if y.ndim == 1 else y.shape[1]
        elif (1 if y.ndim == 1 else y.shape[1]) != self._n_outputs:
            raise ValueError(
                f"y must have {self._n_outputs} output column(s) as in the first call; got shape {y.shape}."
            )
        return y.reshape(len(y), -1)

    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch on (X, y), starting a network on the first call; return self."""
        return self._fit(X, y, sample_weight, partial=True)

    def predict(self, X):
        """Return f(X), shape (n_samples,) when fitted on 1-D y, else (n_samples, n_outputs)."""
        Y = self._forward(X)
        return Y[:, 0] if self._y_1d else Y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer perceptron classifier trained on the softmax cross-entropy.

    Labels may be any sortable values (ints, strings); ``classes_`` contains
    them in sorted order, and output k of the network is the logit of
    ``classes_[k]``. A binary problem uses two outputs.

    Parameters are those of ``_BaseMLP`` (listed in its docstring).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    network_ : mathlearn.MLP
    loss_curve_ : list of float
    n_iter_ : int
    t_ : int
    n_features_in_ : int
    """

    _loss = "cross_entropy"

    def _encode_targets(self, y, first_call, classes=None):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if first_call:
            if classes is not None:
                labels = np.unique(np.asarray(classes))
            else:
                labels = np.unique(y)
            if len(labels) < 2:
                raise ValueError(
                    f"MLPClassifier needs at least 2 classes to fit; got 1 class ({labels[0]!r}). "
                    f"Pass data with two or more labels, or classes= to partial_fit."
                )
            self._encoder = LabelEncoder().fit(labels)
            self.classes_ = self._encoder.classes_
            self._n_outputs = len(self.classes_)
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()!r} that are not in classes_ "
                f"{self.classes_.tolist()!r}. Pass every label in classes= on the first partial_fit."
            )
        return self._encoder.transform(y).astype(np.int64)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch on (X, y); ``classes`` (all labels) is required on the first call."""
        if not hasattr(self, "network_") and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit, because later batches "
                "may contain labels that this one lacks; pass classes=numpy.unique(y_all)."
            )
        return self._fit(X, y, sample_weight, partial=True, classes=classes)

    def predict_proba(self, X):
        """Return softmax(f(x)) for each row, shape (n_samples, n_classes), columns as ``classes_``."""
        Y = self._forward(X).astype(np.float64)
        Y -= Y.max(axis=1, keepdims=True)
        np.exp(Y, out=Y)
        Y /= Y.sum(axis=1, keepdims=True)
        return Y

    def predict_log_proba(self, X):
        """Return log softmax(f(x)), shape (n_samples, n_classes)."""
        from .losses import log_softmax

        return log_softmax(self._forward(X).astype(np.float64))

    def predict(self, X):
        """Return the label of the largest logit for each row."""
        Y = self._forward(X)
        return self.classes_[np.argmax(Y, axis=1)]
