"""The checks beyond shape, each problem located: secrets in env, state shared between bots,
reserved names and paths, secrets a provider or channel needs, what a backend cannot honour.
Each reports every problem it finds; none raises part-way, so one run reports everything."""

from __future__ import annotations

import os
import re
from typing import Any

from deployer.core.encodings import image_tag, parse_memory, scalar_text
from deployer.core.model import FleetSpec, Port
from deployer.core.problems import WARNING
from deployer.core.vocabulary import LABEL_NAMESPACE, RUNTIME_OPENCLAW, SECRETS_MOUNT
from deployer.manifests.load import Document, JsonPath, Location
from deployer.manifests.report import Reporter, Where, get_in
from deployer.openclaw.checks import check_openclaw_spec
from deployer.openclaw.config import CHANNELS, PROVIDERS

# Secret files each known provider / channel needs (where they go in the gateway's config:
# deployer/openclaw/config.py).
PROVIDER_SECRETS = {name: (key,) for name, (_, key) in PROVIDERS.items()}
CHANNEL_SECRETS = {ctype: tuple(fields.values()) for ctype, fields in CHANNELS.items()}
SECRET_LIKE_ENV = re.compile(r"(_KEY|_TOKEN|_SECRET|_CREDENTIALS)$|PASSWORD", re.IGNORECASE)
VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
WILDCARD_IPS = ("0.0.0.0", "::")


def check_one_fleet(fleets: list[Document], report: Reporter) -> None:
    for extra in fleets[1:]:
        first = fleets[0].locate(("kind",))
        report.add(extra, ("kind",), f"more than one Fleet document (the first is at {first.file}:{first.line})")


def check_bots(bots: list[Document], report: Reporter) -> None:
    """Per Bot document: a name no other bot has, no reserved label, then its own spec's checks."""
    seen_names: dict[str, Document] = {}
    for doc in bots:
        name = get_in(doc.data, ("metadata", "name"))
        if isinstance(name, str):
            if name in seen_names:
                first = seen_names[name].locate(("metadata", "name"))
                report.add(doc, ("metadata", "name"), f"duplicate bot name {name!r} (also defined at {first.file}:{first.line})")
            else:
                seen_names[name] = doc
        labels = get_in(doc.data, ("metadata", "labels"))
        if isinstance(labels, dict):
            for key in labels:
                if isinstance(key, str) and key.startswith(LABEL_NAMESPACE):
                    report.add(doc, ("metadata", "labels", key), f"label {key!r} is reserved: keys under {LABEL_NAMESPACE} belong to the deployer", key=True)
        check_spec(doc, ("spec",), report)


def check_spec(doc: Document, base: JsonPath, report: Reporter) -> None:
    """Checks on one spec (a bot's or the fleet defaults), located in that document."""
    spec = get_in(doc.data, base)
    if not isinstance(spec, dict):
        return
    env = spec.get("env")
    if isinstance(env, dict):
        for key in env:
            if isinstance(key, str) and SECRET_LIKE_ENV.search(key):
                report.add(
                    doc, base + ("env", key),
                    f"env {key} looks like a secret: list it in spec.secrets and put the value in the "
                    f"file <secretsDir>/<bot>/{key} instead of the manifest",
                    key=True,
                )
            written = doc.reshaped.get(base + ("env", key))
            if written is not None:
                report.add(
                    doc, base + ("env", key),
                    f"env {key}: the unquoted {written} is read as the number {env[key]!r}, so the container "
                    f"gets {scalar_text(env[key])!r}; quote it (\"{written}\") to keep it as written",
                    severity=WARNING,
                )
    volumes = spec.get("volumes")
    if isinstance(volumes, list):
        for i, vol in enumerate(volumes):
            if not isinstance(vol, dict):
                continue
            source, target = vol.get("source"), vol.get("target")
            if isinstance(source, str) and not source.startswith("/") and not VOLUME_NAME.match(source):
                report.add(doc, base + ("volumes", i, "source"),
                           f"relative bind source {source!r}: use an absolute host path (or a plain volume name)")
            elif isinstance(source, str) and source.startswith("/") and os.path.normpath(source) != source.rstrip("/") and source != "/":
                report.add(doc, base + ("volumes", i, "source"),
                           f"bind source {source!r} is not a normalised path (no '..', '.' or '//')")
            if isinstance(target, str) and (target.rstrip("/") == SECRETS_MOUNT or target.startswith(SECRETS_MOUNT + "/")):
                report.add(doc, base + ("volumes", i, "target"), f"{SECRETS_MOUNT} is reserved for the bot's secrets")
    if spec.get("network") == "host" and isinstance(spec.get("ports"), list) and spec["ports"]:
        # the SDK used to refuse this before sending it; the engine would drop the ports silently
        report.add(doc, base + ("network",),
                   "network host shares the host's network, so ports cannot be published: the bot listens on "
                   "the host's ports directly; drop spec.ports or use a bridge network")
    restart = spec.get("restart")
    if isinstance(restart, dict) and "maxRetries" in restart and restart.get("policy") != "on-failure":
        report.add(doc, base + ("restart", "maxRetries"), "maxRetries only applies to the on-failure policy")
    memory = get_in(spec, ("resources", "memory"))
    if isinstance(memory, str):
        parsed = parse_memory(memory)
        if parsed is not None and parsed < 6 * 1024 * 1024:
            report.add(doc, base + ("resources", "memory"), f"memory {memory!r} is below Docker's minimum of 6m")
    cpus = get_in(spec, ("resources", "cpus"))
    if isinstance(cpus, float) and cpus != cpus:  # NaN passes the schema's bounds: every comparison with it is false
        report.add(doc, base + ("resources", "cpus"), "cpus is .nan, not a number; give a number of cores such as 0.5")
    image = spec.get("image")
    if isinstance(image, str) and image:
        if image_tag(image) in (None, "latest"):
            report.add(doc, base + ("image",),
                       f"image {image!r} has no pinned tag: 'latest' moves under you; pin a version such as :2026.2.26",
                       severity=WARNING)


