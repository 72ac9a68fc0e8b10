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
