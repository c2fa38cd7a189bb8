"""Helpers for the plan/apply, secrets and no-leak tests against the real engine.

Import as ``from tests.support.fleetkit import ...``. Everything here only ever touches the test's own fleet: bots are named
``<fleet_name>-<short>``, so their containers are ``botmaker-<fleet_name>-<short>`` and the
``fleet_name`` fixture removes them afterwards.

    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": {"image": STAND_IN_IMAGE}, "b": {"image": ..., "state": "stopped"}})
    code, out = run_cli("apply", "--yes", m.path)
    fleet, options, engine, the_plan = make_plan(m.path)      # Python API, countable calls
    report = apply_plan(engine, fleet, options, the_plan)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from deployer.backends.docker.traits import DOCKER_TRAITS
from deployer.core.vocabulary import LOCK_PREFIX, RECORD_PREFIX
from tests.support.engine_harness import BOT_UID, CONTAINER_PREFIX, FLEET_LABEL, MARKER_LABELS, STAND_IN_IMAGE, poll

assert DOCKER_TRAITS.aside_mark is not None
ASIDE_MARK: str = DOCKER_TRAITS.aside_mark  # the name mark of a container kept aside during a replace


# --- names --------------------------------------------------------------------------------------

def bot_name(fleet: str, short: str) -> str:
    return f"{fleet}-{short}"


def cname(fleet: str, short: str) -> str:
    """The container name the deployer gives bot ``<fleet>-<short>``."""
    return CONTAINER_PREFIX + bot_name(fleet, short)


# --- manifests ----------------------------------------------------------------------------------

class Manifests:
    """A manifest set in ``tmp_path/manifests``: one Fleet doc and one file per bot.

    ``write`` replaces the whole set each time, so dropping a bot from the dict removes its
    manifest. Bot keys are short names; the written bot name is ``<fleet>-<short>``.
    """

    def __init__(self, tmp_path: Path, fleet: str, secrets_dir: Path | str | None):
        self.fleet = fleet
        self.secrets_dir = str(secrets_dir) if secrets_dir is not None else None
        self.dir = tmp_path / "manifests"

    @property
    def path(self) -> str:
        return str(self.dir)

    def name(self, short: str) -> str:
        return bot_name(self.fleet, short)

    def cname(self, short: str) -> str:
        return cname(self.fleet, short)

    def write(self, bots: Mapping[str, Mapping[str, Any]], *, defaults: Mapping[str, Any] | None = None) -> str:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        fleet_spec: dict[str, Any] = {}
        if self.secrets_dir is not None:
            fleet_spec["secretsDir"] = self.secrets_dir
        # the stand-in is no gateway: its bots run as plain containers (tests/gateway run the real one)
        fleet_spec["defaults"] = {"runtime": "container", **(defaults or {})}
        fleet_doc: dict[str, Any] = {"apiVersion": "botmaker/v1", "kind": "Fleet", "metadata": {"name": self.fleet}}
        if fleet_spec:
            fleet_doc["spec"] = fleet_spec
        (self.dir / "fleet.yaml").write_text(yaml.safe_dump(fleet_doc, sort_keys=False))
        for short, spec in bots.items():
            doc = {
                "apiVersion": "botmaker/v1",
                "kind": "Bot",
                "metadata": {"name": self.name(short)},
                "spec": dict(spec),
            }
            (self.dir / f"bot-{short}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        return self.path


# --- secrets ------------------------------------------------------------------------------------

def write_secret(secrets_dir: Path | str, bot: str, name: str, value: str | bytes, *,
                 uid: int = BOT_UID, mode: int = 0o600, dir_uid: int = BOT_UID) -> Path:
    """Write ``<secrets_dir>/<bot>/<name>`` the way an operator should: dir 0700 and file 0600,
    both owned by the container's uid (1000). ``uid``/``mode`` let a test break it on purpose."""
    bot_dir = Path(secrets_dir) / bot
    bot_dir.mkdir(mode=0o700, exist_ok=True)
    os.chmod(bot_dir, 0o700)
    os.chown(bot_dir, dir_uid, dir_uid)
    path = bot_dir / name
    data = value.encode() if isinstance(value, str) else value
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    os.chown(path, uid, uid)
    return path


