"""format_duration writes nanoseconds as the manifest does, and parse_duration reads it back."""

from __future__ import annotations

import pytest

from deployer.core.encodings import format_duration, parse_duration


@pytest.mark.parametrize("ns, text", [
    (0, "0s"), (500_000_000, "500ms"), (10_000_000_000, "10s"), (90_000_000_000, "1m30s"),
    (3_600_000_000_000, "1h"), (1_500_000_000, "1s500ms"), (3_723_000_000_000, "1h2m3s"),
])
def test_format_duration_round_trips(ns: int, text: str) -> None:
    assert format_duration(ns) == text and parse_duration(text) == ns
