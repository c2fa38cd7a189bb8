"""Reading a running gateway's verdict on a config it was handed, from its own log lines.

OpenClaw 2026.9.6 logs, after an edit of the watched file: `config hot reload applied (paths)`,
or `config change requires gateway restart (paths)` (then restarts in-process, PID 1 kept), or
`config reload skipped (invalid config): ...`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

APPLIED = ("config hot reload applied", "config change requires gateway restart")
REFUSED = ("config reload skipped",)
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$")


def stamp_seconds(stamp: str) -> float | None:
    """Docker's RFC 3339 (nanosecond) log timestamp as unix seconds."""
    m = _STAMP.match(stamp)
    if not m:
        return None
    whole = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return whole + (float("0." + m.group(2)) if m.group(2) else 0.0)


def reload_outcome(lines: list[tuple[str, str]], since: float) -> tuple[bool, str] | None:
    """(applied?, the gateway's line) for the first verdict logged at or after `since`; None yet."""
    for stamp, text in lines:
        at = stamp_seconds(stamp)
        if at is None or at < since:
            continue
        if any(m in text for m in REFUSED):
            return False, _clean(text)
        if any(m in text for m in APPLIED):
            return True, _clean(text)
    return None


def _clean(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text).strip()
    for marker in APPLIED + REFUSED:  # drop the gateway's own timestamp and subsystem prefix
        at = text.find(marker)
        if at >= 0:
            text = text[at:]
            break
    return text[:500]
