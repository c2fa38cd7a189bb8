"""The gateway's verdict on a config it was handed, read from `docker logs --timestamps` lines:
(Docker's RFC 3339 nanosecond stamp, the gateway's own line)."""

from __future__ import annotations

import pytest

from deployer.openclaw.reload import reload_outcome, stamp_seconds

T0 = 1796162347.0  # 2026-12-01T21:59:07Z


@pytest.mark.parametrize("stamp, expected", [
    ("2026-12-01T21:59:07Z", T0),
    ("2026-12-01T21:59:07.5Z", T0 + 0.5),
    ("2026-12-01T21:59:07.321456789Z", T0 + 0.321456789),
    ("1970-01-01T00:00:00.000000001Z", 1e-9),
    ("2026-12-01T21:59:07.321+00:00", None),  # Docker always writes Z
    ("2026-12-01 21:59:07Z", None),
    ("2026-12-01T21:59:07", None),
    ("", None),
    ("garbage", None),
])
def test_stamp_seconds(stamp: str, expected: float | None) -> None:
    got = stamp_seconds(stamp)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-6)


APPLIED = "2026-12-01T21:59:07.321+00:00 [reload] config hot reload applied (agents.defaults.model.primary)"
RESTART = "2026-12-01T21:59:07.321+00:00 [reload] config change requires gateway restart (gateway.controlUi.basePath)"
SKIPPED = '2026-12-01T21:59:07.321+00:00 [reload] config reload skipped (invalid config): : Unrecognized key: "bogusKey"'
DETECTED = ("2026-12-01T21:59:07.101+00:00 [reload] config change detected; evaluating reload "
            "(agents.defaults.model, plugins.entries.anthropic)")


def at(offset: float) -> str:
    """Docker's stamp for T0 + offset (offset in whole milliseconds)."""
    ms = round(offset * 1000)
    return f"2026-12-01T21:59:{7 + ms // 1000:02d}.{ms % 1000:03d}000000Z"


OUTCOME_CASES = [
    pytest.param([(at(1), APPLIED)], (True, "config hot reload applied (agents.defaults.model.primary)"), id="applied"),
    pytest.param([(at(1), RESTART)], (True, "config change requires gateway restart (gateway.controlUi.basePath)"),
                 id="in-process-restart-counts-as-applied"),
    pytest.param([(at(1), SKIPPED)], (False, 'config reload skipped (invalid config): : Unrecognized key: "bogusKey"'),
                 id="skipped"),
    pytest.param([(at(1), DETECTED)], None, id="detected-is-no-verdict-yet"),
    pytest.param([(at(1), DETECTED), (at(2), APPLIED)],
                 (True, "config hot reload applied (agents.defaults.model.primary)"), id="detected-then-applied"),
    pytest.param([(at(-1), APPLIED)], None, id="an-older-reload-does-not-count"),
    pytest.param([(at(-1), APPLIED), (at(1), SKIPPED)],
                 (False, 'config reload skipped (invalid config): : Unrecognized key: "bogusKey"'),
                 id="only-lines-since-count"),
    pytest.param([(at(0), APPLIED)], (True, "config hot reload applied (agents.defaults.model.primary)"),
                 id="a-line-at-since-counts"),
    pytest.param([(at(1), SKIPPED), (at(2), APPLIED)],
                 (False, 'config reload skipped (invalid config): : Unrecognized key: "bogusKey"'), id="first-wins"),
    pytest.param([("no stamp", APPLIED)], None, id="unstamped-line-ignored"),
    pytest.param([(at(1), "\x1b[36m[reload]\x1b[39m config hot reload applied (channels.telegram)\x1b[0m")],
                 (True, "config hot reload applied (channels.telegram)"), id="colours-stripped"),
    pytest.param([(at(1), "[gateway] ready")], None, id="unrelated"),
    pytest.param([], None, id="nothing-yet"),
]


@pytest.mark.parametrize("lines, expected", OUTCOME_CASES)
def test_reload_outcome(lines: list[tuple[str, str]], expected: tuple[bool, str] | None) -> None:
    assert reload_outcome(lines, T0) == expected


def test_reload_outcome_quotes_at_most_500_characters() -> None:
    long = "[reload] config hot reload applied (" + ",".join(f"channels.c{i}" for i in range(200)) + ")"
    applied, text = reload_outcome([(at(1), long)], T0)
    assert applied is True
    assert text == long[len("[reload] "):][:500] and len(text) == 500
