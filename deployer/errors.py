"""Every error the deployer reports as one line (and exit 1), in one place.

A DeployerError's message is fit for an operator as it is; the kinds a caller acts on have their
own class. Backends choose the engine kinds in their error map (backends/*/client.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deployer.core.problems import Problem


class DeployerError(Exception):
    """An error the CLI reports as one line and exit 1."""


# --- manifests, secrets and saved plans -----------------------------------------------------

class InvalidManifests(DeployerError):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{sum(p.is_error for p in problems)} manifest error(s)")
        self.problems = problems


class InvalidSecrets(DeployerError):
    def __init__(self, problems: list[Problem]):
        errors = sum(p.is_error for p in problems)
        super().__init__(f"{errors} secret problem(s); nothing was changed")
        self.problems = problems


class StalePlan(DeployerError):
    pass


class RemoteSecretsError(DeployerError):
    pass


class HostFileError(DeployerError):
    pass


class UnrestorableSpec(DeployerError):
    pass


class HistoryError(DeployerError):
    pass


class LockHeld(DeployerError):
    pass


class LockLost(DeployerError):
    """The run's fleet lock was removed (unlock --force, a takeover) before it changed anything."""


# --- engines --------------------------------------------------------------------------------

class EndpointError(DeployerError):
    """The engine selection is wrong (unknown context, bad DOCKER_HOST, missing TLS files)."""


class UnknownBackend(DeployerError):
    pass


class EngineError(DeployerError):
    """One engine call failed; the message is one line fit for an operator."""


class NotFound(EngineError):
    """The unit, marker or image asked for does not exist (404)."""


class NameTaken(EngineError):
    """A create failed because the name is held (409): the atomic primitive behind the lock."""


class Unreachable(EngineError):
    """The engine could not be reached at all (socket, ssh, TLS): nothing was done."""


class RolledBack(EngineError):
    """An update failed and the engine itself put the unit back on its previous spec."""
