"""The one home of each value encoding shared by the canonical spec, the planner, validation,
rollback and the backends: restart policies, CPU counts and image references.

A backend translates these canonical forms to its API's (Docker's RestartPolicy dict, NanoCpus;
a swarm's RestartPolicy condition) in its own translate module, and back.
"""

from __future__ import annotations

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
