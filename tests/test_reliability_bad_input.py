"""Bad input to every public function: a documented result or a clear error.

Each row of ``CASES`` calls one public function with one bad or unusual
argument. A row either expects an exception of the given type whose
message matches a pattern naming the argument and the value received, or
a documented result that the row checks against a plain recomputation.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import numpy as np
import pytest

import mathlearn as ml
from mathlearn import mdp, shapley
from mathlearn.reference import network as ref


@dataclass
class Raises:
    error: type
    pattern: str


@dataclass
class Returns:
    check: Callable[[object, SimpleNamespace], None]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    net = ml.MLP([3, 4, 2], activation="tanh", seed=0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 3))
    y = rng.normal(size=(5, 2))
    P = np.zeros((2, 3, 3))
    P[0] = np.eye(3)
    P[1] = np.roll(np.eye(3), 1, axis=1)
    R = np.array([[0.0, 1.0], [0.5, 0.0], [1.0, 0.2]])
    model = mdp.FiniteMDP(P, R, gamma=0.9)
    table = np.array([0.0, 1.0, 2.0, 4.0])
    folder = tmp_path_factory.mktemp("csv")
    good_csv = folder / "good.csv"
    good_csv.write_text("a,b,t\n1,2,3\n4,5,6\n7,8,9\n")
    nan_csv = folder / "nan.csv"
    nan_csv.write_text("a,b,t\n1,nan,3\n4,5,6\n")
    return SimpleNamespace(
        net=net, X=X, y=y, P=P, R=R, model=model, table=table, game=shapley.TableGame(table),
        model_game=shapley.ModelGame(net.forward, X[0], X[1:]), folder=folder,
        good_csv=good_csv, nan_csv=nan_csv,
    )


def _forward_ref(net, X):
    return ref.forward(net.layer_sizes, net.activation, net.params, np.asarray(X, dtype=np.float64))


def _equals_forward_of(make_X):
    """Check that the result equals the reference forward pass on ``make_X(c)`` in float64."""

    def check(result, c):
        expected = _forward_ref(c.net, make_X(c))
        assert result.dtype == np.float64
        assert result.shape == expected.shape
        # Both sides run in float64 on inputs of size about 1 through two layers of
        # width <= 4, so they differ by tens of units of rounding (eps = 2.2e-16).
        np.testing.assert_allclose(result, expected, rtol=1e-13, atol=1e-13)

    return check


def _shape_is(shape, dtype=np.float64):
    def check(result, c):
        assert np.asarray(result).shape == shape
        assert np.asarray(result).dtype == dtype

    return check


def _fortran(c):
    return np.asfortranarray(c.X)


def _strided(c):
    wide = np.zeros((c.X.shape[0] * 2, c.X.shape[1] * 3))
    wide[::2, ::3] = c.X
    return wide[::2, ::3]


CASES = [
    # ---- MLP construction -------------------------------------------------
    ("MLP layer_sizes str", lambda c: ml.MLP("3,4"), Raises(TypeError, r"layer_sizes must be a sequence.*'3,4'")),
    ("MLP layer_sizes scalar", lambda c: ml.MLP(3), Raises(TypeError, r"layer_sizes must be a sequence.*3")),
    ("MLP one layer", lambda c: ml.MLP([3]), Raises(ValueError, r"layer_sizes must contain at least 2.*\[3\]")),
    ("MLP zero-size layer", lambda c: ml.MLP([3, 0, 1]), Raises(ValueError, r"layer_sizes\[1\] must be >= 1; got 0")),
    ("MLP negative layer", lambda c: ml.MLP([3, -2]), Raises(ValueError, r"layer_sizes\[1\] must be >= 1; got -2")),
    ("MLP float layer", lambda c: ml.MLP([3, 2.0]), Raises(TypeError, r"layer_sizes\[1\] must be an integer; got 2.0")),
    ("MLP bool layer", lambda c: ml.MLP([True, 2]), Raises(TypeError, r"layer_sizes\[0\] must be an integer; got True")),
    ("MLP absurd layer", lambda c: ml.MLP([3, 2**40]), Raises(ValueError, r"layer_sizes\[1\] must be < 2\*\*31.*1099511627776")),
    ("MLP absurd params", lambda c: ml.MLP([2**30, 2**30]), Raises(ValueError, r"MLP with layer sizes \[1073741824, 1073741824\].*needs [\d,]+ bytes")),
    ("MLP activation unknown", lambda c: ml.MLP([2, 1], activation="swish"), Raises(ValueError, r"activation must be one of .*; got 'swish'")),
    ("MLP activation None", lambda c: ml.MLP([2, 1], activation=None), Raises(ValueError, r"activation must be one of .*; got None")),
    ("MLP dtype float16", lambda c: ml.MLP([2, 1], dtype=np.float16), Raises(TypeError, r"dtype must be numpy.float64 or numpy.float32; got float16")),
    ("MLP dtype int", lambda c: ml.MLP([2, 1], dtype=int), Raises(TypeError, r"dtype must be numpy.float64 or numpy.float32; got int64")),
    ("MLP dtype complex", lambda c: ml.MLP([2, 1], dtype=np.complex128), Raises(TypeError, r"dtype must be .*; got complex128")),
    ("MLP seed negative", lambda c: ml.MLP([2, 1], seed=-1), Raises(ValueError, r"seed must be a non-negative int; got -1")),
    ("MLP seed float", lambda c: ml.MLP([2, 1], seed=1.5), Raises(TypeError, r"seed must be None, a non-negative int.*1.5")),
    ("MLP seed legacy RandomState", lambda c: ml.MLP([2, 1], seed=np.random.RandomState(0)), Raises(TypeError, r"seed must be None.*RandomState")),
    # ---- MLP.forward ------------------------------------------------------
    ("forward 1-d X", lambda c: c.net.forward(c.X[0]), Raises(ValueError, r"X must have 2 dimension\(s\); got an array of shape \(3,\)")),
    ("forward 3-d X", lambda c: c.net.forward(c.X[None]), Raises(ValueError, r"X must have 2 dimension\(s\); got .* \(1, 5, 3\)")),
    ("forward wrong columns", lambda c: c.net.forward(np.zeros((2, 4))), Raises(ValueError, r"X must have 3 columns.*got shape \(2, 4\)")),
    ("forward object X", lambda c: c.net.forward(np.array([[1, "a", 2]], dtype=object)), Raises(TypeError, r"X must be a real numeric array.*got dtype object")),
    ("forward complex X", lambda c: c.net.forward(c.X + 1j), Raises(TypeError, r"X must be a real numeric array.*complex128")),
    ("forward string X", lambda c: c.net.forward("x"), Raises(TypeError, r"X must be a numeric array; got a str 'x'")),
    ("forward ragged X", lambda c: c.net.forward([[1, 2, 3], [1]]), Raises(TypeError, r"X must be a numeric array of a regular shape")),
    ("forward NaN X", lambda c: c.net.forward(np.where(np.eye(5, 3) > 0, np.nan, c.X)), Raises(ValueError, r"X must contain only finite values; got nan at index \(0, 0\)")),
    ("forward inf X", lambda c: c.net.forward(np.full((1, 3), -np.inf)), Raises(ValueError, r"X must contain only finite values; got -inf")),
    ("forward empty batch", lambda c: c.net.forward(np.zeros((0, 3))), Returns(_shape_is((0, 2)))),
    ("forward int X", lambda c: c.net.forward(np.arange(6).reshape(2, 3)), Returns(_equals_forward_of(lambda c: np.arange(6).reshape(2, 3)))),
    ("forward bool X", lambda c: c.net.forward(np.eye(3, dtype=bool)), Returns(_equals_forward_of(lambda c: np.eye(3)))),
    ("forward float16 X", lambda c: c.net.forward(c.X.astype(np.float16)), Returns(_equals_forward_of(lambda c: c.X.astype(np.float16).astype(np.float64)))),
    ("forward Fortran X", lambda c: c.net.forward(_fortran(c)), Returns(_equals_forward_of(lambda c: c.X))),
    ("forward strided X", lambda c: c.net.forward(_strided(c)), Returns(_equals_forward_of(lambda c: c.X))),
    ("forward reversed X", lambda c: c.net.forward(c.X[::-1, ::-1]), Returns(_equals_forward_of(lambda c: np.ascontiguousarray(c.X[::-1, ::-1])))),
    ("forward list X", lambda c: c.net.forward(c.X.tolist()), Returns(_equals_forward_of(lambda c: c.X))),
    # ---- MLP.loss_gradient, loss, jacobian, params ------------------------
    ("loss_gradient empty batch", lambda c: c.net.loss_gradient(np.zeros((0, 3)), np.zeros((0, 2))), Raises(ValueError, r"X must contain at least one sample.*\(0, n_0\)")),
    ("loss_gradient y rows", lambda c: c.net.loss_gradient(c.X, c.y[:4]), Raises(ValueError, r"y must have shape \(5, 2\) to match X and the network outputs; got shape \(4, 2\)")),
    ("loss_gradient y NaN", lambda c: c.net.loss_gradient(c.X, np.full((5, 2), np.nan)), Raises(ValueError, r"y must contain only finite values; got nan")),
    ("loss_gradient y complex", lambda c: c.net.loss_gradient(c.X, c.y * 1j), Raises(TypeError, r"y must be a real numeric array.*complex128")),
    ("loss_gradient loss unknown", lambda c: c.net.loss_gradient(c.X, c.y, loss="hinge"), Raises(ValueError, r"loss must be one of .*'hinge'")),
    ("loss_gradient labels out of range", lambda c: c.net.loss_gradient(c.X, np.array([0, 1, 2, 0, 1]), loss="cross_entropy"), Raises(ValueError, r"y must contain class labels in \[0, 1\] for a network with 2 outputs; got label 2")),
    ("loss_gradient float labels", lambda c: c.net.loss_gradient(c.X, np.array([0.5, 1, 0, 0, 1]), loss="cross_entropy"), Raises(TypeError, r"y for loss='cross_entropy' .* must contain integer class labels; got dtype float64")),
    ("jacobian chunk_size 0", lambda c: c.net.jacobian(c.X, chunk_size=0), Raises(ValueError, r"chunk_size must be >= 1; got 0")),
    ("jacobian chunk_size float", lambda c: c.net.jacobian(c.X, chunk_size=2.0), Raises(TypeError, r"chunk_size must be an integer; got 2.0")),
    ("jacobian out float32", lambda c: c.net.jacobian(c.X, out=np.empty((5, 2, c.net.n_params), np.float32)), Raises(ValueError, r"out must have dtype float64.*got float32")),
    ("jacobian out wrong shape", lambda c: c.net.jacobian(c.X, out=np.empty((5, 2, 3))), Raises(ValueError, r"out must have shape \(5, 2, 26\); got \(5, 2, 3\)")),
    ("jacobian out Fortran", lambda c: c.net.jacobian(c.X, out=np.empty((5, 2, 26), order="F")), Raises(ValueError, r"out must be C-contiguous")),
    ("jacobian out list", lambda c: c.net.jacobian(c.X, out=[0.0] * 260), Raises(TypeError, r"out must be a numpy.ndarray; got list")),
    ("jacobian empty batch", lambda c: c.net.jacobian(np.zeros((0, 3))), Returns(_shape_is((0, 2, 26)))),
    ("params wrong length", lambda c: setattr(c.net.copy(), "params", np.zeros(25)), Raises(ValueError, r"params must have shape \(26,\).*got shape \(25,\)")),
    ("params inf", lambda c: setattr(c.net.copy(), "params", np.full(26, np.inf)), Raises(ValueError, r"params must contain only finite values; got inf")),
    # ---- ml.train ---------------------------------------------------------
    ("train epochs 0", lambda c: ml.train(c.net.copy(), c.X, c.y, epochs=0), Raises(ValueError, r"epochs must be >= 1; got 0")),
    ("train lr negative", lambda c: ml.train(c.net.copy(), c.X, c.y, lr=-0.1), Raises(ValueError, r"lr must be in .*; got -0.1")),
    ("train lr nan", lambda c: ml.train(c.net.copy(), c.X, c.y, lr=float("nan")), Raises(ValueError, r"lr must be in .*; got nan")),
    ("train batch_size 0", lambda c: ml.train(c.net.copy(), c.X, c.y, batch_size=0), Raises(ValueError, r"batch_size must be >= 1; got 0")),
    ("train test_size 1", lambda c: ml.train(c.net.copy(), c.X, c.y, test_size=1.0), Raises(ValueError, r"test_size must be in \[0.0, 1.0\); got 1.0")),
    # The shared network: the final check of test_bad_input shows it stays unchanged.
    ("train NaN y leaves net", lambda c: ml.train(c.net, c.X, np.where(np.eye(5, 2) > 0, np.nan, c.y)), Raises(ValueError, r"y must contain only finite values; got nan")),
    ("train X y rows", lambda c: ml.train(c.net.copy(), c.X, c.y[:3]), Raises(ValueError, r"y must have one row per row of X \(5\); got y of shape \(3, 2\)")),
    ("train not a network", lambda c: ml.train("net", c.X, c.y), Raises(TypeError, r"net must be a mathlearn.MLP; got str")),
    # ---- shapley games, exact, sample, explain, voting --------------------
    ("TableGame length 3", lambda c: shapley.TableGame([0, 1, 2]), Raises(ValueError, r"values must have 2\*\*n rows.*got 3 rows")),
    ("TableGame length 1", lambda c: shapley.TableGame([0.0]), Raises(ValueError, r"values must have 2\*\*n rows.*got 1 rows")),
    ("TableGame empty", lambda c: shapley.TableGame([]), Raises(ValueError, r"values must not be empty; got an array of shape \(0,\)")),
    ("TableGame NaN", lambda c: shapley.TableGame([0, np.nan, 1, 2]), Raises(ValueError, r"values must contain only finite values; got nan at index 1")),
    ("TableGame complex", lambda c: shapley.TableGame(np.zeros(4, complex)), Raises(TypeError, r"values must be a real numeric array.*complex128")),
    ("TableGame 3-d", lambda c: shapley.TableGame(np.zeros((4, 2, 2))), Raises(ValueError, r"values must have 1 or 2 dimension\(s\); got .* \(4, 2, 2\)")),
    ("TableGame bool", lambda c: shapley.exact(shapley.TableGame(np.array([0, 0, 0, 1], bool))), Returns(lambda r, c: np.testing.assert_array_equal(r, [0.5, 0.5]))),
    ("TableGame float32 kept", lambda c: shapley.exact(shapley.TableGame(np.float32([0, 1, 2, 4]))), Returns(lambda r, c: np.testing.assert_allclose(r, [1.5, 2.5], rtol=1e-6))),
    ("TableGame strided values", lambda c: shapley.exact(shapley.TableGame(np.repeat(c.table, 2)[::2])), Returns(lambda r, c: np.testing.assert_array_equal(r, shapley.exact(c.game)))),
    ("ModelGame Fortran background", lambda c: shapley.exact(shapley.ModelGame(c.net.forward, c.X[0], np.asfortranarray(c.X[1:]))), Returns(lambda r, c: np.testing.assert_array_equal(r, shapley.exact(c.model_game)))),
    ("ModelGame int point", lambda c: shapley.exact(shapley.ModelGame(c.net.forward, np.array([1, 0, 2]), c.X[1:])), Returns(lambda r, c: np.testing.assert_array_equal(r, shapley.exact(shapley.ModelGame(c.net.forward, np.array([1.0, 0.0, 2.0]), c.X[1:]))))),
    ("exact method unknown", lambda c: shapley.exact(c.game, method="fast"), Raises(ValueError, r"method must be one of .*'fast'")),
    ("exact not a game", lambda c: shapley.exact([0, 1, 2, 4]), Raises(TypeError, r"game must have n_players, n_outputs and table\(\) or values\(masks\).*got list")),
    ("sample budget 0", lambda c: shapley.sample(c.game, 0, seed=0), Raises(ValueError, r"budget must be >= 1; got 0")),
    ("sample budget float", lambda c: shapley.sample(c.game, 100.5, seed=0), Raises(TypeError, r"budget must be an integer; got 100.5")),
    ("sample method unknown", lambda c: shapley.sample(c.game, 100, method="mc", seed=0), Raises(ValueError, r"method must be one of .*'mc'")),
    ("sample seed string", lambda c: shapley.sample(c.game, 100, seed="0"), Raises(TypeError, r"seed must be None, a non-negative int.*'0'")),
    ("ModelGame f not callable", lambda c: shapley.ModelGame(3, c.X[0], c.X), Raises(TypeError, r"f must be a callable .*; got int")),
    ("ModelGame x wrong length", lambda c: shapley.ModelGame(c.net.forward, c.X[0, :2], c.X), Raises(ValueError, r"x and background must have the same number of features; got x of length 2 and background of shape \(5, 3\)")),
    ("ModelGame empty background", lambda c: shapley.ModelGame(c.net.forward, c.X[0], np.zeros((0, 3))), Raises(ValueError, r"background must have at least one row; got shape \(0, 3\)")),
    ("explain method unknown", lambda c: shapley.explain(c.net.forward, c.X[:1], c.X, method="lime"), Raises(ValueError, r"method must be one of .*'lime'")),
    ("explain sampling without budget", lambda c: shapley.explain(c.net.forward, c.X[:1], c.X, method="kernel"), Raises(ValueError, r"budget is required for method='kernel'")),
    ("explain no rows", lambda c: shapley.explain(c.net.forward, np.zeros((0, 3)), c.X).values, Returns(_shape_is((0, 3, 2)))),
    ("WeightedVotingGame quota 0", lambda c: shapley.WeightedVotingGame(0, [1, 2]), Raises(ValueError, r"quota must be >= 1; got 0")),
    ("WeightedVotingGame quota above sum", lambda c: shapley.WeightedVotingGame(10, [1, 2]), Raises(ValueError, r"quota must be <= 3; got 10")),
    ("WeightedVotingGame float weights", lambda c: shapley.WeightedVotingGame(2, [1.5, 2]), Raises(TypeError, r"weights must be integers.*got dtype float64")),
    ("WeightedVotingGame negative weight", lambda c: shapley.WeightedVotingGame(1, [1, -2]), Raises(ValueError, r"weights must be non-negative; got -2 at index 1")),
    ("shapley_shubik not voting", lambda c: shapley.shapley_shubik(c.game), Raises(TypeError, r"game must be a shapley.WeightedVotingGame; got TableGame")),
    ("banzhaf not voting", lambda c: shapley.banzhaf([1, 2]), Raises(TypeError, r"game must be a shapley.WeightedVotingGame; got list")),
    ("CallableGame n_players 0", lambda c: shapley.CallableGame(lambda m: m.sum(1), 0), Raises(ValueError, r"n_players must be >= 1; got 0")),
    # ---- mdp --------------------------------------------------------------
    ("FiniteMDP gamma 1.5", lambda c: mdp.FiniteMDP(c.P, c.R, gamma=1.5), Raises(ValueError, r"gamma must be in \[0.0, 1.0\]; got 1.5")),
    ("FiniteMDP gamma nan", lambda c: mdp.FiniteMDP(c.P, c.R, gamma=float("nan")), Raises(ValueError, r"gamma must be in \[0.0, 1.0\]; got nan")),
    ("FiniteMDP P not stochastic", lambda c: mdp.FiniteMDP(c.P * 0.5, c.R, gamma=0.9), Raises(ValueError, r"P must contain probability distributions summing to 1.*a=0, s=0 sums to 0.5")),
    ("FiniteMDP P negative", lambda c: mdp.FiniteMDP(c.P - 0.1, c.R, gamma=0.9), Raises(ValueError, r"P must contain probabilities >= 0; got -0.1 at a=0, s=0")),
    ("FiniteMDP P 2-d", lambda c: mdp.FiniteMDP(c.P[0], c.R, gamma=0.9), Raises(ValueError, r"P must have 3 dimension.*\(3, 3\)")),
    ("FiniteMDP R shape", lambda c: mdp.FiniteMDP(c.P, c.R.T, gamma=0.9), Raises(ValueError, r"R must have shape \(S, A\) = \(3, 2\) to match P; got shape \(2, 3\)")),
    ("FiniteMDP R inf", lambda c: mdp.FiniteMDP(c.P, np.full((3, 2), np.inf), gamma=0.9), Raises(ValueError, r"R must contain only finite values; got inf")),
    ("FiniteMDP P complex", lambda c: mdp.FiniteMDP(c.P.astype(complex), c.R, gamma=0.9), Raises(TypeError, r"P must be a real numeric array.*complex128")),
    ("FiniteMDP P object", lambda c: mdp.FiniteMDP(c.P.astype(object), c.R, gamma=0.9), Raises(TypeError, r"P must be a real numeric array.*object")),
    ("FiniteMDP P Fortran", lambda c: mdp.value_iteration(mdp.FiniteMDP(np.asfortranarray(c.P), c.R, gamma=0.9)).v, Returns(lambda r, c: np.testing.assert_array_equal(r, mdp.value_iteration(c.model).v))),
    ("FiniteMDP R strided", lambda c: mdp.value_iteration(mdp.FiniteMDP(c.P, np.repeat(c.R, 2, axis=1)[:, ::2], gamma=0.9)).v, Returns(lambda r, c: np.testing.assert_array_equal(r, mdp.value_iteration(c.model).v))),
    ("value_iteration epsilon 0", lambda c: mdp.value_iteration(c.model, epsilon=0), Raises(ValueError, r"epsilon must be in \(0.*; got 0.0")),
    ("value_iteration max_iter 0", lambda c: mdp.value_iteration(c.model, max_iter=0), Raises(ValueError, r"max_iter must be >= 1; got 0")),
    ("value_iteration v0 shape", lambda c: mdp.value_iteration(c.model, v0=np.zeros(4)), Raises(ValueError, r"v0 must have shape \(S,\) = \(3,\); got shape \(4,\)")),
    ("value_iteration method unknown", lambda c: mdp.value_iteration(c.model, method="newton"), Raises(ValueError, r"method must be one of .*'newton'")),
    ("value_iteration not a model", lambda c: mdp.value_iteration(c.P), Raises(TypeError, r"model must be a mathlearn.mdp.FiniteMDP; got ndarray")),
    ("evaluate_policy pi rows not summing", lambda c: mdp.evaluate_policy(c.model, np.full((3, 2), 0.4)), Raises(ValueError, r"pi rows must be distributions summing to 1.*row s=0 sums to 0.8")),
    ("evaluate_policy pi shape", lambda c: mdp.evaluate_policy(c.model, np.full((2, 3), 0.5)), Raises(ValueError, r"pi must have shape \(S, A\) = \(3, 2\).*got shape \(2, 3\)")),
    ("evaluate_policy action out of range", lambda c: mdp.evaluate_policy(c.model, np.array([0, 1, 2])), Raises(ValueError, r"pi must contain actions in 0 \.\. 1; got 2 at s=2")),
    ("policy_iteration max_iter -1", lambda c: mdp.policy_iteration(c.model, max_iter=-1), Raises(ValueError, r"max_iter must be >= 1; got -1")),
    ("modified_policy_iteration sweeps -1", lambda c: mdp.modified_policy_iteration(c.model, n_eval_sweeps=-1), Raises(ValueError, r"n_eval_sweeps must be >= 0; got -1")),
    ("softmax_policy temperature 0", lambda c: mdp.softmax_policy(np.zeros((3, 2)), temperature=0), Raises(ValueError, r"temperature must be in \(0.0, inf\); got 0.0")),
    ("epsilon_greedy epsilon 2", lambda c: mdp.epsilon_greedy_policy(np.zeros((3, 2)), epsilon=2.0), Raises(ValueError, r"epsilon must be in \[0.*; got 2.0")),
    ("softmax_policy NaN q", lambda c: mdp.softmax_policy(np.full((3, 2), np.nan)), Raises(ValueError, r"q must contain only finite values; got nan")),
    ("reinforce batch_size 0", lambda c: mdp.reinforce(c.model, batch_size=0, seed=0), Raises(ValueError, r"batch_size must be >= 1; got 0")),
    ("reinforce optimizer unknown", lambda c: mdp.reinforce(c.model, optimizer="rmsprop", seed=0), Raises(ValueError, r"optimizer must be one of .*'rmsprop'")),
    # ---- datasets and threads ----------------------------------------------
    ("load_csv missing file", lambda c: ml.datasets.load_csv(c.folder / "none.csv", "t"), Raises(FileNotFoundError, r"none.csv")),
    ("load_csv unknown target", lambda c: ml.datasets.load_csv(c.good_csv, "z"), Raises(ValueError, r"target column 'z' not found .*the columns are: a, b, t")),
    ("load_csv NaN cell", lambda c: ml.datasets.load_csv(c.nan_csv, "t"), Raises(ValueError, r"nan\.csv, line 2, column 'b': 'nan' is not finite")),
    ("load_csv target not str", lambda c: ml.datasets.load_csv(c.good_csv, 2), Raises(TypeError, r"target must be a column name \(str\); got 2 of type int")),
    ("load_csv directory", lambda c: ml.datasets.load_csv(c.folder, "t"), Raises(ValueError, r"is a directory; expected a CSV file")),
    ("set_num_threads 0", lambda c: ml.set_num_threads(0), Raises(ValueError, r"n must be >= 1; got 0")),
    ("set_num_threads too many", lambda c: ml.set_num_threads(10_000), Raises(ValueError, r"n must be <= \d+; got 10000")),
    ("set_num_threads float", lambda c: ml.set_num_threads(1.0), Raises(TypeError, r"n must be an integer; got 1.0")),
    # ---- messages that name the argument the caller passed -------------------
    ("ModelGame string x", lambda c: shapley.ModelGame(c.net.forward, np.array(["a", "b", "c"]), c.X), Raises(TypeError, r"^x must be a real numeric array.*got dtype <U1\. Convert it with numpy\.asarray\(x")),
    ("ModelGame NaN background", lambda c: shapley.ModelGame(c.net.forward, c.X[0], np.where(c.X > 1e9, 0, np.nan)), Raises(ValueError, r"^background must contain only finite values; got nan at index \(0, 0\)")),
    ("loss 1-d y rows", lambda c: ml.MLP([3, 1], seed=0).loss(c.X, np.zeros(4)), Raises(ValueError, r"y must have shape \(5,\) or \(5, 1\), one target per row of X; got shape \(4,\)\.$")),
    ("sample budget below antithetic minimum", lambda c: shapley.sample(shapley.TableGame([0.0, 1.0]), budget=1), Raises(ValueError, r"method='antithetic' with 1 players; got 1\. Raise the budget to 2\.$")),
    ("sample budget below kernel minimum", lambda c: shapley.sample(shapley.TableGame(np.arange(16.0)), budget=9, method="kernel"), Raises(ValueError, r"at least 10 .*Raise the budget to 10 or choose method='permutation' \(minimum 8\)\.$")),
    ("sample seed SeedSequence", lambda c: shapley.sample(c.game, 100, seed=np.random.SeedSequence(1)), Raises(TypeError, r"got an object of type SeedSequence\. Pass numpy\.random\.default_rng\(seed\)[^\n]*$")),
    ("save into missing folder", lambda c: ml.save(c.folder / "missing" / "net.npz", c.net), Raises(FileNotFoundError, r"^\[Errno 2\] cannot save the model to '[^']*missing/net\.npz': No such file")),
    ("save onto a folder", lambda c: ml.save(c.folder, c.net), Raises(IsADirectoryError, r"^\[Errno 21\] cannot save the model: '[^']*' is a directory")),
    ("WeightedVotingGame zero weights", lambda c: shapley.WeightedVotingGame(1, [0, 0, 0]), Raises(ValueError, r"weights must have a positive sum.*got all 3 weights equal to 0")),
]


def _case_id(case):
    return case.values[0] if hasattr(case, "values") else case[0]


@pytest.mark.parametrize("name, call, expected", CASES, ids=[_case_id(case) for case in CASES])
def test_bad_input(ctx, name, call, expected):
    before = ml.get_num_threads()
    net_params = ctx.net.params.copy()
    try:
        if isinstance(expected, Raises):
            with pytest.raises(expected.error, match=expected.pattern):
                call(ctx)
        else:
            expected.check(call(ctx), ctx)
    finally:
        ml.set_num_threads(before)
    # Nothing half-written: the shared network is never changed by a failed call.
    assert ctx.net.params.tobytes() == net_params.tobytes()


def test_catalogue_size():
    assert len(CASES) >= 60
