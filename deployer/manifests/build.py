"""The model built from a valid manifest set: each Bot document, with the Fleet defaults merged
in, becomes a BotSpec (defaults filled in, values normalised); the Fleet document a FleetSpec."""

from __future__ import annotations

from typing import Any

from deployer.core.encodings import nano_from_cpus, parse_duration, parse_memory, scalar_text
from deployer.core.model import BotSpec, FleetSpec, Healthcheck, Port, Volume
from deployer.core.spec import canonical_json
from deployer.core.vocabulary import DEFAULT_FLEET, RUNTIME_OPENCLAW
from deployer.manifests.load import Document
from deployer.manifests.report import get_in


def build_fleet(fleet_doc: Document | None, merged: list[tuple[Document, dict[str, Any]]]) -> FleetSpec:
    name = get_in(fleet_doc.data, ("metadata", "name")) if fleet_doc else DEFAULT_FLEET
    secrets_dir = get_in(fleet_doc.data, ("spec", "secretsDir")) if fleet_doc else None
    bots = tuple(
        sorted((build_bot(doc, spec) for doc, spec in merged), key=lambda b: b.name)
    )
    return FleetSpec(name=name, secrets_dir=secrets_dir, bots=bots,
                     state_dir=get_in(fleet_doc.data, ("spec", "stateDir")) if fleet_doc else None,
                     config_dir=get_in(fleet_doc.data, ("spec", "configDir")) if fleet_doc else None,
                     backend=(get_in(fleet_doc.data, ("spec", "backend")) if fleet_doc else None) or FleetSpec.backend)


def build_bot(doc: Document, spec: dict[str, Any]) -> BotSpec:
    """The bot's BotSpec; a field the manifest leaves out takes the model's default (BotSpec.<field>),
    except the runtime: a manifest's bot is an OpenClaw gateway unless it says otherwise."""
    meta = doc.data["metadata"]
    restart = spec.get("restart", BotSpec.restart_policy)
    if isinstance(restart, dict):
        restart_policy, max_retries = restart["policy"], int(restart.get("maxRetries", 0))
    else:
        restart_policy, max_retries = restart, 0
    memory = spec.get("resources", {}).get("memory")
    cpus = spec.get("resources", {}).get("cpus")
    provider = spec.get("provider") or {}
    user = spec.get("user")
    gateway = spec.get("gateway") or {}
    return BotSpec(
        name=meta["name"],
        image=spec["image"],
        labels=tuple(sorted((meta.get("labels") or {}).items())),
        pull_policy=spec.get("pullPolicy", BotSpec.pull_policy),
        provider=tuple(sorted(provider.items())),
        channels=tuple(c["type"] for c in spec.get("channels", [])),
        secrets=tuple(sorted(spec.get("secrets", []))),
        env=tuple(sorted((k, scalar_text(v)) for k, v in spec.get("env", {}).items())),
        command=tuple(spec["command"]) if "command" in spec else None,
        user=str(user) if user is not None else None,
        ports=tuple(
            Port(p["containerPort"], p["hostPort"], p.get("hostIP", Port.host_ip), p.get("protocol", Port.protocol))
            for p in spec.get("ports", [])
        ),
        volumes=tuple(
            Volume(v["source"], v["target"], bool(v.get("readOnly", False))) for v in spec.get("volumes", [])
        ),
        memory_bytes=parse_memory(memory) if memory is not None else None,
        nano_cpus=nano_from_cpus(cpus),
        restart_policy=restart_policy,
        restart_max_retries=max_retries,
        state=spec.get("state", BotSpec.state),
        healthcheck=_healthcheck(spec["healthcheck"]) if "healthcheck" in spec else None,
        network=spec.get("network", BotSpec.network),
        source_file=doc.file,
        runtime=spec.get("runtime", RUNTIME_OPENCLAW),
        channel_settings=tuple(sorted(
            (c["type"], canonical_json(c["settings"])) for c in spec.get("channels", []) if c.get("settings")
        )),
        gateway_port=gateway.get("port", BotSpec.gateway_port),
        gateway_bind=gateway.get("bind"),
        gateway_cli=tuple(gateway.get("cli", BotSpec.gateway_cli)),
        openclaw_config=canonical_json(spec.get("openclaw") or {}),
        placement_constraints=tuple((spec.get("placement") or {}).get("constraints", ())),
        placement_preferences=tuple(p["spread"] for p in (spec.get("placement") or {}).get("preferences", ())),
    )


def _healthcheck(hc: dict[str, Any]) -> Healthcheck:
    test = hc["test"]
    if isinstance(test, str):
        test_tuple: tuple[str, ...] = ("CMD-SHELL", test)
    elif test and test[0] in ("CMD", "CMD-SHELL", "NONE"):
        test_tuple = tuple(test)
    else:
        test_tuple = ("CMD",) + tuple(test)
    return Healthcheck(
        test=test_tuple,
        interval_ns=parse_duration(hc.get("interval", "0s")),
        timeout_ns=parse_duration(hc.get("timeout", "0s")),
        retries=int(hc.get("retries", 0)),
        start_period_ns=parse_duration(hc.get("startPeriod", "0s")),
    )


