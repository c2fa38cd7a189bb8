"""Schema and semantic checks of a manifest set: the exact problems an operator sees.

Each case writes manifest snippets into a temporary directory, loads them with
load_paths, validates them with validate_documents and compares the formatted problems
(FILE:LINE:COL: JSON-PATH: message) with the expected ones, in order.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from deployer.core.model import BotSpec, Healthcheck, Port, Volume
from deployer.core.problems import ERROR, WARNING
from deployer.manifests.load import load_paths
from deployer.manifests.rules import CHANNEL_SECRETS, PROVIDER_SECRETS
from deployer.manifests.validation import ValidationResult, merge_defaults, validate_documents

IMAGE = "ghcr.io/openclaw/openclaw:2026.2.26"


def validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> ValidationResult:
    """Write each file (dedented) under tmp_path and validate them as one manifest set.

    The working directory is tmp_path, so problems name the files as given here."""
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    documents, load_problems = load_paths(sorted(files))
    return validate_documents(documents, load_problems)


def formatted(result: ValidationResult) -> list[str]:
    return [p.format() for p in sorted(result.problems)]


def bot(name: str = "bot-a", spec: str = f"image: {IMAGE}", *, metadata: str = "",
        runtime: str | None = "container") -> str:
    """A Bot document; `spec` and `metadata` are extra YAML lines, indented here.

    Lines: 1 apiVersion, 2 kind, 3 metadata:, 4 name, [metadata lines], then spec: and its lines.
    The container rules are tested on `runtime: container` bots (appended last, so it moves no
    line); runtime=None leaves the default (openclaw), whose own rules are in test_openclaw_checks."""
    meta = "".join(f"  {line}\n" for line in textwrap.dedent(metadata).strip("\n").splitlines()) if metadata else ""
    lines = textwrap.dedent(spec).strip("\n").splitlines()
    if runtime is not None and not any(line.startswith("runtime:") for line in lines):
        lines.append(f"runtime: {runtime}")
    body = "".join(f"  {line}\n" for line in lines)
    return f"apiVersion: botmaker/v1\nkind: Bot\nmetadata:\n  name: {name}\n{meta}spec:\n{body}"


FLEET_HEAD = "apiVersion: botmaker/v1\nkind: Fleet\nmetadata:\n  name: demo\nspec:\n"


# --- schema errors ----------------------------------------------------------------------------

SCHEMA_CASES = [
    pytest.param(
        {"bot.yaml": bot(spec=f"""
            imgae: {IMAGE}
            restrat: always
            image: {IMAGE}
        """)},
        [
            "bot.yaml:6:3: $.spec.imgae: unknown field 'imgae'; did you mean 'image'?",
            "bot.yaml:7:3: $.spec.restrat: unknown field 'restrat'; did you mean 'restart'?",
        ],
        id="unknown-field-did-you-mean",
    ),
    pytest.param(
        {"bot.yaml": bot(spec=f"""
            image: {IMAGE}
            colour: blue
        """)},
        [
            "bot.yaml:7:3: $.spec.colour: unknown field 'colour'; allowed: image, pullPolicy, provider, "
            "channels, secrets, env, command, user, ports, volumes, resources, restart, state, healthcheck, placement, "
            "network, runtime, gateway, openclaw",
        ],
        id="unknown-field-lists-allowed",
    ),
    pytest.param(
        {"bot.yaml": bot(runtime=None) + "specs: {}\n"},
        ["bot.yaml:7:1: $.specs: unknown field 'specs'; did you mean 'spec'?"],
        id="unknown-top-level-field",
    ),
    pytest.param(
        {"bot.yaml": bot(metadata="lables: {team: support}")},
        ["bot.yaml:5:3: $.metadata.lables: unknown field 'lables'; did you mean 'labels'?"],
        id="unknown-metadata-field",
    ),
    pytest.param(
        {"bot.yaml": bot(spec=f"""
            image: {IMAGE}
            ports:
              - containerPort: "18789"
                hostPort: 18801
            resources:
              cpus: two
        """)},
        [
            "bot.yaml:8:22: $.spec.ports[0].containerPort: must be a whole number, not the text '18789' "
            "(write it without quotes)",
            "bot.yaml:11:11: $.spec.resources.cpus: must be a number, not the text 'two'",
        ],
        id="wrong-type",
    ),
    pytest.param(
        {"bot.yaml": bot(spec=f"""
            image: {IMAGE}
            env:
              LOG_LEVEL: [debug]
        """)},
        ["bot.yaml:8:16: $.spec.env.LOG_LEVEL: must be text or a number, not a list"],
        id="wrong-type-env-value",
    ),
    pytest.param(
        {"bot.yaml": bot(spec=f"""
            image: {IMAGE}
            pullPolicy: Sometimes
            state: paused
        """)},
        [
            "bot.yaml:7:15: $.spec.pullPolicy: must be IfNotPresent, Always or Never, not 'Sometimes'",
            "bot.yaml:8:10: $.spec.state: must be running or stopped, not 'paused'",
        ],
        id="enum",
    ),
    pytest.param(
        {"bot.yaml": bot(spec=f"""
            image: {IMAGE}
            restart: sometimes
        """)},
        ["bot.yaml:7:12: $.spec.restart: must be no, always, unless-stopped or on-failure, or a mapping such as "
         "{policy: on-failure, maxRetries: 3}, not 'sometimes'"],
        id="enum-in-oneOf",
    ),
    pytest.param(
        {"bot.yaml": bot(spec=f"""
            image: {IMAGE}
            restart: {{policy: on-failure, maxRetries: -1}}
        """)},
        ["bot.yaml:7:45: $.spec.restart.maxRetries: must be at least 0, not -1"],
        id="oneOf-reports-the-branch-that-fits",
    ),
    pytest.param(
        {"bot.yaml": bot(spec=f"""
            image: {IMAGE}
            restart: {{policy: on-failure, retries: 3}}
        """)},
        ["bot.yaml:7:33: $.spec.restart.retries: unknown field 'retries'; did you mean 'maxRetries'?"],
        id="oneOf-unknown-field",
    ),
    pytest.param(
        {"bot.yaml": bot(name="Support_Bot")},
        [
            "bot.yaml:4:9: $.metadata.name: 'Support_Bot' is not a valid name: use lower-case letters, digits "
            "and '-', at most 63 characters, starting and ending with a letter or digit",
        ],
        id="pattern-metadata-name",
    ),
    pytest.param(
        {"fleet.yaml": "apiVersion: botmaker/v1\nkind: Fleet\nmetadata:\n  name: -demo\n"},
        [
            "fleet.yaml:4:9: $.metadata.name: '-demo' is not a valid name: use lower-case letters, digits "
            "and '-', at most 63 characters, starting and ending with a letter or digit",
        ],
        id="pattern-fleet-name",
    ),
    pytest.param(
        {"bot.yaml": bot(spec=f"""
            image: {IMAGE}
            env:
              bad-name: x
        """, metadata="labels: {'-team': x}")},
        [
            "bot.yaml:5:12: $.metadata.labels.-team: '-team' is not a valid label key: letters, digits, '.', '_', '/' "
            "and '-', starting with a letter or digit",
            "bot.yaml:9:5: $.spec.env.bad-name: 'bad-name' is not a valid environment variable name: letters, digits "
            "and '_', not starting with a digit",
        ],
        id="invalid-key-located-at-the-key",
    ),
    pytest.param(
        {"bot.yaml": "apiVersion: botmaker/v1\nkind: Bot\nmetadata:\n  labels: {team: a}\n"},
        [
            "bot.yaml:1:1: $: missing required field 'spec'",
            "bot.yaml:4:3: $.metadata: missing required field 'name'",
        ],
        id="missing-required",
    ),
    pytest.param(
        {"bot.yaml": bot(spec=f"""
            image: {IMAGE}
            ports:
              - containerPort: 18789
                hostPort: 18801
              - containerPort: 18790
                hostPort: 70000
              - hostPort: 18803
        """)},
        [
            "bot.yaml:11:17: $.spec.ports[1].hostPort: must be at most 65535, not 70000",
            "bot.yaml:12:7: $.spec.ports[2]: missing required field 'containerPort'",
        ],
        id="nested-list-index",
    ),
    pytest.param(
        {"bot.yaml": bot(spec=f"""
            image: {IMAGE}
            volumes:
              - source: /srv/state/a
                target: /home/node/.openclaw
              - source: /srv/data
                target: data
                readOnly: "yes"
        """)},
        [
            "bot.yaml:11:15: $.spec.volumes[1].target: 'data' is not an absolute path (one that starts with /)",
            "bot.yaml:12:17: $.spec.volumes[1].readOnly: must be true or false, not the text 'yes' "
            "(yes, no, on and off are text in YAML 1.2)",
        ],
        id="nested-list-index-volumes",
    ),
    pytest.param(
        {"fleet.yaml": FLEET_HEAD + "  secretsDir: srv/secrets\n  defaults:\n    pullPolicy: Often\n"},
        [
            "fleet.yaml:6:15: $.spec.secretsDir: 'srv/secrets' is not an absolute path (one that starts with /)",
            "fleet.yaml:8:17: $.spec.defaults.pullPolicy: must be IfNotPresent, Always or Never, not 'Often'",
        ],
        id="fleet-schema",
    ),
    # issue 24: plain words with the accepted form, never a regex or a Python repr
    pytest.param(
        {"bot.yaml": bot(spec=f"""
            image: {IMAGE}
            resources: {{memory: 1gb}}
            env: {{DEBUG: true, EMPTY: }}
            restart: on-failure:3
            pullPolicy: always
        """)},
        [
            "bot.yaml:7:23: $.spec.resources.memory: '1gb' is not a size such as 512m or 1g (bytes, or a number "
            "followed by b, k, m or g)",
            "bot.yaml:8:16: $.spec.env.DEBUG: must be text or a number, not true (quote it for the text: \"true\")",
            "bot.yaml:8:29: $.spec.env.EMPTY: must be text or a number, not empty (write \"\" for empty text)",
            "bot.yaml:9:12: $.spec.restart: must be no, always, unless-stopped or on-failure, or a mapping such as "
            "{policy: on-failure, maxRetries: 3}, not 'on-failure:3'",
            "bot.yaml:10:15: $.spec.pullPolicy: must be IfNotPresent, Always or Never, not 'always'; "
            "did you mean 'Always'?",
        ],
        id="plain-words",
    ),
    pytest.param(
        {"bot.yaml": bot(spec=f"""
            image: {IMAGE}
            user: true
            secrets: [A, A]
            ports: [{{containerPort: 18789, hostPort: 18801, hostIP: localhost}}]
            healthcheck: {{test: [], interval: 10}}
            restart: {{}}
        """)},
        [
            "bot.yaml:7:9: $.spec.user: must be a uid or uid:gid, such as 1000 or 1000:1000, not true "
            "(quote it for the text: \"true\")",
            "bot.yaml:8:12: $.spec.secrets: lists 'A' more than once",
            "bot.yaml:9:59: $.spec.ports[0].hostIP: must be an IPv4 address such as 127.0.0.1 or an IPv6 address "
            "such as ::1, not 'localhost'",
            "bot.yaml:10:23: $.spec.healthcheck.test: must list at least one item",
            "bot.yaml:10:37: $.spec.healthcheck.interval: must be a duration such as 500ms, 10s, 1m or 1h30m, not 10",
            "bot.yaml:11:12: $.spec.restart: missing required field 'policy'",
        ],
        id="plain-words-more",
    ),
]


@pytest.mark.parametrize(("files", "expected"), SCHEMA_CASES)
def test_schema_errors(tmp_path, monkeypatch, files, expected):
    result = validate(tmp_path, monkeypatch, files)
    assert formatted(result) == expected
    assert result.fleet is None


# --- document headers -------------------------------------------------------------------------

HEADER_CASES = [
    pytest.param(
        "apiVersion: botmaker/v2\nkind: Bot\nmetadata: {name: a}\nspec: {}\n",
        ["bot.yaml:1:13: $.apiVersion: unknown apiVersion 'botmaker/v2'; expected botmaker/v1"],
        id="unknown-apiVersion",
    ),
    pytest.param(
        "apiVersion: botmaker/v1\nkind: Deployment\nmetadata: {name: a}\n",
        ["bot.yaml:2:7: $.kind: unknown kind 'Deployment'; expected Bot or Fleet"],
        id="unknown-kind",
    ),
    pytest.param(
        "apiVersion: botmaker/v1\nkind: bot\nmetadata: {name: a}\n",
        ["bot.yaml:2:7: $.kind: unknown kind 'bot'; did you mean 'Bot'?"],
        id="kind-typo",
    ),
    pytest.param(
        "apiVersion: botmaker.v1\nkind: Fleet\nmetadata: {name: a}\n",
        ["bot.yaml:1:13: $.apiVersion: unknown apiVersion 'botmaker.v1'; did you mean 'botmaker/v1'?"],
        id="apiVersion-typo",
    ),
    pytest.param(
        "apiVersion: botmaker/v1\nkind: [Bot]\n",
        ["bot.yaml:2:7: $.kind: must be Bot or Fleet, not a list"],
        id="kind-not-a-string",
    ),
    pytest.param(
        "kind: Bot\nmetadata: {name: a}\n",
        ["bot.yaml:1:1: $: missing apiVersion (expected botmaker/v1)"],
        id="missing-apiVersion",
    ),
    pytest.param(
        "apiVersion: botmaker/v1\nmetadata: {name: a}\n",
        ["bot.yaml:1:1: $: missing kind (expected Bot or Fleet)"],
        id="missing-kind",
    ),
    pytest.param(
        "- apiVersion: botmaker/v1\n  kind: Bot\n",
        ["bot.yaml:1:1: $: document is a list, not a mapping with apiVersion, kind, metadata and spec"],
        id="list-document",
    ),
    pytest.param(
        "just some text\n",
        ["bot.yaml:1:1: $: document is a string, not a mapping with apiVersion, kind, metadata and spec"],
        id="string-document",
    ),
    pytest.param(
        "---\n# nothing here\n---\napiVersion: botmaker/v1\nkind: Fleet\nmetadata: {name: demo}\n",
        ["bot.yaml:3:1: $: document is empty, not a mapping with apiVersion, kind, metadata and spec"],
        id="empty-document",
    ),
]


@pytest.mark.parametrize(("text", "expected"), HEADER_CASES)
def test_document_headers(tmp_path, monkeypatch, text, expected):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": text})
    assert formatted(result) == expected
    assert result.fleet is None


# --- semantic checks on one spec ----------------------------------------------------------------

@pytest.mark.parametrize(
    "key",
    [
        "OPENAI_API_KEY",  # *_KEY
        "GITHUB_TOKEN",  # *_TOKEN
        "OAUTH_CLIENT_SECRET",  # *_SECRET
        "DB_PASSWORD",  # *PASSWORD*
        "PASSWORD",
        "SMTP_PASSWORD_FILE",
        "GOOGLE_APPLICATION_CREDENTIALS",  # *_CREDENTIALS
        "api_key",  # case does not hide it
    ],
)
def test_secret_like_env_key(tmp_path, monkeypatch, key):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(spec=f"""
        image: {IMAGE}
        env:
          LOG_LEVEL: info
          {key}: some-value
    """)})
    assert formatted(result) == [
        f"bot.yaml:9:5: $.spec.env.{key}: env {key} looks like a secret: list it in spec.secrets and put "
        f"the value in the file <secretsDir>/<bot>/{key} instead of the manifest"
    ]


@pytest.mark.parametrize("key", ["KEYBOARD_LAYOUT", "TOKENIZER", "MONKEY", "SECRETARY", "NODE_OPTIONS", "TZ"])
def test_env_keys_that_are_not_secrets(tmp_path, monkeypatch, key):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(spec=f"""
        image: {IMAGE}
        env:
          {key}: value
    """)})
    assert formatted(result) == []


def test_secret_like_env_key_in_fleet_defaults(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {
        "fleet.yaml": FLEET_HEAD + f"  defaults:\n    image: {IMAGE}\n    env:\n      SHARED_TOKEN: abc\n",
        "bot.yaml": bot(spec="state: running"),
    })
    assert formatted(result) == [
        "fleet.yaml:9:7: $.spec.defaults.env.SHARED_TOKEN: env SHARED_TOKEN looks like a secret: list it in "
        "spec.secrets and put the value in the file <secretsDir>/<bot>/SHARED_TOKEN instead of the manifest"
    ]


@pytest.mark.parametrize(("provider", "secret"), sorted((p, s[0]) for p, s in PROVIDER_SECRETS.items()))
def test_provider_needs_its_secret(tmp_path, monkeypatch, provider, secret):
    files = {"bot.yaml": bot(spec=f"""
        image: {IMAGE}
        provider:
          name: {provider}
        secrets: [OTHER_SECRET]
    """)}
    result = validate(tmp_path, monkeypatch, files)
    assert formatted(result) == [
        f"bot.yaml:8:11: $.spec.provider.name: provider {provider} needs the secret {secret}: add it to spec.secrets"
    ]
    files["bot.yaml"] = files["bot.yaml"].replace("[OTHER_SECRET]", f"[OTHER_SECRET, {secret}]")
    assert formatted(validate(tmp_path, monkeypatch, files)) == []


def test_provider_secret_table():
    assert PROVIDER_SECRETS == {
        "anthropic": ("ANTHROPIC_API_KEY",),
        "openai": ("OPENAI_API_KEY",),
        "gemini": ("GEMINI_API_KEY",),
        "openrouter": ("OPENROUTER_API_KEY",),
    }
    assert CHANNEL_SECRETS == {
        "telegram": ("TELEGRAM_BOT_TOKEN",),
        "discord": ("DISCORD_BOT_TOKEN",),
        "slack": ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"),
        "matrix": ("MATRIX_ACCESS_TOKEN",),
    }


@pytest.mark.parametrize(
    ("channel", "declared", "missing"),
    [
        ("telegram", [], ["TELEGRAM_BOT_TOKEN"]),
        ("discord", [], ["DISCORD_BOT_TOKEN"]),
        ("matrix", [], ["MATRIX_ACCESS_TOKEN"]),
        ("slack", [], ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"]),
        ("slack", ["SLACK_BOT_TOKEN"], ["SLACK_APP_TOKEN"]),
        ("slack", ["SLACK_APP_TOKEN"], ["SLACK_BOT_TOKEN"]),
        ("slack", ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"], []),
        ("telegram", ["TELEGRAM_BOT_TOKEN"], []),
        ("whatsapp", [], []),  # not a known channel: nothing required
    ],
)
def test_channel_needs_its_secrets(tmp_path, monkeypatch, channel, declared, missing):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(spec=f"""
        image: {IMAGE}
        channels:
          - type: {channel}
        secrets: [{", ".join(declared)}]
    """)})
    assert formatted(result) == [
        f"bot.yaml:8:13: $.spec.channels[0].type: channel {channel} needs the secret {name}: add it to spec.secrets"
        for name in sorted(missing)
    ]


def test_unknown_provider_needs_no_secret(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(spec=f"""
        image: {IMAGE}
        provider: {{name: ollama, model: llama3}}
    """)})
    assert formatted(result) == []
    assert result.fleet is not None


def test_missing_image(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(spec="state: running")})
    assert formatted(result) == [
        "bot.yaml:6:3: $.spec: spec.image is required (set it on the bot or in the Fleet's spec.defaults)"
    ]


def test_missing_image_with_a_fleet_without_image(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {
        "fleet.yaml": FLEET_HEAD + "  defaults:\n    state: running\n",
        "bot.yaml": bot(spec="state: stopped"),
    })
    assert formatted(result) == [
        "bot.yaml:6:3: $.spec: spec.image is required (set it on the bot or in the Fleet's spec.defaults)"
    ]


def test_image_from_defaults_satisfies_it(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {
        "fleet.yaml": FLEET_HEAD + f"  defaults:\n    image: {IMAGE}\n",
        "bot.yaml": bot(spec="state: stopped"),
    })
    assert formatted(result) == []
    assert result.fleet.bots[0].image == IMAGE


def test_defaults_channel_without_secret_is_reported_at_the_fleet(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {
        "fleet.yaml": FLEET_HEAD + textwrap.indent(textwrap.dedent(f"""\
            defaults:
              image: {IMAGE}
              provider:
                name: anthropic
              channels:
                - type: telegram
        """), "  "),
        "a.yaml": bot("bot-a", spec="secrets: [ANTHROPIC_API_KEY, TELEGRAM_BOT_TOKEN]"),
        "b.yaml": bot("bot-b", spec="secrets: [ANTHROPIC_API_KEY]"),
        # a bot's own channel list replaces the defaults': reported in the bot
        "c.yaml": bot("bot-c", spec="""
            secrets: [ANTHROPIC_API_KEY]
            channels: [{type: discord}]
        """),
    })
    assert formatted(result) == [
        "c.yaml:7:21: $.spec.channels[0].type: channel discord needs the secret DISCORD_BOT_TOKEN: add it to spec.secrets",
        "fleet.yaml:11:15: $.spec.defaults.channels[0].type: bot bot-b: channel telegram needs the secret "
        "TELEGRAM_BOT_TOKEN: add it to spec.secrets",
    ]


def test_defaults_provider_without_secret_is_reported_at_the_fleet(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {
        "fleet.yaml": FLEET_HEAD + f"  defaults:\n    image: {IMAGE}\n    provider:\n      name: openai\n",
        # sets only the model: the name still comes from the defaults
        "bot.yaml": bot(spec="provider: {model: gpt-4.1}"),
    })
    assert formatted(result) == [
        "fleet.yaml:9:13: $.spec.defaults.provider.name: bot bot-a: provider openai needs the secret "
        "OPENAI_API_KEY: add it to spec.secrets"
    ]


# --- checks across documents and bots ---------------------------------------------------------

def test_duplicate_bot_names_across_files(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {
        "a.yaml": bot("twin"),
        "b.yaml": bot("twin"),
        "c.yaml": bot("other", runtime=None) + "---\n" + bot("twin"),
    })
    assert formatted(result) == [
        "b.yaml:4:9: $.metadata.name: duplicate bot name 'twin' (also defined at a.yaml:4)",
        "c.yaml:11:9: $.metadata.name: duplicate bot name 'twin' (also defined at a.yaml:4)",
    ]


def test_more_than_one_fleet(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {
        "a-fleet.yaml": FLEET_HEAD + "  secretsDir: /srv/secrets\n",
        "b-fleet.yaml": "apiVersion: botmaker/v1\nkind: Fleet\nmetadata: {name: other}\n",
        "bot.yaml": bot(),
    })
    assert formatted(result) == [
        "b-fleet.yaml:2:7: $.kind: more than one Fleet document (the first is at a-fleet.yaml:2)"
    ]


PORTS_A = """
    image: {image}
    ports:
      - {{containerPort: 18789, hostPort: 18801{extra_a}}}
