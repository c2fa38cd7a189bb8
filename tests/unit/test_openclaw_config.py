"""The generated openclaw.json: its exact shape (file SecretRefs only), provider mapping,
channel settings, spec.openclaw merged in, deterministic bytes; and the config diff helpers
(flatten, config_changes, parse_config) and OpenClaw's hot-reload classification. Plain data."""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from deployer.core.model import BotSpec, Port
from deployer.manifests.load import load_paths
from deployer.manifests.validation import validate_documents
from deployer.openclaw.config import (
    config_bytes,
    config_changes,
    deep_merge,
    flatten,
    gateway_bind,
    parse_config,
    provider_binding,
    reload_class,
    render_config,
)

DATA = Path(__file__).resolve().parent / "data" / "openclaw"
IMAGE = "ghcr.io/openclaw/openclaw:2026.2.26"


def ref(provider: str) -> dict[str, str]:
    """A file SecretRef as the research note's recipe writes it."""
    return {"source": "file", "provider": provider, "id": "value"}


def file_provider(secret: str) -> dict[str, str]:
    return {"source": "file", "path": f"/run/secrets/{secret}", "mode": "singleValue"}


def oc_bot(**fields: Any) -> BotSpec:
    base: dict[str, Any] = dict(name="support", image=IMAGE, runtime="openclaw")
    base.update(fields)
    return BotSpec(**base)


# --- the golden config, built from a manifest ---------------------------------------------------

RECIPE_MANIFEST = f"""
apiVersion: botmaker/v1
kind: Bot
metadata:
  name: support
spec:
  image: {IMAGE}
  provider: {{name: anthropic, model: claude-sonnet-4-5}}
  channels:
    - type: telegram
      settings: {{dmPolicy: pairing, allowFrom: ["123456"]}}
  secrets: [TELEGRAM_BOT_TOKEN, OPENCLAW_GATEWAY_TOKEN, ANTHROPIC_API_KEY]
  ports: [{{containerPort: 18789, hostPort: 18801}}]
  resources: {{memory: 1g}}
"""

# The research note's recipe (section 2.2), with the deployer's provider ids (the secret's name
# in lower case) and the channel settings passed through.
RECIPE_CONFIG = {
    "gateway": {
        "mode": "local",
        "port": 18789,
        "bind": "lan",
        "auth": {"mode": "token", "token": ref("openclaw_gateway_token")},
    },
    "agents": {"defaults": {"model": {"primary": "anthropic/claude-sonnet-4-5"}}},
    "models": {"providers": {"anthropic": {"apiKey": ref("anthropic_api_key")}}},
    "channels": {
        "telegram": {
            "enabled": True,
            "botToken": ref("telegram_bot_token"),
            "dmPolicy": "pairing",
            "allowFrom": ["123456"],
        },
    },
    "secrets": {
        "providers": {
            "anthropic_api_key": file_provider("ANTHROPIC_API_KEY"),
            "openclaw_gateway_token": file_provider("OPENCLAW_GATEWAY_TOKEN"),
            "telegram_bot_token": file_provider("TELEGRAM_BOT_TOKEN"),
        },
    },
}


def bot_from_manifest(tmp_path: Path, text: str) -> BotSpec:
    path = tmp_path / "bot.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    documents, problems = load_paths([str(path)])
    result = validate_documents(documents, problems)
    assert [p.format() for p in result.problems if p.is_error] == []
    (bot,) = result.fleet.bots
    return bot


def test_recipe_bot_renders_the_research_recipe(tmp_path: Path) -> None:
    bot = bot_from_manifest(tmp_path, RECIPE_MANIFEST)
    assert bot.runtime == "openclaw"  # the default for a manifest
    assert render_config(bot) == RECIPE_CONFIG


def test_recipe_bytes_match_the_golden_file(tmp_path: Path) -> None:
    """Sorted keys at every level, two-space indent, UTF-8, one final newline."""
    bot = bot_from_manifest(tmp_path, RECIPE_MANIFEST)
    golden = (DATA / "anthropic-telegram.openclaw.json").read_bytes()
    assert config_bytes(render_config(bot)) == golden
    assert golden.endswith(b"}\n") and not golden.endswith(b"\n\n")


