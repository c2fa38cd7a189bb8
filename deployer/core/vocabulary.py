"""The deployer's words on the engine and on the host, each written once: label names, name
prefixes, mount points, runtimes and the gateway's uid. Readers import them from here."""

from __future__ import annotations

DEFAULT_FLEET = "default"
CONTAINER_PREFIX = "botmaker-"
SECRETS_MOUNT = "/run/secrets"


# Labels the tool owns on every container it creates.
LABEL_MANAGED = "botmaker.managed"
LABEL_BOT = "botmaker.bot-id"
LABEL_FLEET = "botmaker.fleet"
LABEL_SPEC_HASH = "botmaker.spec-hash"
LABEL_SPEC = "botmaker.spec"  # canonical desired spec (no secret values), for exact field diffs
LABEL_SECRETS = "botmaker.secrets-fingerprint"
LABEL_PROTECT = "botmaker.protect"
FINGERPRINT_VERSION = "v1"  # of the LABEL_SECRETS value


RUNTIME_OPENCLAW = "openclaw"
RUNTIME_CONTAINER = "container"


OPENCLAW_UID = 1000  # the `node` user of OpenClaw's images
MAX_SECRET_BYTES = 1024 * 1024