"""


@pytest.mark.parametrize(
    ("port_a", "port_b", "message"),
    [
        ("", "", "127.0.0.1:18801/tcp"),  # both default to 127.0.0.1
        (", hostIP: 127.0.0.1", "", "127.0.0.1:18801/tcp"),
        (", hostIP: 0.0.0.0", ", hostIP: 127.0.0.1", "127.0.0.1:18801/tcp"),  # the wildcard covers every address
        (", hostIP: 127.0.0.1", ", hostIP: 0.0.0.0", "0.0.0.0:18801/tcp"),
        (", hostIP: '::'", ", hostIP: 10.0.0.5", "10.0.0.5:18801/tcp"),
        (", protocol: udp", ", protocol: udp", "127.0.0.1:18801/udp"),
        (", protocol: tcp", ", hostIP: 127.0.0.1, protocol: udp", None),  # different protocol: fine
        (", hostIP: 127.0.0.1", ", hostIP: 10.0.0.5", None),  # different addresses: fine
    ],
)
def test_same_host_port_across_bots(tmp_path, monkeypatch, port_a, port_b, message):
    result = validate(tmp_path, monkeypatch, {
        "a.yaml": bot("bot-a", spec=f"""
            image: {IMAGE}
            ports:
              - {{containerPort: 18789, hostPort: 18801{port_a}}}
        """),
        "b.yaml": bot("bot-b", spec=f"""
            image: {IMAGE}
            ports:
              - {{containerPort: 18789, hostPort: 18801{port_b}}}
        """),
    })
    expected = [] if message is None else [
        f"b.yaml:8:40: $.spec.ports[0].hostPort: host port {message} is also published by bot bot-a (a.yaml:8)"
    ]
    assert formatted(result) == expected


def test_same_host_port_twice_in_one_bot(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(spec=f"""
        image: {IMAGE}
        ports:
          - {{containerPort: 18789, hostPort: 18801}}
          - {{containerPort: 18790, hostPort: 18801}}
    """)})
    assert formatted(result) == [
        "bot.yaml:9:40: $.spec.ports[1].hostPort: host port 127.0.0.1:18801/tcp is also published by itself (bot.yaml:8)"
    ]


def test_ports_from_defaults_clash_at_the_fleet(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {
        "fleet.yaml": FLEET_HEAD + f"  defaults:\n    image: {IMAGE}\n    ports:\n      - {{containerPort: 18789, hostPort: 18789}}\n",
        "a.yaml": bot("bot-a", spec="state: running"),
        "b.yaml": bot("bot-b", spec="state: running"),
    })
    assert formatted(result) == [
        "fleet.yaml:9:42: $.spec.defaults.ports[0].hostPort: bot bot-b: host port 127.0.0.1:18789/tcp is also "
        "published by bot bot-a (a.yaml:6)"
    ]


SHARED = (
    "a bot's state must never be shared by two containers (mount it readOnly in both to share read-only data)"
)


@pytest.mark.parametrize(
    ("vol_a", "vol_b", "expected"),
    [
        ("{source: /srv/state/shared, target: /data}", "{source: /srv/state/shared, target: /data}",
         "host path '/srv/state/shared'"),
        ("{source: /srv/state/shared/, target: /data}", "{source: /srv/state/shared, target: /data}",
         "host path '/srv/state/shared'"),
        ("{source: /srv/state, target: /data}", "{source: /srv/state/bot-b, target: /data}",
         "host path '/srv/state/bot-b'"),  # b's path is inside a's
        ("{source: /srv/state/bot-b/sub, target: /data}", "{source: /srv/state/bot-b, target: /data}",
         "host path '/srv/state/bot-b'"),  # a's path is inside b's
        ("{source: /srv/shared, target: /data, readOnly: true}", "{source: /srv/shared, target: /data}",
         "host path '/srv/shared'"),  # only one read-only: still shared writable state
        ("{source: botdata, target: /data}", "{source: botdata, target: /data}", "volume 'botdata'"),
        ("{source: /srv/shared, target: /data, readOnly: true}", "{source: /srv/shared, target: /data, readOnly: true}",
         None),  # both read-only: allowed
        ("{source: /srv/state/bot-a, target: /data}", "{source: /srv/state/bot-b, target: /data}", None),
        ("{source: /srv/state/bot, target: /data}", "{source: /srv/state/bot-b, target: /data}", None),  # a prefix, not a parent
        ("{source: state, target: /data}", "{source: /srv/state, target: /data}", None),  # a volume and a path
    ],
)
def test_same_bind_path_across_bots(tmp_path, monkeypatch, vol_a, vol_b, expected):
    result = validate(tmp_path, monkeypatch, {
        "a.yaml": bot("bot-a", spec=f"image: {IMAGE}\nvolumes:\n  - {vol_a}"),
        "b.yaml": bot("bot-b", spec=f"image: {IMAGE}\nvolumes:\n  - {vol_b}"),
    })
    column = len("    - ") + vol_b.index("source:") + len("source: ") + 1
    assert formatted(result) == ([] if expected is None else [
        f"b.yaml:8:{column}: $.spec.volumes[0].source: {expected} is also mounted by bot bot-a (a.yaml:8): {SHARED}"
    ])


def test_one_bot_may_mount_a_path_twice(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(spec=f"""
        image: {IMAGE}
        volumes:
          - {{source: /srv/state/bot-a, target: /home/node/.openclaw}}
          - {{source: /srv/state/bot-a/workspace, target: /workspace}}
    """)})
    assert formatted(result) == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("./state/bot-a", "relative bind source './state/bot-a': use an absolute host path (or a plain volume name)"),
        ("state/bot-a", "relative bind source 'state/bot-a': use an absolute host path (or a plain volume name)"),
        ("~/state", "relative bind source '~/state': use an absolute host path (or a plain volume name)"),
        ("/srv/../etc", "bind source '/srv/../etc' is not a normalised path (no '..', '.' or '//')"),
        ("/srv//state", "bind source '/srv//state' is not a normalised path (no '..', '.' or '//')"),
        ("/srv/state/", None),
        ("bot-a-data", None),  # a named volume
    ],
)
def test_bind_source_must_be_absolute(tmp_path, monkeypatch, source, message):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(spec=f"""
        image: {IMAGE}
        volumes:
          - source: {source}
            target: /home/node/.openclaw
    """)})
    assert formatted(result) == ([] if message is None else [f"bot.yaml:8:15: $.spec.volumes[0].source: {message}"])


@pytest.mark.parametrize(
    ("target", "reserved"),
    [("/run/secrets", True), ("/run/secrets/", True), ("/run/secrets/extra", True), ("/run/secrets-old", False)],
)
def test_run_secrets_target_is_reserved(tmp_path, monkeypatch, target, reserved):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(spec=f"""
        image: {IMAGE}
        volumes:
          - source: /srv/extra
            target: {target}
    """)})
    assert formatted(result) == (
        ["bot.yaml:9:15: $.spec.volumes[0].target: /run/secrets is reserved for the bot's secrets"] if reserved else []
    )


def test_reserved_botmaker_label(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(metadata="""
        labels:
          team: support
          botmaker.fleet: other
          botmakers.example/x: fine
    """)})
    assert formatted(result) == [
        "bot.yaml:7:5: $.metadata.labels['botmaker.fleet']: label 'botmaker.fleet' is reserved: keys under "
        "botmaker. belong to the deployer"
    ]


@pytest.mark.parametrize(
    ("policy", "error"), [("always", True), ("no", True), ("unless-stopped", True), ("on-failure", False)]
)
def test_max_retries_only_with_on_failure(tmp_path, monkeypatch, policy, error):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(spec=f"""
        image: {IMAGE}
        restart:
          policy: {policy}
          maxRetries: 3
    """)})
    assert formatted(result) == (
        ["bot.yaml:9:17: $.spec.restart.maxRetries: maxRetries only applies to the on-failure policy"] if error else []
    )


@pytest.mark.parametrize(
    ("memory", "message"),
    [
        ("5m", "memory '5m' is below Docker's minimum of 6m"),
        ("6000k", "memory '6000k' is below Docker's minimum of 6m"),
        ("0", "memory '0' is below Docker's minimum of 6m"),
        ("6m", None),
        ("6291456", None),
        ("1g", None),
    ],
)
def test_memory_minimum(tmp_path, monkeypatch, memory, message):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(spec=f"""
        image: {IMAGE}
        resources:
          memory: "{memory}"
    """)})
    assert formatted(result) == ([] if message is None else [f"bot.yaml:8:13: $.spec.resources.memory: {message}"])


def test_memory_as_integer_below_minimum_is_a_schema_error(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(spec=f"""
        image: {IMAGE}
        resources:
          memory: 1024
    """)})
    assert formatted(result) == ["bot.yaml:8:13: $.spec.resources.memory: must be at least 6291456 bytes (6m), not 1024"]


@pytest.mark.parametrize(
    ("image", "warned"),
    [
        ("ghcr.io/openclaw/openclaw:latest", True),
        ("ghcr.io/openclaw/openclaw", True),
        ("localhost:5000/openclaw", True),  # the registry port is not a tag
        ("openclaw", True),
        ("localhost:5000/openclaw:2026.2.26", False),
        (IMAGE, False),
        ("ghcr.io/openclaw/openclaw@sha256:" + "a" * 64, False),
    ],
)
def test_unpinned_image_is_a_warning(tmp_path, monkeypatch, image, warned):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(spec=f"image: {image}")})
    assert formatted(result) == ([
        f"bot.yaml:6:10: $.spec.image: warning: image '{image}' has no pinned tag: 'latest' moves under you; "
        "pin a version such as :2026.2.26"
    ] if warned else [])
    assert result.errors == []  # a warning alone does not fail validation
    assert [p.severity for p in result.warnings] == ([WARNING] if warned else [])
    assert result.fleet is not None and result.fleet.bots[0].image == image


def test_unpinned_image_in_defaults_is_warned_once_at_the_fleet(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {
        "fleet.yaml": FLEET_HEAD + "  defaults:\n    image: ghcr.io/openclaw/openclaw:latest\n",
        "a.yaml": bot("bot-a", spec="state: running"),
        "b.yaml": bot("bot-b", spec="state: running"),
    })
    assert formatted(result) == [
        "fleet.yaml:7:12: $.spec.defaults.image: warning: image 'ghcr.io/openclaw/openclaw:latest' has no "
        "pinned tag: 'latest' moves under you; pin a version such as :2026.2.26"
    ]
    assert result.fleet is not None


def test_every_problem_is_reported_in_one_run(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {
        "a.yaml": bot("bot-a", spec=f"""
            image: {IMAGE}
            env: {{API_TOKEN: x}}
            volumes: [{{source: rel/path, target: /run/secrets}}]
            restart: {{policy: always, maxRetries: 1}}
        """),
        "b.yaml": "kind: [",
        "c.yaml": bot("Bad_Name"),
    })
    assert [p.severity for p in result.problems] == [ERROR] * 6
    assert formatted(result) == [
        "a.yaml:7:9: $.spec.env.API_TOKEN: env API_TOKEN looks like a secret: list it in spec.secrets and put "
        "the value in the file <secretsDir>/<bot>/API_TOKEN instead of the manifest",
        "a.yaml:8:22: $.spec.volumes[0].source: relative bind source 'rel/path': use an absolute host path "
        "(or a plain volume name)",
        "a.yaml:8:40: $.spec.volumes[0].target: /run/secrets is reserved for the bot's secrets",
        "a.yaml:9:41: $.spec.restart.maxRetries: maxRetries only applies to the on-failure policy",
        "b.yaml:2:1: YAML syntax error: did not find expected node content (while parsing a flow node)",
        "c.yaml:4:9: $.metadata.name: 'Bad_Name' is not a valid name: use lower-case letters, digits and '-', "
        "at most 63 characters, starting and ending with a letter or digit",
    ]
    assert result.fleet is None


# --- defaults merge and the model ---------------------------------------------------------------

def test_merge_defaults_maps_merge_lists_and_scalars_replace():
    defaults = {
        "image": "a:1",
        "env": {"A": "1", "B": "2"},
        "resources": {"memory": "1g", "cpus": 1},
        "ports": [{"containerPort": 1, "hostPort": 1}],
        "secrets": ["X"],
    }
    spec = {"image": "b:2", "env": {"B": "3", "C": "4"}, "resources": {"memory": "512m"}, "secrets": ["Y"]}
    merged = merge_defaults(defaults, spec)
    assert merged == {
        "image": "b:2",
        "env": {"A": "1", "B": "3", "C": "4"},
        "resources": {"memory": "512m", "cpus": 1},
        "ports": [{"containerPort": 1, "hostPort": 1}],
        "secrets": ["Y"],
    }
    assert defaults["env"] == {"A": "1", "B": "2"}  # the defaults are not modified
    assert defaults["resources"] == {"memory": "1g", "cpus": 1}


FLEET_WITH_DEFAULTS = FLEET_HEAD + textwrap.indent(textwrap.dedent(f"""\
      secretsDir: /srv/botmaker/secrets
      defaults:
        image: {IMAGE}
        restart: unless-stopped
        user: "1000"
        resources:
          memory: 1g
          cpus: 1
        env:
          NODE_OPTIONS: "--max-old-space-size=768"
          LOG_LEVEL: info
        provider:
          name: anthropic
          model: claude-sonnet-4-5
        channels:
          - type: telegram
        secrets: [ANTHROPIC_API_KEY, TELEGRAM_BOT_TOKEN]
        ports:
          - containerPort: 18789
            hostPort: 18800
        healthcheck:
          test: [CMD, wget, -qO-, http://127.0.0.1:18789/healthz]
          interval: 30s
          timeout: 5s
          retries: 3
"""), "  ")


def test_defaults_merge_into_bot_spec(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {
        "fleet.yaml": FLEET_WITH_DEFAULTS,
        "bots/plain.yaml": bot("plain", spec="state: running"),
        "bots/custom.yaml": bot("custom", metadata="labels: {team: ops}", spec="""
            image: ghcr.io/openclaw/openclaw:2026.3.1
            restart: {policy: on-failure, maxRetries: 5}
            resources:
              memory: 512m
            env:
              LOG_LEVEL: debug
              TZ: Europe/Berlin
            provider:
              model: claude-opus-4
            channels:
              - type: discord
            secrets: [ANTHROPIC_API_KEY, DISCORD_BOT_TOKEN]
            ports:
              - {containerPort: 18789, hostPort: 18801, hostIP: 0.0.0.0}
            volumes:
              - {source: /srv/botmaker/state/custom, target: /home/node/.openclaw}
            state: stopped
        """),
    })
    assert formatted(result) == []
    fleet = result.fleet
    assert fleet.name == "demo"
    assert fleet.secrets_dir == "/srv/botmaker/secrets"
    assert [b.name for b in fleet.bots] == ["custom", "plain"]  # sorted by name
    custom, plain = fleet.bots
    healthcheck = Healthcheck(
        test=("CMD", "wget", "-qO-", "http://127.0.0.1:18789/healthz"),
        interval_ns=30_000_000_000,
        timeout_ns=5_000_000_000,
        retries=3,
    )
    assert plain == BotSpec(
        name="plain",
        image=IMAGE,
        provider=(("model", "claude-sonnet-4-5"), ("name", "anthropic")),
        channels=("telegram",),
        secrets=("ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"),
        env=(("LOG_LEVEL", "info"), ("NODE_OPTIONS", "--max-old-space-size=768")),
        user="1000",
        ports=(Port(18789, 18800, "127.0.0.1", "tcp"),),
        memory_bytes=1024**3,
        nano_cpus=1_000_000_000,
        restart_policy="unless-stopped",
        healthcheck=healthcheck,
        source_file=str(Path("bots/plain.yaml")),
    )
    assert custom == BotSpec(
        name="custom",
        image="ghcr.io/openclaw/openclaw:2026.3.1",
        labels=(("team", "ops"),),
        # maps merge key by key: the provider name comes from the defaults
        provider=(("model", "claude-opus-4"), ("name", "anthropic")),
        # lists are replaced: only the bot's own channel, secrets and ports
        channels=("discord",),
        secrets=("ANTHROPIC_API_KEY", "DISCORD_BOT_TOKEN"),
        env=(("LOG_LEVEL", "debug"), ("NODE_OPTIONS", "--max-old-space-size=768"), ("TZ", "Europe/Berlin")),
        user="1000",
        ports=(Port(18789, 18801, "0.0.0.0", "tcp"),),
        volumes=(Volume("/srv/botmaker/state/custom", "/home/node/.openclaw", False),),
        memory_bytes=512 * 1024**2,
        nano_cpus=1_000_000_000,  # from the defaults
        restart_policy="on-failure",
        restart_max_retries=5,
        state="stopped",
        healthcheck=healthcheck,  # not set by the bot: the defaults' as a whole
        source_file=str(Path("bots/custom.yaml")),
    )


def test_model_without_fleet_uses_default_fleet_and_field_defaults(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(spec=f"""
        image: {IMAGE}
        user: 1000
        env:
          WORKERS: 4
          RATIO: 0.5
          BIG: 2.0
        command: [node, dist/index.js, gateway]
        healthcheck:
          test: curl -fsS http://127.0.0.1:18789/healthz
          startPeriod: 1m30s
        resources:
          cpus: 0.5
    """)})
    # issue 24: an unquoted number that does not reach the container as written is a warning
    assert formatted(result) == [
        "bot.yaml:11:10: $.spec.env.BIG: warning: env BIG: the unquoted 2.0 is read as the number 2.0, so the "
        "container gets '2'; quote it (\"2.0\") to keep it as written"]
    assert result.fleet.name == "default"
    assert result.fleet.secrets_dir is None
    (spec,) = result.fleet.bots
    assert spec.user == "1000"
    assert spec.env == (("BIG", "2"), ("RATIO", "0.5"), ("WORKERS", "4"))
    assert spec.command == ("node", "dist/index.js", "gateway")
    assert spec.healthcheck == Healthcheck(
        test=("CMD-SHELL", "curl -fsS http://127.0.0.1:18789/healthz"), start_period_ns=90_000_000_000
    )
    assert spec.nano_cpus == 500_000_000
    assert spec.memory_bytes is None
    assert (spec.restart_policy, spec.state, spec.pull_policy, spec.network) == (
        "unless-stopped", "running", "IfNotPresent", "bridge"
    )


def test_examples_build_a_fleet():
    root = Path(__file__).resolve().parents[2] / "examples"
    documents, problems = load_paths([str(root / "fleet.yaml"), str(root / "bots")])
    result = validate_documents(documents, problems)
    assert [p.format() for p in result.problems] == []
    fleet = result.fleet
    assert fleet.name == "demo"
    assert (fleet.state_dir, fleet.config_dir) == ("/srv/botmaker/state", "/srv/botmaker/config")
    by_name = {b.name: b for b in fleet.bots}
    assert sorted(by_name) == ["community-bot", "ops-bot", "support-bot"]
    support = by_name["support-bot"]
    assert support.ports == (Port(18789, 18801, "127.0.0.1", "tcp"),)
    assert support.volumes == () and support.runtime == "openclaw"  # the state mount comes from stateDir
    assert support.channel_settings == (("telegram", '{"dmPolicy":"pairing"}'),)
    assert support.labels == (("team", "support"),)
    assert support.memory_bytes == 1024**3 and support.nano_cpus == 10**9 and support.user == "1000"
    assert ("TZ", "UTC") in support.env
    assert by_name["ops-bot"].state == "stopped"
    assert by_name["ops-bot"].secrets == ("OPENROUTER_API_KEY", "TELEGRAM_BOT_TOKEN")
    assert len({p.host_port for b in fleet.bots for p in b.ports}) == 2  # ops-bot publishes none (loopback)


def test_restart_no_is_the_policy_not_a_boolean(tmp_path, monkeypatch):
    # YAML 1.1 would read a plain `no` as false; the manifest loader keeps it as text
    result = validate(tmp_path, monkeypatch, {
        "a.yaml": bot("bot-a", spec=f"image: {IMAGE}\nrestart: no"),
        "b.yaml": bot("bot-b", spec=f"image: {IMAGE}\nvolumes:\n  - {{source: /srv/b, target: /b, readOnly: yes}}"),
    })
    assert formatted(result) == [
        "b.yaml:8:46: $.spec.volumes[0].readOnly: must be true or false, not the text 'yes' "
        "(yes, no, on and off are text in YAML 1.2)"]
    result = validate(tmp_path, monkeypatch, {"b.yaml": bot("bot-b", spec=f"image: {IMAGE}\nrestart: no")})
    assert result.fleet.bots[0].restart_policy == "no"


def test_partial_map_completed_by_fleet_defaults_is_valid(tmp_path):
    """Maps merge key by key: a bot may set only some keys of a map the defaults complete."""
    from deployer.manifests.load import load_paths
    from deployer.manifests.validation import validate_documents

    (tmp_path / "m.yaml").write_text(
        "apiVersion: botmaker/v1\nkind: Fleet\nmetadata: {name: f}\nspec:\n  defaults:\n"
        "    image: a/b:1\n    runtime: container\n    healthcheck: {test: [CMD, 'true'], interval: 5s}\n---\n"
        "apiVersion: botmaker/v1\nkind: Bot\nmetadata: {name: b}\nspec:\n  healthcheck: {interval: 10s}\n"
        "---\napiVersion: botmaker/v1\nkind: Bot\nmetadata: {name: c}\nspec:\n  ports: [{containerPort: 1}]\n"
    )
    docs, load_problems = load_paths([str(tmp_path)])
    result = validate_documents(docs, load_problems)
    assert [p.format() for p in result.problems] == [
        f"{tmp_path}/m.yaml:20:11: $.spec.ports[0]: missing required field 'hostPort'"
    ]


def test_host_network_with_published_ports_is_refused(tmp_path, monkeypatch):
    result = validate(tmp_path, monkeypatch, {"bot.yaml": bot(spec=f"""
        image: {IMAGE}
        network: host
        ports:
          - containerPort: 18789
            hostPort: 28789
        """)})
    assert formatted(result) == [
        "bot.yaml:7:12: $.spec.network: network host shares the host's network, so ports cannot be published: "
        "the bot listens on the host's ports directly; drop spec.ports or use a bridge network"]
    (tmp_path / "ok").mkdir()
    assert not formatted(validate(tmp_path / "ok", monkeypatch, {"bot.yaml": bot(spec=f"""
        image: {IMAGE}
        network: host
        """)}))


def _schema_nodes(node):
    """Every subschema of a manifest schema (the values of keywords that hold schemas)."""
    if not isinstance(node, dict):
        return
    yield node
    for key, value in node.items():
        if key in ("properties", "$defs"):
            for sub in value.values():
                yield from _schema_nodes(sub)
        elif key in ("items", "additionalProperties", "propertyNames"):
            yield from _schema_nodes(value)
        elif key in ("oneOf", "anyOf"):
            for sub in value:
                yield from _schema_nodes(sub)


def test_every_schema_keyword_and_pattern_has_plain_words():
    """Issue 24: no regex or jsonschema wording reaches the operator. A keyword or a pattern added
    to schemas/ without its words in deployer/manifests/schema.py fails here."""
    import json

    from deployer.manifests import schema

    annotations = {"$schema", "$id", "$ref", "$defs", "title", "description", "examples", "properties", "items"}
    structural = {"additionalProperties", "propertyNames", "oneOf", "anyOf"}  # explained in schema._explain
    keywords, patterns, formats = set(), set(), set()
    manifest_schemas = [schema.SCHEMA_DIR / name for name in ("bot.schema.json", "bot-spec.schema.json",
                                                              "fleet.schema.json")]
    for path in manifest_schemas:
        for node in _schema_nodes(json.loads(path.read_text())):
            keywords |= set(node) - annotations - structural
            patterns |= {node["pattern"]} if "pattern" in node else set()
            formats |= {node["format"]} if "format" in node else set()
    assert {"type", "enum", "pattern", "required", "minimum"} <= keywords and len(patterns) > 10  # the walk works
    assert keywords - set(schema.MESSAGES) == set()
    assert patterns - set(schema.PATTERN_WORDS) == set()
    assert formats - set(schema.FORMAT_WORDS) == set()
    assert set(schema.PATTERN_WORDS) - patterns == set(), "words for a pattern no schema uses"
