"""Schema and semantic checks over a whole manifest set, then the model built from it.

Every check returns Problems located at a YAML node; nothing raises part-way, so one run
reports everything. The JSON Schemas in schemas/ are the single source of truth for shape.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer.core.encodings import image_tag, nano_from_cpus, parse_duration, parse_memory
from deployer.core.model import BotSpec, FleetSpec, Healthcheck, Port, Volume, merge_maps
from deployer.core.problems import ERROR, WARNING, Problem, json_path
from deployer.core.spec import canonical_json
from deployer.core.vocabulary import DEFAULT_FLEET, LABEL_NAMESPACE, RUNTIME_OPENCLAW, SECRETS_MOUNT
from deployer.manifests.load import Document, JsonPath, Location
from deployer.openclaw.checks import check_openclaw_spec
from deployer.openclaw.config import CHANNELS, DEFAULT_PORT, PROVIDERS

API_VERSION = "botmaker/v1"
SCHEMA_DIR = Path(__file__).parents[1] / "schemas"  # deployer/schemas: a link to the repository's schemas/, copied when installed
SCHEMA_FILES = {"Bot": "bot.schema.json", "Fleet": "fleet.schema.json"}

# Secret files each known provider / channel needs (where they go in the gateway's config:
# deployer/openclaw/config.py).
PROVIDER_SECRETS = {name: (key,) for name, (_, key) in PROVIDERS.items()}
CHANNEL_SECRETS = {ctype: tuple(fields.values()) for ctype, fields in CHANNELS.items()}
SECRET_LIKE_ENV = re.compile(r"(_KEY|_TOKEN|_SECRET|_CREDENTIALS)$|PASSWORD", re.IGNORECASE)
VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
WILDCARD_IPS = ("0.0.0.0", "::")


@functools.cache
def _validators() -> dict[str, Any]:
    # jsonschema is imported here so that `deployer --help` stays fast.
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents)))
    registry = Registry().with_resources(resources)
    out = {}
    for kind, filename in SCHEMA_FILES.items():
        schema = json.loads((SCHEMA_DIR / filename).read_text())
        out[kind] = Draft202012Validator(
            schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
    return out


@dataclass
class ValidationResult:
    problems: list[Problem]
    fleet: FleetSpec | None  # None when there are errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]


class _Reporter:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, doc: Document, path: JsonPath, message: str, *, severity: str = ERROR, key: bool = False) -> None:
        loc = doc.locate(path, key=key)
        # messages quote keys and values of the manifest: a line break in one must not start a
        # forged `FILE:LINE:COL: ...` line in the text output, so it is escaped; and a huge value
        # (or one expanded from aliases) must not turn a small file into megabytes of output
        message = message.translate(_ESCAPE_LINE_BREAKS)
        if len(message) > MAX_MESSAGE_CHARS:
            cut = len(message) - MAX_MESSAGE_CHARS
            message = f"{message[:MAX_MESSAGE_CHARS - 300]} [...{cut} characters cut...] {message[-300:]}"
        self.problems.append(Problem(loc.file, loc.line, loc.column, json_path(path), message, severity))


# (document, kind, report, fleet defaults) -> None: reports the document's schema errors
SchemaCheck = Callable[[Document, str, "_Reporter", "dict[str, Any] | None"], None]

# every character str.splitlines() breaks on -> its escape sequence (backslash n, x85, u2028, ...)
_ESCAPE_LINE_BREAKS = str.maketrans({c: repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})
MAX_MESSAGE_CHARS = 2000


def validate_documents(documents: list[Document], load_problems: list[Problem] | None = None, *,
                       schema_check: SchemaCheck | None = None) -> ValidationResult:
    """Check a whole manifest set; build the FleetSpec only if there is no error.

    `schema_check` replaces _schema_check (the fast path passes one that asks a compiled
    validator first, see deployer/fastpath.py)."""
    check = schema_check or _schema_check
    report = _Reporter()
    report.problems.extend(load_problems or [])
    bots: list[Document] = []
    fleets: list[Document] = []
    for doc in documents:
        kind = _check_header(doc, report)
        if kind is not None:
            (bots if kind == "Bot" else fleets).append(doc)
    fleet_doc = fleets[0] if fleets else None
    defaults = _get(fleet_doc.data, ("spec", "defaults")) if fleet_doc else None
    for doc in fleets:
        check(doc, "Fleet", report, None)
    for doc in bots:
        check(doc, "Bot", report, defaults if isinstance(defaults, dict) else None)

    for extra in fleets[1:]:
        first = fleets[0].locate(("kind",))
        report.add(extra, ("kind",), f"more than one Fleet document (the first is at {first.file}:{first.line})")

    if fleet_doc is not None:
        _check_spec_semantics(fleet_doc, ("spec", "defaults"), report)
    seen_names: dict[str, Document] = {}
    for doc in bots:
        name = _get(doc.data, ("metadata", "name"))
        if isinstance(name, str):
            if name in seen_names:
                first = seen_names[name].locate(("metadata", "name"))
                report.add(doc, ("metadata", "name"), f"duplicate bot name {name!r} (also defined at {first.file}:{first.line})")
            else:
                seen_names[name] = doc
        labels = _get(doc.data, ("metadata", "labels"))
        if isinstance(labels, dict):
            for key in labels:
                if isinstance(key, str) and key.startswith(LABEL_NAMESPACE):
                    report.add(doc, ("metadata", "labels", key), f"label {key!r} is reserved: keys under {LABEL_NAMESPACE} belong to the deployer", key=True)
        _check_spec_semantics(doc, ("spec",), report)

    merged: list[tuple[Document, dict[str, Any]]] = []
    for doc in bots:
        spec = _get(doc.data, ("spec",))
        if not isinstance(spec, dict):
            continue
        merged_spec = merge_defaults(defaults if isinstance(defaults, dict) else {}, spec)
        merged.append((doc, merged_spec))
        _check_merged(doc, fleet_doc, merged_spec, report)
    _check_cross_bot(merged, fleet_doc, report)
    _check_backend(merged, fleet_doc, report)

    problems = report.problems
    if any(p.is_error for p in problems):
        return ValidationResult(problems, None)
    return ValidationResult(problems, build_fleet(fleet_doc, merged))


def merge_defaults(defaults: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Maps merge key by key (recursively); lists and scalars are replaced by the bot's value."""
    return merge_maps(defaults, spec)


