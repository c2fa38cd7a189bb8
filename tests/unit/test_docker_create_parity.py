"""The create bodies the docker backend builds by hand (translate.py, sent with the SDK's
create_container_from_config) against what the SDK's own create_container built from the same
bot before the split (the calls of deployer/engine.py at f99bdd6, rebuilt here with the SDK's
public config builders; no engine is contacted). Only keys the engine treats alike may differ."""

from __future__ import annotations

import dataclasses
from typing import Any

import docker
import pytest
from docker.types import Healthcheck as SDKHealthcheck
from docker.types import Mount

from deployer.backends.docker.translate import create_body, helper_body, oneshot_body, restart_policy
from deployer.core.labels import bot_labels
from deployer.core.model import BotSpec, Healthcheck
from deployer.core.spec import container_spec, secrets_source, spec_hash
from deployer.core.vocabulary import SECRETS_MOUNT
from tests.support.inspect_cases import cases
from tests.support.planner_cases import bot

# Keys the SDK always sent whose values change nothing for a detached, never-attached container
INERT = {"AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce", "NetworkDisabled",
         "Domainname", "WorkingDir", "MacAddress", "StopSignal", "StopTimeout", "Volumes", "Entrypoint",
         "Runtime", "NetworkingConfig"}


def sdk() -> docker.APIClient:
    return docker.APIClient(base_url="unix:///nonexistent/docker.sock", version="1.41")  # never dialled


def old_create(bot: BotSpec, fleet: str, secrets_dir: str | None) -> dict[str, Any]:
    """deployer/engine.py DockerEngine.create at f99bdd6, up to the request it sent."""
    api = sdk()
    spec = container_spec(bot, secrets_dir)
    labels = bot_labels(bot, fleet=fleet, spec=spec, spec_hash=spec_hash(spec))
    mounts = [Mount(target=v.target, source=v.source, type="bind" if v.is_bind else "volume", read_only=v.read_only)
              for v in bot.volumes]
    source = secrets_source(bot, secrets_dir)
    if source:
        mounts.append(Mount(target=SECRETS_MOUNT, source=source, type="bind", read_only=True))
    port_bindings: dict[str, list[tuple[str, int]]] = {}
    for p in bot.ports:
        port_bindings.setdefault(f"{p.container_port}/{p.protocol}", []).append((p.host_ip, p.host_port))
    host_config = api.create_host_config(
        mounts=mounts, port_bindings=port_bindings or None, mem_limit=bot.memory_bytes,
        memswap_limit=bot.memory_bytes, nano_cpus=bot.nano_cpus, restart_policy=restart_policy(bot),
        network_mode=bot.network)
    healthcheck = None
    if bot.healthcheck is not None:
        hc = bot.healthcheck
        healthcheck = SDKHealthcheck(test=list(hc.test), interval=hc.interval_ns or None, timeout=hc.timeout_ns or None,
                                     retries=hc.retries or None, start_period=hc.start_period_ns or None)
    return dict(api.create_container_config(
        image=bot.image, command=list(bot.command) if bot.command is not None else None, hostname=bot.hostname,
        environment=[f"{k}={v}" for k, v in bot.env], user=bot.user or "", labels=labels,
        ports=[(p.container_port, p.protocol) for p in bot.ports] or None, host_config=host_config,
        healthcheck=healthcheck))


def plain(value: Any) -> Any:
    """Unset (None) keys dropped at every level: the engine reads a missing key and a null alike."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def same(old: dict[str, Any], new: dict[str, Any]) -> None:
    old = plain({k: v for k, v in old.items() if k not in INERT})
    new = plain({k: v for k, v in new.items() if k not in INERT})
    assert new == old


BOTS = {
    "planner-case": bot(),
    "healthcheck-on-failure": dataclasses.replace(
        bot(), restart_policy="on-failure", restart_max_retries=3, hostname="ana",
        healthcheck=Healthcheck(test=("CMD", "/bin/true"), interval_ns=2_000_000_000, retries=2)),
    "no-limits-no-ports": dataclasses.replace(bot(), memory_bytes=None, nano_cpus=None, ports=(), volumes=(),
                                              restart_policy="no", command=("sh", "-c", "sleep 1")),
    "network-none": dataclasses.replace(bot(), network="none", ports=(), user=None),
    **{f"recorded-{name}": b for name, (b, _) in cases().items()},
}


@pytest.mark.parametrize("name", sorted(BOTS))
def test_the_create_body_is_the_one_the_sdk_sent(name: str) -> None:
    b = BOTS[name]
    spec = container_spec(b, "/srv/secrets")
    new = create_body(b, fleet="f", spec=spec, spec_hash=spec_hash(spec), secrets_dir="/srv/secrets")
    same(old_create(b, "f", "/srv/secrets"), new)


def test_the_oneshot_and_helper_bodies_are_the_ones_the_sdk_sent() -> None:
    api = sdk()
    binds = [("/srv/cfg/ana", "/etc/openclaw", True), ("/srv/secrets/ana", "/run/secrets", True)]
    old = api.create_container_config(
        image="openclaw:1", command=["config", "validate"], entrypoint=["node"], user="1000",
        environment=["A=1", "B=2"], labels={"botmaker.preflight": "f"}, network_disabled=True,
        healthcheck={"Test": ["NONE"]}, host_config=api.create_host_config(
            mounts=[Mount(target=t, source=s, type="bind", read_only=ro) for s, t, ro in binds],
            tmpfs={"/state": "size=64m"}, read_only=True, network_mode="none", auto_remove=False))
    new = oneshot_body("openclaw:1", command=["config", "validate"], entrypoint=["node"], user="1000",
                       env={"B": "2", "A": "1"}, binds=binds, tmpfs={"/state": "size=64m"},
                       labels={"botmaker.preflight": "f"})
    same({**old, "NetworkDisabled": None}, {**new, "NetworkDisabled": None})
    assert new["NetworkDisabled"] is True and new["Entrypoint"] == ["node"]
    old_helper = api.create_container_config(
        image="busybox:1", entrypoint=["/bin/sh"], command=["-c", "true"], user="0", environment=None,
        labels={"botmaker.helper": "true"}, network_disabled=True, host_config=api.create_host_config(
            mounts=[Mount(target="/s", source="/srv/s", type="bind", read_only=True)], network_mode="none",
            cap_drop=["ALL"], cap_add=["DAC_OVERRIDE"], read_only=True, security_opt=["no-new-privileges"]))
    new_helper = helper_body("busybox:1", ["/bin/sh", "-c", "true"], binds=[("/srv/s", "/s", True)], env=None,
                             cap_add=("DAC_OVERRIDE",), labels=None)
    same(old_helper, new_helper)
    assert new_helper["Entrypoint"] == ["/bin/sh"] and new_helper["NetworkDisabled"] is True