# --- the CLI, in process ------------------------------------------------------------------------

def run_cli_streams(*args: str, env: Mapping[str, str] | None = None,
                    input: str | None = None) -> tuple[int, str, str]:
    """Run ``deployer <args>`` with CliRunner; (exit code, stdout alone, stdout+stderr).

    An exception other than SystemExit is a crash: its traceback is appended to the combined
    output (so assertions on "Traceback" and on output content see it).
    """
    from deployer.cli import main

    runner = CliRunner()
    result = runner.invoke(main, list(args), env=dict(env) if env else None, input=input,
                           catch_exceptions=True)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += "\nTraceback (crash inside CliRunner):\n" + "".join(
            traceback.format_exception(type(result.exception), result.exception, result.exception.__traceback__)
        )
    return result.exit_code, result.stdout, output


def run_cli(*args: str, env: Mapping[str, str] | None = None, input: str | None = None) -> tuple[int, str]:
    """Run ``deployer <args>`` with CliRunner; (exit code, stdout+stderr as a terminal shows them)."""
    code, _, output = run_cli_streams(*args, env=env, input=input)
    return code, output


# --- the CLI as a test uses it --------------------------------------------------------------------

FAST = ("--wait-timeout", "20", "--stop-timeout", "5")  # the stand-in stops in 0.1 s anyway


def bot(**spec: Any) -> dict[str, Any]:
    """A bot spec on the stand-in image that the engine does not restart behind the test's back."""
    return {"image": STAND_IN_IMAGE, "restart": "no", **spec}


def apply_ok(m: "Manifests", *extra: str) -> str:
    code, out = run_cli("apply", "--yes", *FAST, *extra, m.path)
    assert code == 0, out
    return out


def plan_json(m: "Manifests", *extra: str) -> dict:
    code, out = run_cli("plan", "--format", "json", *extra, m.path)
    assert code == 0, out
    return json.loads(out)


def assert_clean(m: "Manifests") -> None:
    code, out = run_cli("plan", "--detailed-exitcode", m.path)
    assert code == 0, out
    assert "No changes." in out


@contextlib.contextmanager
def temp_tag(client: Any, source: str, repo: str, tag: str) -> Iterator[str]:
    """Tag `source` as repo:tag for the test (to move it underneath a deployed bot); removed after."""
    assert client.images.get(source).tag(repo, tag)
    try:
        yield f"{repo}:{tag}"
    finally:
        client.images.remove(f"{repo}:{tag}", noprune=True)


# --- the Python API (for counting engine calls) ---------------------------------------------------

FAST_APPLY = {"settle": 0.5, "wait_timeout": 20}


def load_fleet(path: str):  # -> FleetSpec
    from deployer.manifests.load import load_paths
    from deployer.manifests.validation import validate_documents

    documents, load_problems = load_paths([path])
    result = validate_documents(documents, load_problems)
    assert result.fleet is not None and not result.errors, [p.format() for p in result.problems]
    return result.fleet


def make_plan(path: str, engine: Any = None, *, prune: bool = False):
    """Mirror of cli._make_plan: (fleet, options, engine, plan). Raises on secret errors."""
    from deployer.backends.docker.engine import DockerEngine
    from deployer.plan.planner import PlanOptions, plan
    from deployer.runtime.observe import gather
    from deployer.secrets.checks import check_fleet_secrets

    fleet = load_fleet(path)
    options = PlanOptions(traits=DOCKER_TRAITS, secrets_dir=os.environ.get("DEPLOYER_SECRETS_DIR") or fleet.secrets_dir, prune=prune)
    engine = engine or DockerEngine()
    observed = gather(engine, fleet, options)
    secrets = check_fleet_secrets(fleet, options.secrets_dir, image_users=observed.image_users)
    assert not secrets.errors, [p.format() for p in secrets.errors]
    options = dataclasses.replace(options, secret_fingerprints=secrets.fingerprints)
    return fleet, options, engine, plan(fleet, observed, options)


def apply_plan(engine: Any, fleet: Any, options: Any, the_plan: Any, **overrides: Any):
    from deployer.runtime.applier import Applier, ApplyOptions

    opts = ApplyOptions(**{**FAST_APPLY, "parallelism": 8, **overrides, "plan_options": options})
    return Applier(engine, fleet.name, opts).apply(the_plan)