def _refs(data: Any) -> list[dict[str, Any]]:
    """Every SecretRef-shaped map in a config."""
    if isinstance(data, dict):
        found = [data] if data.get("source") == "file" and "id" in data else []
        return found + [r for v in data.values() for r in _refs(v)]
    if isinstance(data, list):
        return [r for v in data for r in _refs(v)]
    return []


REF_BOTS = [
    pytest.param(oc_bot(provider=(("model", "m"), ("name", "anthropic")), channels=("telegram",),
                        secrets=("ANTHROPIC_API_KEY", "OPENCLAW_GATEWAY_TOKEN", "TELEGRAM_BOT_TOKEN")), id="recipe"),
    pytest.param(oc_bot(channels=("slack", "discord", "matrix"),
                        secrets=("DISCORD_BOT_TOKEN", "MATRIX_ACCESS_TOKEN", "SLACK_APP_TOKEN", "SLACK_BOT_TOKEN")),
                 id="other-channels"),
    pytest.param(oc_bot(provider=(("model", "gpt-5"), ("name", "openai")), secrets=("OPENAI_API_KEY",)), id="openai"),
]


@pytest.mark.parametrize("bot", REF_BOTS)
def test_every_secret_ref_has_its_file_provider(bot: BotSpec) -> None:
    config = render_config(bot)
    providers = config["secrets"]["providers"]
    refs = _refs({k: v for k, v in config.items() if k != "secrets"})
    assert refs and all(r == ref(r["provider"]) for r in refs)
    # exactly the referenced providers exist, each a singleValue file under /run/secrets named
    # after a declared secret
    assert sorted(providers) == sorted({r["provider"] for r in refs})
    for pid, entry in providers.items():
        secret = entry["path"].rsplit("/", 1)[1]
        assert entry == file_provider(secret) and secret in bot.secrets and pid == secret.lower()


# --- providers ------------------------------------------------------------------------------------

PROVIDER_CASES = [
    # (spec.provider.name, declared secrets, OpenClaw provider id, the key's secret)
    ("anthropic", ("ANTHROPIC_API_KEY",), "anthropic", "ANTHROPIC_API_KEY"),
    ("openai", ("OPENAI_API_KEY",), "openai", "OPENAI_API_KEY"),
    ("openrouter", ("OPENROUTER_API_KEY",), "openrouter", "OPENROUTER_API_KEY"),
    ("gemini", ("GEMINI_API_KEY",), "google", "GEMINI_API_KEY"),
    ("mistral", ("MISTRAL_API_KEY",), "mistral", "MISTRAL_API_KEY"),
    ("my-llm", ("MY_LLM_API_KEY",), "my-llm", "MY_LLM_API_KEY"),
    # a known provider's key is named even when the bot does not declare it (validation then errs)
    ("anthropic", (), "anthropic", "ANTHROPIC_API_KEY"),
    # an unknown provider's key is only guessed when declared
    ("mistral", (), "mistral", None),
    ("mistral", ("MISTRAL_KEY",), "mistral", None),
]


@pytest.mark.parametrize("name, secrets, pid, key", PROVIDER_CASES)
def test_provider_binding(name: str, secrets: tuple[str, ...], pid: str, key: str | None) -> None:
    assert provider_binding(name, secrets) == (pid, key)


@pytest.mark.parametrize("name, secret, pid", [
    ("gemini", "GEMINI_API_KEY", "google"),
    ("mistral", "MISTRAL_API_KEY", "mistral"),
    ("openrouter", "OPENROUTER_API_KEY", "openrouter"),
])
def test_provider_model_and_key(name: str, secret: str, pid: str) -> None:
    config = render_config(oc_bot(provider=(("model", "some-model"), ("name", name)), secrets=(secret,)))
    assert config["agents"] == {"defaults": {"model": {"primary": f"{pid}/some-model"}}}
    assert config["models"] == {"providers": {pid: {"apiKey": ref(secret.lower())}}}
    assert config["secrets"] == {"providers": {secret.lower(): file_provider(secret)}}