def check_merged(doc: Document, fleet_doc: Document | None, spec: dict[str, Any], report: Reporter) -> None:
    """Checks that need the bot's spec with the fleet defaults merged in."""
    where = Where(doc, fleet_doc)
    if "image" not in spec:
        report.add(doc, ("spec",), "spec.image is required (set it on the bot or in the Fleet's spec.defaults)")
    listed = spec.get("secrets")
    secrets: list[Any] = listed if isinstance(listed, list) else []
    provider = get_in(spec, ("provider", "name"))
    if isinstance(provider, str):
        for needed in PROVIDER_SECRETS.get(provider, ()):
            if needed not in secrets:
                where.report(report, ("provider", "name"),
                             f"provider {provider} needs the secret {needed}: add it to spec.secrets")
    channels = spec.get("channels")
    if isinstance(channels, list):
        for i, channel in enumerate(channels):
            ctype = channel.get("type") if isinstance(channel, dict) else None
            for needed in CHANNEL_SECRETS.get(ctype, ()) if isinstance(ctype, str) else ():
                if needed not in secrets:
                    where.report(report, ("channels", i, "type"),
                                 f"channel {ctype} needs the secret {needed}: add it to spec.secrets")
    check_openclaw_spec(spec, lambda path, message, severity: where.report(report, path, message, severity=severity))


