"""Log lines go to the stderr of the moment, as one JSON object each."""

from __future__ import annotations

import io
import json

import pytest

from argus.logs import configure_logging, get_logger


def test_a_swapped_and_closed_stderr_does_not_break_logging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    configure_logging("INFO", json=True)
    get_logger("t").info("one", n=1)
    second = io.StringIO()
    monkeypatch.setattr("sys.stderr", second)
    first.close()  # what a test runner does to the stream it captured into
    get_logger("t").error("two", n=2)  # must not raise "I/O operation on closed file"
    line = json.loads(second.getvalue().strip())
    assert (line["event"], line["n"], line["level"]) == ("two", 2, "error")
