"""The one home of each value encoding shared by the canonical spec, the planner, validation,
rollback and the backends: restart policies, CPU counts, image references, memory sizes and durations.

A backend translates these canonical forms to its API's (Docker's RestartPolicy dict, NanoCpus;
a swarm's RestartPolicy condition) in its own translate module, and back.
"""

from __future__ import annotations

import re
from typing import Any

NANO = 1_000_000_000


def restart_string(policy: str | None, max_retries: int | None = 0) -> str:
    """The canonical restart field: "no", "always", "unless-stopped" or "on-failure:N"."""
    policy = policy or "no"
    return f"on-failure:{max_retries or 0}" if policy == "on-failure" else policy


def parse_restart(value: str) -> tuple[str, int]:
    """"on-failure:3" -> ("on-failure", 3); "always" -> ("always", 0)."""
    policy, _, retries = str(value).partition(":")
    return policy, int(retries or 0)


def cpus_from_nano(nano_cpus: int | None) -> float | None:
    """The canonical cpus field (a float of CPUs) from the engine's billionths; 0 means unset."""
    return nano_cpus / NANO if nano_cpus else None


def nano_from_cpus(cpus: float | None) -> int | None:
    return round(cpus * NANO) if cpus is not None else None


def image_tag(ref: str) -> str | None:
    """The tag of an image reference ("@digest" for a digest reference), or None without one.
    A registry port (host:5000/app) is not a tag: only the last path part is looked at."""
    if "@" in ref:
        return "@digest"
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def split_image_ref(ref: str) -> tuple[str, str | None]:
    """(repository, tag) for a pull: a digest reference is passed whole, no tag means latest."""
    if "@" in ref:
        return ref, None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
        return repo, tag
    return ref, "latest"


# --- memory sizes and durations (the manifest's units; validation and the OpenClaw checks read them here)

DURATION_PART = re.compile(r"([0-9]+)(ms|s|m|h)")

DURATION_NS = {"ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}

MEMORY_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}



def parse_duration(text: str) -> int:
    return sum(int(n) * DURATION_NS[unit] for n, unit in DURATION_PART.findall(text))


def format_duration(ns: int) -> str:
    """Nanoseconds as the manifest writes them, largest unit first (parse_duration reads it back):
    10000000000 -> "10s", 90000000000 -> "1m30s", 1500000000 -> "1s500ms", 0 -> "0s". A rest below
    a millisecond (only an engine sets one) is shown in ns."""
    parts = []
    rest = ns
    for unit in ("h", "m", "s", "ms"):
        n, rest = divmod(rest, DURATION_NS[unit])
        if n:
            parts.append(f"{n}{unit}")
    if rest:
        parts.append(f"{rest}ns")
    return "".join(parts) or "0s"


# spec fields whose values hold durations in nanoseconds, and their keys that do: shown with
# format_duration by the text and markdown reporters (json keeps the numbers)
DURATION_KEYS = {"healthcheck": frozenset({"interval", "timeout", "startPeriod"})}


def with_durations(v: object, field: str) -> object:
    """`v` (the value of spec field `field`, or of one of its keys: "healthcheck.interval") with
    its durations as the manifest writes them; anything else as it is."""
    top, _, key = field.partition(".")
    keys = DURATION_KEYS.get(top)
    if not keys:
        return v
    if key:
        return _duration(v) if key in keys else v
    if isinstance(v, dict):
        return {k: _duration(x) if k in keys else x for k, x in v.items()}
    return v


def _duration(v: object) -> object:
    return format_duration(v) if isinstance(v, int) and not isinstance(v, bool) else v



def parse_memory(value: str | int) -> int | None:
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"([0-9]+)([bkmgBKMG]?)", value)
    if not m:
        return None
    return int(m.group(1)) * MEMORY_UNITS[(m.group(2) or "b").lower()]


def scalar_text(value: Any) -> str:
    """How a manifest scalar becomes text (an env value): 3.0 -> "3", 1.5 -> "1.5", True -> "True"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def format_memory(size: int) -> str:
    """Bytes in the manifest's units, the largest that divides them exactly (parse_memory reads it
    back): 67108864 -> "64m", 1073741824 -> "1g", 1610612736 -> "1536m", 1000 -> "1000b"."""
    for unit in ("g", "m", "k"):
        if size and size % MEMORY_UNITS[unit] == 0:
            return f"{size // MEMORY_UNITS[unit]}{unit}"
    return f"{size}b"

