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