def test_provider_without_its_key_declared_gets_no_key_ref() -> None:
    config = render_config(oc_bot(provider=(("model", "large"), ("name", "mistral"))))
    assert config == {
        "gateway": {"mode": "local", "port": 18789, "bind": "loopback"},
        "agents": {"defaults": {"model": {"primary": "mistral/large"}}},
    }


def test_provider_without_a_model_sets_no_primary_model() -> None:
    config = render_config(oc_bot(provider=(("name", "anthropic"),), secrets=("ANTHROPIC_API_KEY",)))
    assert "agents" not in config
    assert config["models"] == {"providers": {"anthropic": {"apiKey": ref("anthropic_api_key")}}}


def test_a_declared_secret_nothing_references_gets_no_provider() -> None:
    config = render_config(oc_bot(provider=(("model", "m"), ("name", "anthropic")),
                                  secrets=("ANTHROPIC_API_KEY", "OPENAI_API_KEY")))
    assert sorted(config["secrets"]["providers"]) == ["anthropic_api_key"]


# --- gateway ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("bind, ports, expected", [
    (None, (), "loopback"),
    (None, (Port(18789, 18801),), "lan"),
    ("loopback", (Port(18789, 18801),), "loopback"),
    ("lan", (), "lan"),
])
def test_gateway_bind(bind: str | None, ports: tuple[Port, ...], expected: str) -> None:
    bot = oc_bot(gateway_bind=bind, ports=ports)
    assert gateway_bind(bot) == expected
    assert render_config(bot)["gateway"]["bind"] == expected


def test_gateway_port_and_token() -> None:
    config = render_config(oc_bot(gateway_port=19000, gateway_bind="lan", secrets=("OPENCLAW_GATEWAY_TOKEN",)))
    assert config == {
        "gateway": {"mode": "local", "port": 19000, "bind": "lan",
                    "auth": {"mode": "token", "token": ref("openclaw_gateway_token")}},
        "secrets": {"providers": {"openclaw_gateway_token": file_provider("OPENCLAW_GATEWAY_TOKEN")}},
    }


# --- channels ---------------------------------------------------------------------------------------

