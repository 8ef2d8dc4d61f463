"""The PTB tokenizer (java, through pycocoevalcap's jar): the same tokens as pycocoevalcap's
wrapper, and java's "PTBTokenizer tokenized ..." line kept off the console (it printed under the
progress bars of every run with caption metrics)."""

from __future__ import annotations

import shutil
import stat
import warnings
from pathlib import Path

import pytest

from harness.quality.text import QualityNote, ptb_tokenize

CHATTER = "PTBTokenizer tokenized 9 tokens at 1000.00 tokens per second."
TEXTS = {("h", 1): ["A big, red star (left)."], ("r", 1): ["Two shapes:\na star; a circle!", "It's the \"top\"."],
         ("h", 2): ["Nothing at all..."]}


def _fake_java(folder: Path, body: str) -> None:
    """A `java` on PATH that runs `body` (a shell script) instead of the JVM."""
    folder.mkdir()
    java = folder / "java"
    java.write_text("#!/bin/sh\n" + body)
    java.chmod(java.stat().st_mode | stat.S_IXUSR)


@pytest.mark.skipif(shutil.which("java") is None, reason="java is needed by pycocoevalcap")
def test_same_tokens_as_pycocoevalcap_and_no_chatter(capfd: pytest.CaptureFixture[str]) -> None:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    theirs = PTBTokenizer().tokenize({k: [{"caption": t} for t in v] for k, v in TEXTS.items()})
    assert "PTBTokenizer tokenized" in capfd.readouterr().err  # what reached the console before
    assert ptb_tokenize(TEXTS) == theirs
    out, err = capfd.readouterr()
    assert "PTBTokenizer" not in out + err


def test_java_stderr_is_captured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capfd: pytest.CaptureFixture[str]) -> None:
    # The sixth argument is the file of sentences, one a line; lower-cased, as -lowerCase does.
    _fake_java(tmp_path / "bin", f'echo "{CHATTER}" >&2\ntr "A-Z" "a-z" < "$6"\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{Path('/usr/bin')}:{Path('/bin')}")
    got = ptb_tokenize(TEXTS)
    assert got[("r", 1)] == ["two shapes: a star; a circle!", "it's the \"top\"."]
    assert got[("h", 2)] == ["nothing at all..."]
    out, err = capfd.readouterr()
    assert "PTBTokenizer" not in out + err


def test_a_failing_java_is_a_note_with_its_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    _fake_java(tmp_path / "bin", 'echo "Error: could not find main class" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{Path('/usr/bin')}:{Path('/bin')}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", QualityNote)
        got = ptb_tokenize(TEXTS)
    notes = [str(w.message) for w in caught if issubclass(w.category, QualityNote)]
    assert notes == ["PTB tokenizer failed (java exited with 1: Error: could not find main class); "
                     "using a plain word tokenizer"]
    assert got[("h", 1)] == ["a big red star left"]
    assert "Error" not in capfd.readouterr().err