# --- per document -----------------------------------------------------------------------------

def _check_header(doc: Document, report: _Reporter) -> str | None:
    data = doc.data
    if not isinstance(data, dict):
        what = "empty" if data is None else type(data).__name__.replace("str", "a string").replace("list", "a list")
        report.add(doc, (), f"document is {what}, not a mapping with apiVersion, kind, metadata and spec")
        return None
    ok = True
    api = data.get("apiVersion")
    if api is None:
        report.add(doc, (), f"missing apiVersion (expected {API_VERSION})")
        ok = False
    elif api != API_VERSION:
        report.add(doc, ("apiVersion",), f"unknown apiVersion {api!r}; expected {API_VERSION}")
        ok = False
    kind = data.get("kind")
    if kind is None:
        report.add(doc, (), "missing kind (expected Bot or Fleet)")
        return None
    if not isinstance(kind, str) or kind not in SCHEMA_FILES:  # a list or map kind is unhashable
        report.add(doc, ("kind",), f"unknown kind {kind!r}; expected Bot or Fleet")
        return None
    return kind if ok else None


def _schema_check(doc: Document, kind: str, report: _Reporter, defaults: dict[str, Any] | None = None) -> None:
    """Every schema error of one document, located (jsonschema's iter_errors)."""
    validator = _validators()[kind]
    for error in validator.iter_errors(doc.data):
        if defaults and _supplied_by_defaults(error, defaults):
            continue
        for path, message, at_key in _explain(error):
            report.add(doc, path, message, key=at_key)


def _supplied_by_defaults(error: Any, defaults: dict[str, Any]) -> bool:
    """A bot's map may set only some keys of a field the Fleet defaults complete (maps merge key
    by key): a `required` error inside spec is no error when the defaults have that key."""
    path = tuple(error.absolute_path)
    if error.validator != "required" or path[:1] != ("spec",) or any(isinstance(p, int) for p in path):
        return False
    base = _get(defaults, path[1:])
    missing = [k for k in error.validator_value if isinstance(error.instance, dict) and k not in error.instance]
    return isinstance(base, dict) and bool(missing) and all(k in base for k in missing)


