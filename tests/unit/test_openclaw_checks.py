"""Validation rules of runtime openclaw bots (deployer/openclaw/checks.py), through
validate_documents: the exact located problems an operator sees (FILE:LINE:COL: $.path: message).

Manifests are written with test_validation's helpers; bot(..., runtime=None) keeps the default
runtime (openclaw). Lines: 1 apiVersion, 2 kind, 3 metadata:, 4 name, 5 spec:, 6 the first spec line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_validation import FLEET_HEAD, IMAGE, bot, formatted, validate

TOKEN_HINT = ("a non-loopback gateway does not start without a token: add OPENCLAW_GATEWAY_TOKEN to spec.secrets "
              "(its file holds the token), or set spec.gateway.bind: loopback")
MEMORY_HINT = ("an OpenClaw gateway needs about 1g: measured, 512m and 640m were OOM-killed at boot, 768m ran at "
               "its limit, 1g worked (idle 610-700 MiB, boot peak about 800 MiB)")
STATE = "where the deployer mounts the gateway's state directory (<stateDir>/<bot>)"
CONFIG = "where the deployer mounts the gateway's generated config (<configDir>/<bot>)"
CHANNEL_CRED = "channel credentials are written by the deployer; use spec.channels (type telegram) and the token's secret in spec.secrets"


def oc(spec: str) -> str:
    return bot(spec=spec, runtime=None)


CASES = [
    pytest.param(oc(f"""
        image: {IMAGE}
        provider: {{name: anthropic, model: claude-sonnet-4-5}}
        channels: [{{type: telegram, settings: {{dmPolicy: pairing}}}}]
        secrets: [ANTHROPIC_API_KEY, OPENCLAW_GATEWAY_TOKEN, TELEGRAM_BOT_TOKEN]
        ports: [{{containerPort: 18789, hostPort: 18801}}]
        healthcheck: {{test: [CMD, node, -e, "process.exit(0)"]}}
        resources: {{memory: 1g}}
        openclaw: {{logging: {{level: debug}}, gateway: {{controlUi: {{basePath: /x}}}}, secrets: {{egressProxy: {{}}}}}}
    """), [], id="recipe-bot-is-clean"),
    pytest.param(oc(f"""
        image: {IMAGE}
        ports: [{{containerPort: 18789, hostPort: 18801}}]
        resources: {{memory: 1g}}
    """), [f"bot.yaml:7:10: $.spec.ports: the bot publishes a port, so the gateway binds lan, and {TOKEN_HINT}"],
        id="published-port-needs-a-token"),
    pytest.param(oc(f"""
        image: {IMAGE}
        gateway: {{bind: lan}}
        resources: {{memory: 1g}}
    """), [f"bot.yaml:7:19: $.spec.gateway.bind: gateway.bind is lan, and {TOKEN_HINT}"], id="lan-needs-a-token"),
    pytest.param(oc(f"""
        image: {IMAGE}
        gateway: {{bind: loopback}}
        ports: [{{containerPort: 18789, hostPort: 18801}}]
        resources: {{memory: 1g}}
    """), ["bot.yaml:7:19: $.spec.gateway.bind: warning: the gateway binds loopback, so the published ports cannot "
           "reach it; use bind lan (with OPENCLAW_GATEWAY_TOKEN) or publish no port"],
        id="loopback-needs-no-token-but-cannot-be-reached"),
    pytest.param(oc(f"""
        image: {IMAGE}
        gateway: {{bind: lan, port: 19000}}
        ports: [{{containerPort: 18789, hostPort: 18801}}]
        secrets: [OPENCLAW_GATEWAY_TOKEN]
        resources: {{memory: 1g}}
    """), ["bot.yaml:8:10: $.spec.ports: warning: no published port reaches the gateway, which listens on 19000 "
           "(spec.gateway.port)"], id="published-port-misses-the-gateway"),
    pytest.param(oc(f"""
        image: {IMAGE}
        env: {{OPENCLAW_STATE_DIR: /x, OPENCLAW_CONFIG_PATH: /y, OPENCLAW_CONFIG_READONLY: "0", OTHER: 1}}
        resources: {{memory: 1g}}
    """), [
        "bot.yaml:7:29: $.spec.env.OPENCLAW_STATE_DIR: env OPENCLAW_STATE_DIR is set by the deployer for runtime "
        "openclaw; remove it",
        "bot.yaml:7:55: $.spec.env.OPENCLAW_CONFIG_PATH: env OPENCLAW_CONFIG_PATH is set by the deployer for runtime "
        "openclaw; remove it",
        "bot.yaml:7:85: $.spec.env.OPENCLAW_CONFIG_READONLY: env OPENCLAW_CONFIG_READONLY is set by the deployer for "
        "runtime openclaw; remove it",
    ], id="gateway-env-is-the-deployers"),
    pytest.param(oc(f"""
        image: {IMAGE}
        volumes:
          - {{source: /srv/s, target: /home/node/.openclaw}}
          - {{source: /srv/h, target: /home/node}}
          - {{source: /srv/c, target: /etc/openclaw/extra/}}
          - {{source: /srv/d, target: /etc/openclaw/}}
          - {{source: /srv/ok, target: /home/node/.openclawx}}
          - {{source: /srv/ok2, target: /etc/openclaw2}}
        resources: {{memory: 1g}}
    """), [
        f"bot.yaml:8:32: $.spec.volumes[0].target: /home/node/.openclaw is {STATE}",
        f"bot.yaml:9:32: $.spec.volumes[1].target: /home/node overlaps /home/node/.openclaw, which is {STATE}",
        f"bot.yaml:10:32: $.spec.volumes[2].target: /etc/openclaw/extra/ overlaps /etc/openclaw, which is {CONFIG}",
        f"bot.yaml:11:32: $.spec.volumes[3].target: /etc/openclaw/ is {CONFIG}",
    ], id="volumes-over-the-gateway-mounts"),
    pytest.param(oc(f"""
        image: {IMAGE}
        resources: {{memory: 768m}}
    """), [f"bot.yaml:7:23: $.spec.resources.memory: warning: {MEMORY_HINT}"], id="memory-below-1g"),
    pytest.param(oc(f"""
        image: {IMAGE}
        resources: {{memory: 1073741824}}
    """), [], id="memory-1g-in-bytes"),
    pytest.param(oc(f"""
        image: {IMAGE}
        provider: {{name: anthropic}}
        secrets: [ANTHROPIC_API_KEY]
        resources: {{memory: 1g}}
    """), ["bot.yaml:7:13: $.spec.provider: warning: no provider.model: the gateway then picks a default model of its "
           "own choosing"], id="provider-without-model"),
    pytest.param(oc(f"""
        image: {IMAGE}
        secrets: [DISCORD_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_BOT_TOKEN]
        channels: [{{type: discord}}, {{type: slack}}]
        resources: {{memory: 1g}}
    """), [
        f"bot.yaml:8:{col}: $.spec.channels[{i}].type: warning: the {ctype} channel needs its OpenClaw plugin "
        f"(@openclaw/{ctype}), which the openclaw npm package does not include (it bundles telegram only): install "
        "it into the bot's state dir first, or the gateway exits 78"
        for i, ctype, col in ((0, "discord", 21), (1, "slack", 38))
    ], id="discord-and-slack-need-their-plugins"),
    pytest.param(oc(f"""
        image: {IMAGE}
        secrets: [TELEGRAM_BOT_TOKEN]
        channels:
          - {{type: telegram, settings: {{botToken: abc, enabled: false, tokenFile: /f, dmPolicy: open}}}}
        resources: {{memory: 1g}}
    """), [
        "bot.yaml:9:45: $.spec.channels[0].settings.botToken: channel setting botToken is a credential: declare its "
        "secret in spec.secrets and the deployer references the file",
        "bot.yaml:9:59: $.spec.channels[0].settings.enabled: channel setting enabled is set by the deployer",
        "bot.yaml:9:77: $.spec.channels[0].settings.tokenFile: channel setting tokenFile is a credential: declare "
        "its secret in spec.secrets and the deployer references the file",
    ], id="channel-settings-hold-no-credentials"),
    pytest.param(oc(f"""
        image: {IMAGE}
        healthcheck: {{test: "wget -qO- http://127.0.0.1:18789/healthz"}}
        resources: {{memory: 1g}}
    """), ["bot.yaml:7:23: $.spec.healthcheck.test: warning: a shell-form healthcheck needs /bin/sh, and gateway "
           "images may have none (nor wget or curl): use the exec form [CMD, node, -e, ...], or leave healthcheck "
           "unset for the deployer's /healthz probe"], id="shell-form-healthcheck"),
    pytest.param(oc(f"""
        image: {IMAGE}
        healthcheck: {{test: [CMD-SHELL, "true"]}}
        resources: {{memory: 1g}}
    """), ["bot.yaml:7:23: $.spec.healthcheck.test: warning: a shell-form healthcheck needs /bin/sh, and gateway "
           "images may have none (nor wget or curl): use the exec form [CMD, node, -e, ...], or leave healthcheck "
           "unset for the deployer's /healthz probe"], id="cmd-shell-healthcheck"),
    pytest.param(oc(f"""
        image: {IMAGE}
        resources: {{memory: 1g}}
        openclaw:
          gateway: {{mode: remote, port: 1, bind: lan, auth: {{mode: none}}}}
          secrets: {{providers: {{x: {{source: env}}}}}}
          agents: {{defaults: {{model: {{primary: a/b}}, workspace: /w}}}}
          models: {{providers: {{anthropic: {{apiKey: sk-x, baseUrl: "http://x"}}}}}}
          channels: {{telegram: {{botToken: t, tokenFile: /f, dmPolicy: open}}}}
    """), [
        "bot.yaml:9:21: $.spec.openclaw.gateway.mode: gateway.mode is written by the deployer; use nothing (the "
        "deployer always runs the gateway in local mode)",
        "bot.yaml:9:35: $.spec.openclaw.gateway.port: gateway.port is written by the deployer; use spec.gateway.port",
        "bot.yaml:9:44: $.spec.openclaw.gateway.bind: gateway.bind is written by the deployer; use spec.gateway.bind",
        "bot.yaml:9:55: $.spec.openclaw.gateway.auth: gateway.auth is written by the deployer; use spec.gateway.auth "
        "and the secret OPENCLAW_GATEWAY_TOKEN",
        "bot.yaml:10:26: $.spec.openclaw.secrets.providers: secrets.providers is written by the deployer; use "
        "spec.secrets (each declared secret file gets its provider)",
        "bot.yaml:11:32: $.spec.openclaw.agents.defaults.model: agents.defaults.model is written by the deployer; "
        "use spec.provider.model",
        "bot.yaml:12:46: $.spec.openclaw.models.providers.anthropic.apiKey: provider API keys are written by the "
        "deployer; use spec.provider and the key's secret in spec.secrets",
        f"bot.yaml:13:37: $.spec.openclaw.channels.telegram.botToken: {CHANNEL_CRED}",
        f"bot.yaml:13:51: $.spec.openclaw.channels.telegram.tokenFile: {CHANNEL_CRED}",
    ], id="spec-openclaw-keys-the-deployer-owns"),
    pytest.param(bot(spec=f"""
        image: {IMAGE}
        gateway: {{port: 1}}
        openclaw: {{logging: {{level: debug}}}}
        env: {{OPENCLAW_STATE_DIR: /x}}
        volumes: [{{source: /srv/s, target: /home/node/.openclaw}}]
        resources: {{memory: 256m}}
        ports: [{{containerPort: 8080, hostPort: 18801}}]
    """), [
        "bot.yaml:7:12: $.spec.gateway: warning: spec.gateway only applies to runtime openclaw; it is ignored for "
        "runtime container",
        "bot.yaml:8:13: $.spec.openclaw: warning: spec.openclaw only applies to runtime openclaw; it is ignored for "
        "runtime container",
    ], id="runtime-container-has-none-of-the-gateway-rules"),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_openclaw_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: list[str]) -> None:
    assert formatted(validate(tmp_path, monkeypatch, {"bot.yaml": text})) == expected


def test_rule_reported_on_the_fleet_defaults_that_set_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = validate(tmp_path, monkeypatch, {
        "fleet.yaml": FLEET_HEAD + f"  defaults:\n    image: {IMAGE}\n    resources: {{memory: 512m}}\n",
        "bot.yaml": oc("provider: {name: openai, model: gpt-5}\nsecrets: [OPENAI_API_KEY]"),
    })
    assert formatted(result) == [f"fleet.yaml:8:25: $.spec.defaults.resources.memory: warning: bot bot-a: {MEMORY_HINT}"]
