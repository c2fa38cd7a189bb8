"""The Reporter contract every format implements: a method per kind of report it renders."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from deployer.core.model import Plan
from deployer.core.problems import Problem

if TYPE_CHECKING:  # flows/status.py talks to the engine; the reporters only read its data
    from deployer.flows.status import StatusReport
    from deployer.runtime.history import Entry

KINDS = ("problems", "plan", "drift", "status", "history")


class UnknownFormat(ValueError):
    pass


class Reporter:
    """One output format. A subclass renders a kind of report by overriding its method; the kinds
    it leaves alone are not offered in that format (see `formats`)."""

    name: ClassVar[str]

    def __init__(self, *, color: bool = False) -> None:
        self.color = color  # only the text format styles anything

    def problems(self, problems: list[Problem], *, bots: int | None = None) -> str:
        raise UnknownFormat(f"format {self.name} does not render problems")

    def plan(self, plan: Plan) -> str:
        raise UnknownFormat(f"format {self.name} does not render plans")

    def unplanned(self, fleet: str, problems: list[Problem], error: str) -> str | None:
        """A plan that could not be made (`error`, with the problems of the manifests or secret
        files behind it), in the plan's format; None where the problems on stderr say it all (text).
        `fleet` is "" when the manifests do not say it."""
        return None

    def drift(self, plan: Plan) -> str:
        raise UnknownFormat(f"format {self.name} does not render drift")

    def status(self, report: StatusReport) -> str:
        raise UnknownFormat(f"format {self.name} does not render status")

    def history(self, fleet: str, entries: list[Entry], *, bots: bool = False) -> str:
        """`deployer history`: the fleet's entries, newest first; each bot's record with `bots`."""
        raise UnknownFormat(f"format {self.name} does not render history")

    @classmethod
    def renders(cls, kind: str) -> bool:
        if kind not in KINDS:
            raise ValueError(f"unknown kind of report {kind!r}; one of {', '.join(KINDS)}")
        return getattr(cls, kind) is not getattr(Reporter, kind)
