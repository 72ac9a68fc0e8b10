"""ModelGame and exact against the exact explainer of the shap package.

shap's ``explainers.Exact`` with a ``maskers.Independent`` masker over
all K background rows computes the same interventional game,
v_x(S) = (1/K) sum_k f(x_S, (b_k)_{N minus S}), and its exact Shapley
values (checked with shap 0.51). The tests skip when shap is not
installed; it is a peer library, not a dependency.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_shapley_exact import kernel_bound
from test_shapley_model import U, TwoLayerModel, hybrid_extent

from mathlearn import shapley

shap = pytest.importorskip("shap")


@pytest.mark.parametrize("method", shapley.METHODS)
@pytest.mark.parametrize("n_outputs", [None, 3])
def test_exact_matches_shap_exact_explainer(method, n_outputs):
    n, K, hidden = 6, 25, 12
    rng = np.random.default_rng(7)
    model = TwoLayerModel(8, n, hidden, n_outputs)
    x = rng.normal(size=n)
    background = rng.normal(size=(K, n))

    explainer = shap.explainers.Exact(model, shap.maskers.Independent(background, max_samples=K))
    explanation = explainer(x[None, :])
    phi = shapley.exact(shapley.ModelGame(model, x, background), method=method)

    # Both sides evaluate f in their own batches and average K values, then
    # each sums weighted differences within kernel_bound of the exact value.
    size, error = model.error_bound(hybrid_extent(x, background))
    table_gap = 2 * error + 2 * (K + 1) * U * size
    atol = 2 * table_gap + 2 * kernel_bound(n, size)
    assert phi.shape == explanation.values[0].shape
    np.testing.assert_allclose(phi, explanation.values[0], rtol=0, atol=atol)


def test_exact_matches_shapiq_exact_computer():
    shapiq = pytest.importorskip("shapiq")
    n = 9
    table = np.random.default_rng(3).normal(size=2**n)
    powers = 1 << np.arange(n)

    def v(coalitions):
        return table[np.atleast_2d(coalitions).astype(np.int64) @ powers]

    values = shapiq.ExactComputer(v, n_players=n, evaluate_game=True)("SV")
    theirs = np.array([values[(i,)] for i in range(n)])
    # Both sums run over 2**(n-1) differences of values below 5 in magnitude, weights summing to 1.
    np.testing.assert_allclose(shapley.exact(shapley.TableGame(table)), theirs, rtol=0, atol=4 * 2**n * U * 10)


def test_kernel_full_budget_matches_shap_kernel_explainer():
    # With nsamples >= 2**n - 2, shap's KernelExplainer enumerates every
    # coalition and returns the exact values; so does sample at 2**n.
    n, K = 6, 8
    rng = np.random.default_rng(4)
    model = TwoLayerModel(5, n, 10)
    x, background = rng.normal(size=n), rng.normal(size=(K, n))
    explainer = shap.KernelExplainer(model, background)
    theirs = explainer.shap_values(x[None, :], nsamples=2**n, l1_reg=False, silent=True)[0]
    ours = shapley.sample(shapley.ModelGame(model, x, background), 2**n, method="kernel", seed=0).values
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
