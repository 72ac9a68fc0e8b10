"""Progress bars: when they are drawn, and the silent stand-in."""

import io

import pytest

from mathlearn._progress import progress, progress_enabled


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_off_when_asked():
    assert progress_enabled(False, Terminal()) is False


def test_off_when_not_a_terminal():
    assert progress_enabled(None, io.StringIO()) is False


def test_environment_turns_bars_off(monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.setenv("MATHLEARN_PROGRESS", "0")
    assert progress_enabled(True, Terminal()) is False
    assert progress_enabled(None, Terminal()) is False


def test_on_for_terminal(monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.delenv("MATHLEARN_PROGRESS", raising=False)
    assert progress_enabled(None, Terminal()) is True
    assert progress_enabled(True, io.StringIO()) is True


def test_silent_bar_yields_every_item():
    bar = progress(range(5), total=5, show=False)
    assert list(bar) == [0, 1, 2, 3, 4]
    assert bar.n == 5
    with progress(total=3, show=False) as manual:
        manual.update(2)
        manual.set_postfix_str("ignored")
    assert manual.n == 2


def test_tqdm_bar_draws_description(monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.delenv("MATHLEARN_PROGRESS", raising=False)
    stream = io.StringIO()
    bar = progress(range(3), total=3, desc="sweeps", show=True, delay=0.0, file=stream)
    assert list(bar) == [0, 1, 2]
    bar.close()
    assert "sweeps" in stream.getvalue()


def test_bad_show_value():
    with pytest.raises(TypeError, match="progress must be None"):
        progress_enabled("yes")


@pytest.fixture
def captured_bars(monkeypatch):
    """Force every bar on, without delay, into one stream; return the stream."""
    pytest.importorskip("tqdm")
    import mathlearn._progress as module

    stream = io.StringIO()
    original = module.progress

    def always_shown(iterable=None, **options):
        options.update(show=True, delay=0.0, file=stream)
        return original(iterable, **options)

    monkeypatch.setattr(module, "progress", always_shown)
    monkeypatch.delenv("MATHLEARN_PROGRESS", raising=False)
    return stream


def test_value_iteration_draws_sweeps(captured_bars):
    import numpy as np
    from scipy import sparse

    from mathlearn import mdp

    # The sparse path loops over sweeps in Python, one bar step per sweep.
    P = sparse.csr_matrix(np.full((4 * 2, 4), 0.25))
    model = mdp.FiniteMDP(P, np.ones((4, 2)), 0.9)
    mdp.value_iteration(model, epsilon=1e-6)
    assert "value iteration" in captured_bars.getvalue()


def test_model_game_draws_batches(captured_bars):
    import numpy as np

    from mathlearn import shapley

    rng = np.random.default_rng(0)
    game = shapley.ModelGame(lambda Z: Z.sum(axis=1), rng.normal(size=4), rng.normal(size=(5, 4)))
    shapley.exact(game)
    assert "model evaluations" in captured_bars.getvalue()