def test_channel_credentials_and_settings() -> None:
    bot = oc_bot(
        channels=("telegram", "slack", "whatsapp"),
        secrets=("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "TELEGRAM_BOT_TOKEN"),
        channel_settings=(("slack", '{"mode":"socket"}'),
                          ("telegram", '{"dmPolicy":"allowlist","groups":{"*":{"requireMention":true}}}')),
    )
    assert render_config(bot)["channels"] == {
        "slack": {"enabled": True, "mode": "socket", "botToken": ref("slack_bot_token"),
                  "appToken": ref("slack_app_token")},
        "telegram": {"enabled": True, "dmPolicy": "allowlist", "groups": {"*": {"requireMention": True}},
                     "botToken": ref("telegram_bot_token")},
        "whatsapp": {"enabled": True},  # no credential the deployer knows of
    }


def test_channel_token_not_declared_is_not_referenced() -> None:
    config = render_config(oc_bot(channels=("telegram",)))
    assert config["channels"] == {"telegram": {"enabled": True}}
    assert "secrets" not in config


# --- spec.openclaw ----------------------------------------------------------------------------------

def test_spec_openclaw_is_deep_merged() -> None:
    extra = {
        "agents": {"defaults": {"workspace": "/home/node/.openclaw/workspace", "heartbeat": {"every": "0m"}}},
        "channels": {"telegram": {"streaming": "off"}},
        "gateway": {"controlUi": {"allowedOrigins": ["https://bots.example"]}},
        "logging": {"level": "debug"},
    }
    bot = oc_bot(provider=(("model", "claude"), ("name", "anthropic")), channels=("telegram",),
                 secrets=("ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"), openclaw_config=json.dumps(extra))
    config = render_config(bot)
    assert config["agents"] == {"defaults": {"model": {"primary": "anthropic/claude"},
                                             "workspace": "/home/node/.openclaw/workspace",
                                             "heartbeat": {"every": "0m"}}}
    assert config["channels"] == {"telegram": {"enabled": True, "botToken": ref("telegram_bot_token"),
                                               "streaming": "off"}}
    assert config["gateway"] == {"mode": "local", "port": 18789, "bind": "loopback",
                                 "controlUi": {"allowedOrigins": ["https://bots.example"]}}
    assert config["logging"] == {"level": "debug"}
    assert sorted(config["secrets"]["providers"]) == ["anthropic_api_key", "telegram_bot_token"]


def test_spec_openclaw_secrets_sibling_keeps_the_providers() -> None:
    bot = oc_bot(secrets=("OPENCLAW_GATEWAY_TOKEN",), openclaw_config='{"secrets":{"egressProxy":{"url":"http://p:3128"}}}')
    assert render_config(bot)["secrets"] == {
        "egressProxy": {"url": "http://p:3128"},
        "providers": {"openclaw_gateway_token": file_provider("OPENCLAW_GATEWAY_TOKEN")},
    }


DEEP_MERGE_CASES = [
    pytest.param({"a": {"b": 1, "c": 2}}, {"a": {"c": 3, "d": 4}}, {"a": {"b": 1, "c": 3, "d": 4}}, id="nested"),
    pytest.param({"a": [1, 2]}, {"a": [3]}, {"a": [3]}, id="lists-replaced-not-joined"),
    pytest.param({"a": {"b": 1}}, {"a": "x"}, {"a": "x"}, id="scalar-replaces-map"),
    pytest.param({"a": "x"}, {"a": {"b": 1}}, {"a": {"b": 1}}, id="map-replaces-scalar"),
    pytest.param({"a": {"b": {"c": 1}}}, {"a": {"b": {}}}, {"a": {"b": {"c": 1}}}, id="empty-map-adds-nothing"),
    pytest.param({}, {"a": None}, {"a": None}, id="null-kept"),
]


@pytest.mark.parametrize("base, extra, expected", DEEP_MERGE_CASES)
def test_deep_merge(base: dict, extra: dict, expected: dict) -> None:
    before = copy.deepcopy((base, extra))
    assert deep_merge(base, extra) == expected
    assert (base, extra) == before  # inputs untouched


# --- determinism ------------------------------------------------------------------------------------

def test_same_bot_same_bytes_whatever_the_input_order() -> None:
    a = oc_bot(provider=(("model", "m"), ("name", "anthropic")), channels=("telegram", "slack"),
               secrets=("ANTHROPIC_API_KEY", "SLACK_BOT_TOKEN", "TELEGRAM_BOT_TOKEN"),
               openclaw_config='{"logging":{"level":"debug"},"identity":{"name":"Zo\\u00eb"}}')
    b = oc_bot(provider=(("name", "anthropic"), ("model", "m")), channels=("slack", "telegram"),
               secrets=("TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN", "ANTHROPIC_API_KEY"),
               openclaw_config='{"identity":{"name":"Zo\\u00eb"},"logging":{"level":"debug"}}')
    first = config_bytes(render_config(a))
    assert first == config_bytes(render_config(a)) == config_bytes(render_config(b))
    assert "Zoë".encode() in first  # UTF-8, not \u escapes
    text = first.decode()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_render_config_does_not_share_state_between_calls() -> None:
    bot = oc_bot(secrets=("OPENCLAW_GATEWAY_TOKEN",), gateway_bind="lan")
    first = render_config(bot)
    first["gateway"]["port"] = 1
    first["secrets"]["providers"].clear()
    assert render_config(bot)["gateway"]["port"] == 18789
    assert render_config(bot)["secrets"]["providers"] != {}


# --- spec.openclaw values that are not maps where the deployer writes ---------------------------------

NON_MAP_OVERRIDES = [
    pytest.param("secrets", '"x"', id="secrets-string"),
    pytest.param("gateway", "null", id="gateway-null"),
    pytest.param("channels", "null", id="channels-null"),
    pytest.param("models", "[]", id="models-list"),
]


@pytest.mark.parametrize("key, value", NON_MAP_OVERRIDES)
def test_non_map_at_a_deployer_owned_key_is_refused_or_harmless(tmp_path: Path, key: str, value: str) -> None:
    manifest = RECIPE_MANIFEST + f"  openclaw: {{{key}: {value}}}\n"
    path = tmp_path / "bot.yaml"
    path.write_text(textwrap.dedent(manifest).lstrip("\n"))
    documents, problems = load_paths([str(path)])
    result = validate_documents(documents, problems)
    if any(p.is_error and p.path == f"$.spec.openclaw.{key}" for p in result.problems):
        return  # refused, located
    (bot,) = result.fleet.bots
    config = render_config(bot)
    for leaf, value_ in flatten(RECIPE_CONFIG):
        if leaf.split(".")[0] == key:
            assert dict(flatten(config)).get(leaf) == value_, leaf


# --- flatten / config_changes / parse_config --------------------------------------------------------

def test_flatten_leaves() -> None:
    data = {"b": {"y": [1, {"z": 2}], "x": {}}, "a": None, "c": {"d": {"e": "f"}}}
    assert list(flatten(data)) == [("a", None), ("b.x", {}), ("b.y", [1, {"z": 2}]), ("c.d.e", "f")]


CHANGE_CASES = [
    pytest.param({"a": {"b": 1}}, {"a": {"b": 1}}, [], id="equal"),
    pytest.param(None, {"a": {"b": 1}}, [("a.b", None, 1)], id="from-nothing"),
    pytest.param({"a": {"b": 1}}, {"a": {"b": 2}}, [("a.b", 1, 2)], id="changed"),
    pytest.param({"a": {"b": 1, "c": 1}}, {"a": {"b": 1}}, [("a.c", 1, None)], id="removed"),
    pytest.param({"a": {"b": None}}, {"a": {}}, [("a", None, {}), ("a.b", None, None)], id="null-vs-absent"),
    pytest.param({"a": [1, 2]}, {"a": [2, 1]}, [("a", [1, 2], [2, 1])], id="list-order"),
    pytest.param({"a": "x"}, {"a": {"b": "x"}}, [("a", "x", None), ("a.b", None, "x")], id="scalar-to-map"),
    pytest.param({"t": {"x": 1}}, {"t": {"x": True}}, [("t.x", 1, True)], id="one-vs-true"),
    pytest.param({"t": {"x": [0]}}, {"t": {"x": [False]}}, [("t.x", [0], [False])], id="list-zero-vs-false"),
]


@pytest.mark.parametrize("before, after, expected", CHANGE_CASES)
def test_config_changes(before: dict | None, after: dict, expected: list) -> None:
    assert config_changes(before, after) == expected


@pytest.mark.parametrize("raw, expected", [
    (None, None),
    (b"", None),
    (b"{not json", None),
    (b"[1, 2]", None),
    (b'"text"', None),
    (b'{"gateway": {"port": 18789}}\n', {"gateway": {"port": 18789}}),
])
def test_parse_config(raw: bytes | None, expected: dict | None) -> None:
    assert parse_config(raw) == expected


# --- hot reload classification (docs/gateway/configuration/hot-reload.md, OpenClaw 2026.9.6) -----

RELOAD_CASES = [
    # Channels
    ("channels.telegram.botToken.id", "hot"),
    ("channels.telegram.dmPolicy", "hot"),
    ("channels", "hot"),
    ("web.enabled", "hot"),
    # Agent & models
    ("agents.defaults.model.primary", "hot"),
    ("models.providers.anthropic.apiKey.provider", "hot"),
    ("auth.order.anthropic", "hot"),
    ("auth.profiles.x.mode", "hot"),
    ("broadcast.x", "hot"),
    ("worktreeRoot", "hot"),
    # Automation
    ("hooks.internal.enabled", "hot"),
    ("cron.enabled", "hot"),
    ("agents.defaults.heartbeat.every", "hot"),
    # Sessions & messages
    ("session.store", "hot"),
    ("messages.ackReactionScope", "hot"),
    # Tools & media: mcp except the Apps listener
    ("tools.exec.enabled", "hot"),
    ("skills.x", "hot"),
    ("mcp.servers.x.command", "hot"),
    ("mcp.apps.port", "restart"),
    ("audio.x", "hot"),
    ("tts.x", "hot"),
    ("memory.citations", "hot"),
    ("memory.backend", "restart"),  # only memory.citations is listed
    ("attachments.ttlHours", "hot"),
    # Plugin config
    ("plugins.entries.anthropic.enabled", "hot"),
    # UI & misc
    ("ui.assistant.name", "hot"),
    ("logging.level", "hot"),
    ("identity.name", "hot"),
    # Approvals, diagnostics, ACP, updates, telemetry
    ("approvals.exec.mode", "hot"),
    ("security.installPolicy.x", "hot"),
    ("security.audit.suppressions", "hot"),
    ("diagnostics.flags", "hot"),
    ("acp.enabled", "hot"),
    ("update.channel", "hot"),
    ("telemetry.enabled", "hot"),
    # Gateway: the listed parts are hot, the rest restarts
    ("gateway.publicOrigin", "hot"),
    ("gateway.http.endpoints.chat.enabled", "hot"),
    ("gateway.tools.x", "hot"),
    ("gateway.nodes.pairing.autoApprove", "hot"),
    ("gateway.cliAgents", "hot"),
    ("gateway.push.apns.relay.url", "hot"),
    ("gateway.terminal.shell", "hot"),
    ("gateway.auth.token.provider", "hot"),  # credential rotation, same mode
    ("gateway.auth.password", "hot"),
    ("gateway.auth.rateLimit.maxAttempts", "hot"),
    ("gateway.roles", "hot"),
    ("gateway.trustedProxies", "hot"),
    ("gateway.port", "restart"),
    ("gateway.bind", "restart"),
    ("gateway.mode", "restart"),
    ("gateway.auth.mode", "restart"),
    ("gateway.tls.enabled", "restart"),
    ("gateway.tailscale.mode", "restart"),
    ("gateway.controlUi.basePath", "restart"),  # measured: in-process restart
    ("gateway.reload.mode", "restart"),
    ("gateway", "restart"),
    # Discovery and browser
    ("discovery.mdns.mode", "hot"),
    ("discovery.wideArea.enabled", "restart"),
    ("browser.profiles.work.cdpPort", "hot"),
    ("browser.headless", "hot"),
    ("browser.enabled", "hot"),
    ("browser.remoteCdpTimeoutMs", "restart"),
    # Secrets: file providers are resolved by the reload (measured), the egress proxy restarts
    ("secrets.providers.telegram_bot_token.path", "hot"),
    ("secrets.egressProxy.url", "restart"),
    # Desktop / cloud workers / transcripts / commands
    ("desktop.host.enabled", "hot"),
    ("cloudWorkers.x", "hot"),
    ("transcripts.enabled", "hot"),
    ("commands.native", "hot"),
    # No rule: restart; a prefix only counts at a dot boundary
    ("bogusKey", "restart"),
    ("channelsX.y", "restart"),
    ("agentsx", "restart"),
    ("gatewayx.port", "restart"),
    ("", "restart"),
]


@pytest.mark.parametrize("path, expected", RELOAD_CASES)
def test_reload_class(path: str, expected: str) -> None:
    assert reload_class(path) == expected


DOCUMENTED_HOT_BUT_RESTART = [
    "gateway.controlUi.allowedOrigins",  # the research note's pitfall 15 tells users to set it
    "gateway.controlUi.enabled",
    "gateway.controlUi.dangerouslyAllowHostHeaderOriginFallback",
    "gateway.http.securityHeaders.strictTransportSecurity",
    "mcp.apps.sandboxOrigin",
    "gateway.auth.allowTailscale",
    "gateway.auth.trustedProxy",
    "browser.executablePath",
    "browser.cdpUrl",
    "browser.ssrfPolicy",
    "browser.evaluateEnabled",
    "browser.tabCleanup",
]


@pytest.mark.parametrize("path", DOCUMENTED_HOT_BUT_RESTART)
def test_documented_hot_paths_are_hot(path: str) -> None:
    assert reload_class(path) == "hot"