def _explain(error: Any) -> Iterator[tuple[JsonPath, str, bool]]:
    """One schema error → located messages, keeping list indices and the validator's meaning."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {}))
        for key in error.instance:
            if key not in known:
                hint = difflib.get_close_matches(str(key), known, n=1)
                extra = f"; did you mean {hint[0]!r}?" if hint else f"; allowed: {', '.join(known)}"
                yield path + (key,), f"unknown field {key!r}{extra}", True
        return
    if error.validator in ("oneOf", "anyOf") and error.context:
        from jsonschema.exceptions import best_match

        # The deepest error in a branch is the specific one ({policy: on-failure, maxRetries: -1}
        # -> maxRetries); when every branch fails at the value itself, the shallowest (the enum) reads best.
        best = best_match([error])
        if best is error:
            best = best_match(error.context)
        if best is not None and best is not error:
            yield from _explain(best)
            return
    if len(error.schema_path) >= 2 and error.schema_path[-2] == "propertyNames":
        # jsonschema reports a bad key as the key's own pattern/length error, located at the mapping
        yield path + (error.instance,), f"invalid key: {error.message}", True
        return
    if error.validator == "pattern" and path and path[-1] == "name":
        yield path, f"{error.instance!r} is not a valid name: use lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit", False
        return
    yield path, error.message, False


def _check_spec_semantics(doc: Document, base: JsonPath, report: _Reporter) -> None:
    """Checks on one spec (a bot's or the fleet defaults), located in that document."""
    spec = _get(doc.data, base)
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
    memory = _get(spec, ("resources", "memory"))
    if isinstance(memory, str):
        parsed = parse_memory(memory)
        if parsed is not None and parsed < 6 * 1024 * 1024:
            report.add(doc, base + ("resources", "memory"), f"memory {memory!r} is below Docker's minimum of 6m")
    cpus = _get(spec, ("resources", "cpus"))
    if isinstance(cpus, float) and cpus != cpus:  # NaN passes the schema's bounds: every comparison with it is false
        report.add(doc, base + ("resources", "cpus"), "cpus is .nan, not a number; give a number of cores such as 0.5")
    image = spec.get("image")
    if isinstance(image, str) and image:
        if image_tag(image) in (None, "latest"):
            report.add(doc, base + ("image",),
                       f"image {image!r} has no pinned tag: 'latest' moves under you; pin a version such as :2026.2.26",
                       severity=WARNING)


def _check_merged(doc: Document, fleet_doc: Document | None, spec: dict[str, Any], report: _Reporter) -> None:
    """Checks that need the bot's spec with the fleet defaults merged in."""
    where = _Where(doc, fleet_doc)
    if "image" not in spec:
        report.add(doc, ("spec",), "spec.image is required (set it on the bot or in the Fleet's spec.defaults)")
    listed = spec.get("secrets")
    secrets: list[Any] = listed if isinstance(listed, list) else []
    provider = _get(spec, ("provider", "name"))
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


class _Where:
    """Locates a path of a merged spec: in the bot's document if it sets it, else the fleet defaults."""

    def __init__(self, doc: Document, fleet_doc: Document | None):
        self.doc, self.fleet_doc = doc, fleet_doc

    def report(self, report: _Reporter, path: JsonPath, message: str, *, severity: str = ERROR) -> None:
        if _has(self.doc.data, ("spec",) + path) or self.fleet_doc is None or not _has(
            self.fleet_doc.data, ("spec", "defaults") + path
        ):
            report.add(self.doc, ("spec",) + path, message, severity=severity)
        else:
            name = _get(self.doc.data, ("metadata", "name"))
            report.add(self.fleet_doc, ("spec", "defaults") + path, f"bot {name}: {message}", severity=severity)


def _check_cross_bot(merged: list[tuple[Document, dict[str, Any]]], fleet_doc: Document | None, report: _Reporter) -> None:
    """Shared host ports and shared state across bots. Indexed, so a 1,000-bot set costs a
    lookup per port or mount, not a comparison with every earlier bot."""
    ports_seen: dict[tuple[int, str], list[tuple[str, str, Location]]] = {}  # (port, proto) -> ip, bot, where
    # mounts: (seq, source, is_bind, read_only, bot, where), by exact source and by each ancestor
    exact: dict[str, list[tuple[int, str, bool, bool, str, Location]]] = {}
    below: dict[str, list[tuple[int, str, bool, bool, str, Location]]] = {}
    seq = 0
    for doc, spec in merged:
        bot = _get(doc.data, ("metadata", "name"))
        where = _Where(doc, fleet_doc)
        listed_ports = spec.get("ports")
        ports: list[Any] = listed_ports if isinstance(listed_ports, list) else []
        for i, port in enumerate(ports):
            if not isinstance(port, dict) or not isinstance(port.get("hostPort"), int):
                continue
            ip = port.get("hostIP", "127.0.0.1")
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


def _check_backend(merged: list[tuple[Document, dict[str, Any]]], fleet_doc: Document | None,
                   report: _Reporter) -> None:
    """Fields one backend cannot honour, located as usual: placement on a single engine (a
    warning), and on a swarm what a service cannot do (a host address to publish on, the
    OpenClaw runtime whose generated config and state live on one host's disk)."""
    backend = (_get(fleet_doc.data, ("spec", "backend")) if fleet_doc else None) or "docker"
    for doc, spec in merged:
        where = _Where(doc, fleet_doc)
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
            if isinstance(port, dict) and port.get("hostIP", "127.0.0.1") not in WILDCARD_IPS:
                at = ("ports", i, "hostIP") if "hostIP" in port else ("ports", i)
                where.report(report, at, f"a swarm service cannot publish on host address "
                             f"{port.get('hostIP', '127.0.0.1')} (the default): it publishes on every address of the "
                             "node it runs on (mode host); set hostIP: 0.0.0.0 and firewall the port on the nodes, or "
                             "drop the port and reach the bot over an overlay network (spec.network)")


def _ancestors(path: str) -> list[str]:
    """/a/b/c -> [/a/b, /a, /]"""
    out = []
    while path not in ("/", ""):
        path = os.path.dirname(path)
        out.append(path)
    return out


# --- building the model -----------------------------------------------------------------------

def build_fleet(fleet_doc: Document | None, merged: list[tuple[Document, dict[str, Any]]]) -> FleetSpec:
    name = _get(fleet_doc.data, ("metadata", "name")) if fleet_doc else DEFAULT_FLEET
    secrets_dir = _get(fleet_doc.data, ("spec", "secretsDir")) if fleet_doc else None
    bots = tuple(
        sorted((build_bot(doc, spec) for doc, spec in merged), key=lambda b: b.name)
    )
    return FleetSpec(name=name, secrets_dir=secrets_dir, bots=bots,
                     state_dir=_get(fleet_doc.data, ("spec", "stateDir")) if fleet_doc else None,
                     config_dir=_get(fleet_doc.data, ("spec", "configDir")) if fleet_doc else None,
                     backend=(_get(fleet_doc.data, ("spec", "backend")) if fleet_doc else None) or "docker")


def build_bot(doc: Document, spec: dict[str, Any]) -> BotSpec:
    meta = doc.data["metadata"]
    restart = spec.get("restart", "unless-stopped")
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
        pull_policy=spec.get("pullPolicy", "IfNotPresent"),
        provider=tuple(sorted(provider.items())),
        channels=tuple(c["type"] for c in spec.get("channels", [])),
        secrets=tuple(sorted(spec.get("secrets", []))),
        env=tuple(sorted((k, _env_text(v)) for k, v in spec.get("env", {}).items())),
        command=tuple(spec["command"]) if "command" in spec else None,
        user=str(user) if user is not None else None,
        ports=tuple(
            Port(p["containerPort"], p["hostPort"], p.get("hostIP", "127.0.0.1"), p.get("protocol", "tcp"))
            for p in spec.get("ports", [])
        ),
        volumes=tuple(
            Volume(v["source"], v["target"], bool(v.get("readOnly", False))) for v in spec.get("volumes", [])
        ),
        memory_bytes=parse_memory(memory) if memory is not None else None,
        nano_cpus=nano_from_cpus(cpus),
        restart_policy=restart_policy,
        restart_max_retries=max_retries,
        state=spec.get("state", "running"),
        healthcheck=_healthcheck(spec["healthcheck"]) if "healthcheck" in spec else None,
        network=spec.get("network", "bridge"),
        source_file=doc.file,
        runtime=spec.get("runtime", RUNTIME_OPENCLAW),
        channel_settings=tuple(sorted(
            (c["type"], canonical_json(c["settings"])) for c in spec.get("channels", []) if c.get("settings")
        )),
        gateway_port=gateway.get("port", DEFAULT_PORT),
        gateway_bind=gateway.get("bind"),
        gateway_cli=tuple(gateway.get("cli", ("node", "dist/index.js"))),
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


def _env_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_MISSING = object()


def _lookup(data: Any, path: JsonPath) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return _MISSING
    return data


def _get(data: Any, path: JsonPath) -> Any:
    value = _lookup(data, path)
    return None if value is _MISSING else value


def _has(data: Any, path: JsonPath) -> bool:
    return _lookup(data, path) is not _MISSING