def actions_by_bot(the_plan: Any) -> dict[str, Any]:
    return {a.bot: a for a in the_plan.actions}


# --- looking at the engine ------------------------------------------------------------------------

def fleet_container_ids(client: Any, fleet: str) -> set[str]:
    """IDs of the fleet's containers (label botmaker.fleet=<fleet>, or a name starting with
    botmaker-<fleet>), from plain list calls: unlike ``client.containers.list()`` this never
    inspects other people's containers, so their removal in the meantime cannot raise NotFound."""
    prefix = CONTAINER_PREFIX + fleet
    rows = client.api.containers(all=True, filters={"label": f"{FLEET_LABEL}={fleet}"})
    rows += client.api.containers(all=True, filters={"name": prefix})  # a substring match
    return {
        r["Id"] for r in rows
        if (r.get("Labels") or {}).get(FLEET_LABEL) == fleet
        or any(n.lstrip("/").startswith(prefix) for n in r.get("Names") or [])
    }


def fleet_container_list(client: Any, fleet: str) -> list[Any]:
    """Every container of the fleet, freshly inspected, sorted by name."""
    import docker.errors

    out = []
    for cid in fleet_container_ids(client, fleet):
        try:
            out.append(client.containers.get(cid))
        except docker.errors.NotFound:  # removed between the list and the inspect
            continue
    return sorted(out, key=lambda c: c.name)


def fleet_container_names(client: Any, fleet: str) -> list[str]:
    return [c.name for c in fleet_container_list(client, fleet)]


def container_exists(client: Any, id_or_name: str) -> bool:
    import docker.errors

    try:
        client.api.inspect_container(id_or_name)
        return True
    except docker.errors.NotFound:
        return False


def get_container(client: Any, name: str) -> Any:
    c = client.containers.get(name)
    c.reload()
    return c


def env_of(container: Any) -> dict[str, str]:
    return dict(e.split("=", 1) for e in container.attrs["Config"]["Env"] or [])


def wait_status(client: Any, name: str, status: str, timeout: float = 20.0) -> Any:
    def check():
        c = get_container(client, name)
        return c if c.status == status else None

    return poll(check, timeout=timeout, interval=0.1, what=f"{name} to be {status}")


def aside_leftovers(client: Any, fleet: str) -> list[str]:
    return [n for n in fleet_container_names(client, fleet) if ASIDE_MARK in n]


# --- marker containers ----------------------------------------------------------------------------

MARKER_PREFIXES = (LOCK_PREFIX, RECORD_PREFIX)


def remove_markers(client: Any, fleet: str) -> None:
    """Remove the fleet's lock (and heartbeats), last-applied record and history markers, if the
    CLI made any: exact names ``<prefix><fleet>`` of this test's unique fleet, and the markers
    labelled with exactly this fleet, nobody else's."""
    import docker.errors

    for prefix in MARKER_PREFIXES:
        try:
            c = client.containers.get(prefix + fleet)
        except docker.errors.NotFound:
            continue
        if c.name == prefix + fleet:
            c.remove(force=True)
    for label in MARKER_LABELS:
        for row in client.api.containers(all=True, filters={"label": f"{label}={fleet}"}):
            try:
                client.api.remove_container(row["Id"], force=True)
            except docker.errors.NotFound:
                pass


def remove_fleet_containers(client: Any, fleet: str) -> None:
    """Force-remove the fleet's containers, found without inspecting anybody else's."""
    import docker.errors

    for cid in fleet_container_ids(client, fleet):
        try:
            client.api.remove_container(cid, force=True, v=True)
        except docker.errors.NotFound:
            pass


@pytest.fixture(autouse=True)
def cleanup_markers(fleet_name: str, docker_client: Any):
    """Autouse in the modules that import it; its teardown runs before the fleet_name fixture's.

    Removes the fleet's marker containers (which fleet_name's cleanup does not know), and the
    fleet's containers too: the harness's own cleanup inspects every container on the engine
    and can fail when other people remove theirs meanwhile, so ours are gone before that.
    """
    yield
    remove_markers(docker_client, fleet_name)
    remove_fleet_containers(docker_client, fleet_name)
