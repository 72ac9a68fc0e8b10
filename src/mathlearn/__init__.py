"""mathlearn: machine learning as the mathematics states it, exactly and fast.

Parts
-----
``mathlearn.MLP``, ``mathlearn.train``
    Networks as alternating compositions of affine maps and a componentwise
    activation, with forward passes, loss gradients and per-sample
    Jacobians from C++ kernels.
``mathlearn.shapley``
    Exact Shapley values of cooperative games and of a model at a point.
``mathlearn.mdp``
    Finite Markov decision processes and the Bellman equations.
``mathlearn.approximation``, ``mathlearn.plots``
    Density experiments (sup-norm error against width and depth) and
    matplotlib figures for every part.

Subpackages load on first use, so ``import mathlearn`` stays fast.
"""

from __future__ import annotations

import importlib

from ._threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

_LAZY = {
    "MLP": ("network", "MLP"),
    "MLPRegressor": ("estimators", "MLPRegressor"),
    "MLPClassifier": ("estimators", "MLPClassifier"),
    "estimators": ("estimators", None),
    "train": ("training", "train"),
    "TrainingResult": ("training", "TrainingResult"),
    "train_test_split": ("training", "train_test_split"),
    "network": ("network", None),
    "training": ("training", None),
    "shapley": ("shapley", None),
    "mdp": ("mdp", None),
    "reference": ("reference", None),
    "datasets": ("datasets", None),
    "activations": ("activations", None),
    "losses": ("losses", None),
    "approximation": ("approximation", None),
    "plots": ("plots", None),
    "distributed": ("distributed", None),
    "io": ("io", None),
    "save": ("io", "save"),
    "load": ("io", "load"),
}

__all__ = sorted([*_LAZY, "set_num_threads", "get_num_threads", "__version__"])


def __getattr__(name):
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'mathlearn' has no attribute {name!r}") from None
    module = importlib.import_module(f".{module_name}", __name__)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__():
    return __all__