def check_cross_bot(merged: list[tuple[Document, dict[str, Any]]], fleet_doc: Document | None, report: Reporter) -> None:
    """Shared host ports and shared state across bots. Indexed, so a 1,000-bot set costs a
    lookup per port or mount, not a comparison with every earlier bot."""
    ports_seen: dict[tuple[int, str], list[tuple[str, str, Location]]] = {}  # (port, proto) -> ip, bot, where
    # mounts: (seq, source, is_bind, read_only, bot, where), by exact source and by each ancestor
    exact: dict[str, list[tuple[int, str, bool, bool, str, Location]]] = {}
    below: dict[str, list[tuple[int, str, bool, bool, str, Location]]] = {}
    seq = 0
    for doc, spec in merged:
        bot = get_in(doc.data, ("metadata", "name"))
        where = Where(doc, fleet_doc)
        listed_ports = spec.get("ports")
        ports: list[Any] = listed_ports if isinstance(listed_ports, list) else []
        for i, port in enumerate(ports):
            if not isinstance(port, dict) or not isinstance(port.get("hostPort"), int):
                continue
            ip = port.get("hostIP", Port.host_ip)
            proto = port.get("protocol", "tcp")
            bucket = ports_seen.setdefault((port["hostPort"], proto), [])
            for other_ip, other_bot, other_loc in bucket:
                if ip == other_ip or ip in WILDCARD_IPS or other_ip in WILDCARD_IPS:
                    who = "itself" if other_bot == bot else f"bot {other_bot}"
                    where.report(report, ("ports", i, "hostPort"),
                                 f"host port {ip}:{port['hostPort']}/{proto} is also published by {who} "
                                 f"({other_loc.file}:{other_loc.line})")
                    break
            bucket.append((ip, bot, doc.locate(("spec", "ports", i))))
        listed_volumes = spec.get("volumes")
        volumes: list[Any] = listed_volumes if isinstance(listed_volumes, list) else []
        for i, vol in enumerate(volumes):
            if not isinstance(vol, dict) or not isinstance(vol.get("source"), str):
                continue
            source = vol["source"]
            is_bind = source.startswith("/")
            norm = os.path.normpath(source) if is_bind else source
            read_only = vol.get("readOnly") is True
            ancestors = _ancestors(norm) if is_bind else []
            candidates = list(exact.get(norm, ())) + list(below.get(norm, ()) if is_bind else ())
            for a in ancestors:
                candidates.extend(exact.get(a, ()))
            for _, _, other_bind, other_ro, other_bot, other_loc in sorted(candidates, key=lambda c: c[0]):
                if other_bot == bot or other_bind != is_bind or (read_only and other_ro):
                    continue
                kind = "host path" if is_bind else "volume"
                where.report(report, ("volumes", i, "source"),
                             f"{kind} {source!r} is also mounted by bot {other_bot} ({other_loc.file}:{other_loc.line}): "
                             "a bot's state must never be shared by two containers (mount it readOnly in both to share read-only data)")
                break
            entry = (seq, norm, is_bind, read_only, bot, doc.locate(("spec", "volumes", i)))
            seq += 1
            exact.setdefault(norm, []).append(entry)
            for a in ancestors:
                below.setdefault(a, []).append(entry)


def check_backend(merged: list[tuple[Document, dict[str, Any]]], fleet_doc: Document | None,
                   report: Reporter) -> None:
    """Fields one backend cannot honour, located as usual: placement on a single engine (a
    warning), and on a swarm what a service cannot do (a host address to publish on, the
    OpenClaw runtime whose generated config and state live on one host's disk)."""
    backend = (get_in(fleet_doc.data, ("spec", "backend")) if fleet_doc else None) or FleetSpec.backend
    for doc, spec in merged:
        where = Where(doc, fleet_doc)
        if backend == "docker":
            if spec.get("placement"):
                where.report(report, ("placement",), "placement is used only by the swarm backend (the Fleet's "
                             "spec.backend: swarm); on a single Docker engine it is ignored", severity=WARNING)
            continue
        if spec.get("runtime", RUNTIME_OPENCLAW) == RUNTIME_OPENCLAW:
            where.report(report, ("runtime",), "runtime openclaw is not supported on the swarm backend yet: its "
                         "generated config and state dir are written on one host's disk, which the swarm's nodes "
                         "do not share; set runtime: container (the gateway then reads its config from the image "
                         "or a volume)")
        volumes = spec.get("volumes")
        for i, vol in enumerate(volumes if isinstance(volumes, list) else []):
            if isinstance(vol, dict) and isinstance(vol.get("source"), str) and vol["source"].startswith("/"):
                where.report(report, ("volumes", i, "source"), f"bind source {vol['source']} must exist on every "
                             "node the bot may run on (swarm creates no host directory: the task is rejected); "
                             "pin the bot with spec.placement.constraints, or use a named volume", severity=WARNING)
        ports = spec.get("ports")
        for i, port in enumerate(ports if isinstance(ports, list) else []):
            if isinstance(port, dict) and port.get("hostIP", Port.host_ip) not in WILDCARD_IPS:
                at = ("ports", i, "hostIP") if "hostIP" in port else ("ports", i)
                where.report(report, at, f"a swarm service cannot publish on host address "
                             f"{port.get('hostIP', Port.host_ip)} (the default): it publishes on every address of the "
                             "node it runs on (mode host); set hostIP: 0.0.0.0 and firewall the port on the nodes, or "
                             "drop the port and reach the bot over an overlay network (spec.network)")


def _ancestors(path: str) -> list[str]:
    """/a/b/c -> [/a/b, /a, /]"""
    out = []
    while path not in ("/", ""):
        path = os.path.dirname(path)
        out.append(path)
    return out
