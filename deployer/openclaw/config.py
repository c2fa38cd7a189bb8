"""openclaw.json rendered from a bot's manifest, deterministically, holding only SecretRefs.

Every credential is a file SecretRef (`{source: file, provider: <id>, id: value}`) to a
`secrets.providers` entry `{source: file, path: /run/secrets/<NAME>, mode: singleValue}`, so
the rendered file never holds a secret value and can be shown, diffed and mounted freely.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from deployer.core.model import BotSpec, merge_maps
from deployer.core.vocabulary import SECRETS_MOUNT

CONFIG_MOUNT = "/etc/openclaw"  # the bot's config directory, mounted read-only
CONFIG_FILE = "openclaw.json"
CONFIG_PATH = f"{CONFIG_MOUNT}/{CONFIG_FILE}"
STATE_MOUNT = "/home/node/.openclaw"  # the bot's state directory, read-write
GATEWAY_TOKEN = "OPENCLAW_GATEWAY_TOKEN"

# The gateway's environment: config and state from the mounts, and never a config rewrite.
GATEWAY_ENV = (
    ("OPENCLAW_CONFIG_PATH", CONFIG_PATH),
    ("OPENCLAW_CONFIG_READONLY", "1"),
    ("OPENCLAW_STATE_DIR", STATE_MOUNT),
)

# spec.provider.name -> (OpenClaw provider id, the API key's secret file). Other providers are
# passed through by name, with <NAME>_API_KEY as their key when the bot declares that secret.
PROVIDERS: dict[str, tuple[str, str]] = {
    "anthropic": ("anthropic", "ANTHROPIC_API_KEY"),
    "openai": ("openai", "OPENAI_API_KEY"),
    "gemini": ("google", "GEMINI_API_KEY"),
    "openrouter": ("openrouter", "OPENROUTER_API_KEY"),
}
# Extra settings per OpenClaw provider id. openai: the deployer always authenticates with an API
# key file, and with the runtime unset OpenAI's route policy may pick the bundled Codex harness,
# which the gateway cannot launch in a plain image (measured: exit 78, "Command failed during
# launch or output capture (ENOENT)"); the docs' API-key recipe pins the OpenClaw runtime.
PROVIDER_SETTINGS: dict[str, dict[str, Any]] = {"openai": {"agentRuntime": {"id": "openclaw"}}}
# channel type -> {config key of the credential: its secret file}
CHANNELS: dict[str, dict[str, str]] = {
    "telegram": {"botToken": "TELEGRAM_BOT_TOKEN"},
    "discord": {"token": "DISCORD_BOT_TOKEN"},
    "slack": {"botToken": "SLACK_BOT_TOKEN", "appToken": "SLACK_APP_TOKEN"},
    "matrix": {"accessToken": "MATRIX_ACCESS_TOKEN"},
}
# The only channel plugin in the openclaw npm package 2026.9.6; any other channel needs its
# plugin installed into the bot's state dir first, or the gateway exits 78.
BUNDLED_CHANNELS = ("telegram",)


def provider_binding(name: str, secrets: tuple[str, ...] | list[str]) -> tuple[str, str | None]:
    """(OpenClaw provider id, API key secret or None) for spec.provider.name."""
    if name in PROVIDERS:
        return PROVIDERS[name]
    guess = name.upper().replace("-", "_") + "_API_KEY"
    return name, guess if guess in secrets else None


def gateway_bind(bot: BotSpec) -> str:
    if bot.gateway_bind:
        return bot.gateway_bind
    return "lan" if bot.ports else "loopback"


def secret_ref(name: str) -> dict[str, str]:
    return {"source": "file", "provider": name.lower(), "id": "value"}


def render_config(bot: BotSpec) -> dict[str, Any]:
    """The whole openclaw.json of an OpenClaw bot, as plain data."""
    used: set[str] = set()

    def ref(name: str) -> dict[str, str]:
        used.add(name)
        return secret_ref(name)

    gateway: dict[str, Any] = {"mode": "local", "port": bot.gateway_port, "bind": gateway_bind(bot)}
    if GATEWAY_TOKEN in bot.secrets:
        gateway["auth"] = {"mode": "token", "token": ref(GATEWAY_TOKEN)}
    config: dict[str, Any] = {"gateway": gateway}
    provider = dict(bot.provider)
    if provider.get("name"):
        pid, key = provider_binding(provider["name"], bot.secrets)
        if provider.get("model"):
            config["agents"] = {"defaults": {"model": {"primary": f"{pid}/{provider['model']}"}}}
        if key and key in bot.secrets:
            config["models"] = {"providers": {pid: {"apiKey": ref(key), **PROVIDER_SETTINGS.get(pid, {})}}}
    settings = dict(bot.channel_settings)
    channels: dict[str, Any] = {}
    for ctype in sorted(set(bot.channels)):
        entry: dict[str, Any] = {"enabled": True}
        entry.update(json.loads(settings.get(ctype, "{}")))
        for field, secret in CHANNELS.get(ctype, {}).items():
            if secret in bot.secrets:
                entry[field] = ref(secret)
        channels[ctype] = entry
    if channels:
        config["channels"] = channels
    config = merge_maps(config, json.loads(bot.openclaw_config))
    if used:
        providers = {
            name.lower(): {"source": "file", "path": f"{SECRETS_MOUNT}/{name}", "mode": "singleValue"}
            for name in sorted(used)
        }
        config.setdefault("secrets", {})["providers"] = providers
    return config


def config_bytes(config: dict[str, Any]) -> bytes:
    """The file's exact bytes: sorted keys, two-space indent, one final newline."""
    return (json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


# spec.openclaw over the generated config: the same rule as Fleet defaults under a bot
deep_merge = merge_maps


# --- what a change does to a running gateway -----------------------------------------------------

# From OpenClaw's docs (gateway/configuration/hot-reload.md): the longest matching prefix decides;
# a path matching no rule restarts the gateway. Hot paths are applied by the running gateway.
HOT_PREFIXES = (
    "channels", "web", "agents", "models", "auth.order", "auth.profiles", "broadcast", "worktreeRoot",
    "worktreeAcceleration", "hooks", "cron", "session", "messages", "tools", "skills", "mcp", "audio",
    "talk", "tts", "memory.citations", "attachments.ttlHours", "plugins", "ui", "logging", "identity",
    "bindings", "surfaces", "approvals.exec", "approvals.plugin", "security.installPolicy",
    "security.audit.suppressions", "diagnostics.flags", "diagnostics.cacheTrace.enabled", "acp",
    "update.checkOnStart", "update.channel", "update.auto.enabled", "telemetry.enabled",
    "telemetry.consentedAt", "gateway.publicOrigin", "gateway.http.endpoints", "gateway.tools",
    "gateway.nodes.browser", "gateway.nodes.pairing", "gateway.nodes.commands",
    "gateway.nodes.pluginTools.enabled", "gateway.nodes.allowSkills", "gateway.cliAgents",
    "gateway.terminal", "gateway.auth.token", "gateway.auth.password", "gateway.roles",
    "gateway.trustedProxies", "gateway.allowRealIpFallback", "gateway.auth.rateLimit",
    "gateway.push.apns.relay", "discovery.mdns.mode", "gateway.auth.allowTailscale",
    "gateway.auth.identityScopes", "gateway.auth.trustedProxy", "gateway.http.securityHeaders.strictTransportSecurity",
    "mcp.apps.sandboxOrigin",
    # "selected gateway.controlUi settings"
    "gateway.controlUi.enabled", "gateway.controlUi.environment", "gateway.controlUi.github",
    "gateway.controlUi.sessionObserver", "gateway.controlUi.embedSandbox", "gateway.controlUi.allowExternalEmbedUrls",
    "gateway.controlUi.experimental.customPlugins", "gateway.controlUi.automaticallyFetchFavicons",
    "gateway.controlUi.allowedOrigins", "gateway.controlUi.dangerouslyAllowHostHeaderOriginFallback",
    "browser.profiles", "browser.defaultProfile", "browser.headless", "browser.executablePath", "browser.attachOnly",
    "browser.cdpUrl", "browser.noSandbox", "browser.extraArgs", "browser.snapshotDefaults", "browser.tabCleanup",
    "browser.allowSystemProfileImport", "browser.enabled", "browser.evaluateEnabled", "browser.ssrfPolicy",
    "browser.extensionRelay.allowLegacyAuth", "commands", "accessGroups", "transcripts.enabled",
    "transcripts.autoStart", "desktop.host", "cloudWorkers",
    # a new or changed file provider is resolved by the reload that uses it (measured: adding
    # channels.telegram with its secrets.providers entry hot-applied)
    "secrets.providers",
)
RESTART_PREFIXES = ("gateway", "discovery", "browser", "mcp.apps", "secrets.egressProxy")
_RULES = sorted(((p, "hot") for p in HOT_PREFIXES), key=lambda r: -len(r[0])) + sorted(
    ((p, "restart") for p in RESTART_PREFIXES), key=lambda r: -len(r[0])
)


def reload_class(path: str) -> str:
    """'hot' or 'restart' for a dotted config path."""
    best: tuple[int, str] = (-1, "restart")
    for prefix, kind in _RULES:
        if (path == prefix or path.startswith(prefix + ".")) and len(prefix) > best[0]:
            best = (len(prefix), kind)
    return best[1]


def flatten(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Leaf paths of a config; lists and empty maps are leaves."""
    if isinstance(data, dict) and data:
        for key in sorted(data):
            yield from flatten(data[key], f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, data


_ABSENT = object()


def config_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(OpenClaw path, before, after) of every leaf that differs; None stands for absent."""
    old = dict(flatten(before)) if before is not None else {}
    new = dict(flatten(after))
    out = []
    for path in sorted(set(old) | set(new)):
        a, b = old.get(path, _ABSENT), new.get(path, _ABSENT)
        if _typed(a) != _typed(b):  # 1 == True in Python, but not in the gateway's schema
            out.append((path, None if a is _ABSENT else a, None if b is _ABSENT else b))
    return out


def _typed(value: Any) -> Any:
    return value if value is _ABSENT else json.dumps(value, sort_keys=True)


def parse_config(raw: bytes | None) -> dict[str, Any] | None:
    """A config file as found on the host; None when missing or not a JSON object."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
