"""The deployer's words on the engine and on the host, each written once: label names, name
prefixes, mount points, runtimes and the gateway's uid. Readers import them from here
(tests/unit/test_vocabulary.py keeps every `botmaker.`/`botmaker-` name literal in this file)."""

from __future__ import annotations

DEFAULT_FLEET = "default"
SECRETS_MOUNT = "/run/secrets"  # where a bot's secret files appear in its container
MAX_SECRET_BYTES = 1024 * 1024

RUNTIME_OPENCLAW = "openclaw"
RUNTIME_CONTAINER = "container"

OPENCLAW_UID = 1000  # the `node` user of OpenClaw's images (and of the stand-in images)
GATEWAY_PORT = 18789  # where the OpenClaw gateway listens in its container, unless spec.gateway.port says
GATEWAY_CLI = ("node", "dist/index.js")  # the gateway's CLI in its image, unless spec.gateway.cli says


# --- names on the engine ----------------------------------------------------------------------

CONTAINER_PREFIX = "botmaker-"  # botmaker-<bot>: a bot's container (or swarm service)
SECRET_OBJECT_PREFIX = "botmaker-"  # botmaker-<fleet>-<bot>-<NAME>-<fingerprint>: a swarm secret
HELPER_PREFIX = "botmaker-helper-"  # a short-lived helper container (prepares host directories)
PREFLIGHT_PREFIX = "botmaker-preflight."  # botmaker-preflight.<fleet>.<bot>.<tag>: a gateway's own checks
# Markers: never-started containers (swarm: configs) whose name and labels carry state
LOCK_PREFIX = "botmaker-lock."  # botmaker-lock.<fleet>: the fleet lock
BEAT_MARK = ".beat."  # botmaker-lock.<fleet>.beat.<token>.<n>: its holder's heartbeats
RECORD_PREFIX = "botmaker-record."  # botmaker-record.<fleet>: the last-applied record
HISTORY_PREFIX = "botmaker-history."  # botmaker-history.<fleet>.<seq>: one apply of the history
MARKER_IMAGE = "botmaker/marker:1"  # an empty image, imported offline, for never-started marker containers


# --- labels -------------------------------------------------------------------------------------

LABEL_NAMESPACE = "botmaker."  # every label key under it belongs to the deployer (manifests may not set one)

# On every unit the tool creates: ownership, the recorded spec and its hash, secrets
LABEL_MANAGED = "botmaker.managed"
LABEL_BOT = "botmaker.bot-id"
LABEL_FLEET = "botmaker.fleet"
LABEL_SPEC_HASH = "botmaker.spec-hash"
LABEL_SPEC = "botmaker.spec"  # canonical desired spec (no secret values), for exact field diffs
LABEL_SECRETS = "botmaker.secrets-fingerprint"
LABEL_PROTECT = "botmaker.protect"
FINGERPRINT_VERSION = "v1"  # of the LABEL_SECRETS value
# ... for `docker ps` readers, on plain containers (an OpenClaw bot's live in its config)
LABEL_PROVIDER = "botmaker.provider"
LABEL_MODEL = "botmaker.model"
LABEL_CHANNELS = "botmaker.channels"

# Revision stamps: on every unit (what it was created from) and on the last-applied record
LABEL_REVISION = "botmaker.revision"
LABEL_MANIFEST = "botmaker.manifest"
LABEL_APPLIED_AT = "botmaker.applied-at"
LABEL_APPLIED_BY = "botmaker.applied-by"

# The last-applied record (besides the stamps)
LABEL_RECORD = "botmaker.record"  # = the fleet
LABEL_SUMMARY = "botmaker.summary"
LABEL_RESULT = "botmaker.result"
LABEL_CI_JOB = "botmaker.ci-job"
# JSON {unit id: spec hash}: the units the last apply left running a spec other than their label's
# (updated in place since they were created), and the hash of the spec each runs (UNKNOWN_SPEC:
# an in-place update that failed part-way). While it lists any, the record also carries
# LABEL_MANAGED=MANAGED_RECORD, so that the observer's one list call of managed units shows it.
LABEL_UPDATED_IN_PLACE = "botmaker.updated-in-place"
MANAGED_RECORD = "record"
UNKNOWN_SPEC = "unknown"

# The fleet lock and its heartbeats
LABEL_LOCK = "botmaker.lock"  # = the fleet, on the lock and on its heartbeats
LABEL_LOCK_HOST = "botmaker.lock.host"
LABEL_LOCK_PID = "botmaker.lock.pid"
LABEL_LOCK_USER = "botmaker.lock.user"
LABEL_LOCK_CI_JOB = "botmaker.lock.ci-job"
LABEL_LOCK_STARTED = "botmaker.lock.started"
LABEL_LOCK_EXPIRES = "botmaker.lock.expires"
LABEL_LOCK_TOKEN = "botmaker.lock.token"
LABEL_LOCK_TTL = "botmaker.lock.ttl"
LABEL_LOCK_BEAT_INTERVAL = "botmaker.lock.beat-interval"
LABEL_LOCK_BEAT_OF = "botmaker.lock.beat-of"  # on a heartbeat marker: the token of the lock it renews

# History entries
LABEL_HISTORY = "botmaker.history"  # = the fleet
LABEL_HISTORY_SEQ = "botmaker.history.seq"
LABEL_HISTORY_META = "botmaker.history.meta"
LABEL_HISTORY_DATA = "botmaker.history.data."  # + chunk number

# Throwaway containers, never managed units
LABEL_PREFLIGHT = "botmaker.preflight"  # = the fleet, on a preflight run
LABEL_HELPER = "botmaker.helper"
LABEL_MARKER_IMAGE = "botmaker.marker-image"  # on MARKER_IMAGE itself

# The swarm backend's own objects
LABEL_MARKER = "botmaker.marker"  # on every marker config
LABEL_MARKER_NAME = "botmaker.marker-name"  # the marker's own name, when the config's had to be shortened
LABEL_SECRET_NAME = "botmaker.secret-name"  # on a Docker secret: the file name in SECRETS_MOUNT
LABEL_SECRET_PRINT = "botmaker.secret-fingerprint"  # ... and its short keyed fingerprint
