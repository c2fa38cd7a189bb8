"""Secret files: checks before any change, and keyed fingerprints for rotation and conflicts.

A secret value never leaves this module: checks return Problems that name the bot, the secret
and the path; fingerprints are HMAC-SHA256 under a per-fleet key kept beside the secrets (a
plain hash of a short token could be brute-forced from a label).
"""

from __future__ import annotations

import hashlib
import hmac
import os

import stat
from dataclasses import dataclass, field
from pathlib import Path

from .model import BotSpec, FleetSpec
from .problems import ERROR, WARNING, Problem

KEY_FILE = ".deployer-fingerprint-key"
FINGERPRINT_VERSION = "v1"
# Tokens that only one process may use at a time: two bots sharing one fight forever.
EXCLUSIVE_TOKENS = {
    "TELEGRAM_BOT_TOKEN": "Telegram allows one poller per bot token (getUpdates 409 Conflict)",
    "DISCORD_BOT_TOKEN": "Discord delivers a bot's gateway events to one session",
    "SLACK_APP_TOKEN": "Slack Socket Mode delivers each event to one connection",
    "SLACK_BOT_TOKEN": "Slack Socket Mode delivers each event to one connection",
}
MAX_SECRET_BYTES = 1024 * 1024


@dataclass
class SecretsReport:
    problems: list[Problem] = field(default_factory=list)
    # bot -> {secret name -> fingerprint}; only for bots whose secrets all passed
    fingerprints: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]


def parse_uid(user: str | None) -> int | None:
    if not user:
        return None
    head = user.split(":", 1)[0]
    return int(head) if head.isdigit() else None


def check_fleet_secrets(
    fleet: FleetSpec,
    secrets_dir: str | None,
    *,
    image_users: dict[str, str | None] | None = None,
    create_key: bool = True,
) -> SecretsReport:
    """Check every bot's secrets; report every problem in one pass."""
    report = SecretsReport()
    needing = [b for b in fleet.bots if b.secrets]
    if not needing:
        return report
    if not secrets_dir:
        for bot in needing:
            _add(report, bot.source_file, bot, None,
                 "declares secrets but no secrets directory is set; set spec.secretsDir in the Fleet, "
                 "or pass --secrets-dir / DEPLOYER_SECRETS_DIR")
        return report
    root = Path(secrets_dir)
    if not _check_dir(report, root, None, "secrets directory"):
        return report
    key = _fleet_key(root, create=create_key, report=report)
    # Conflicts must be found even without a stored key (validate never creates one): compare
    # under a throwaway in-memory key then; it is never written anywhere.
    conflict_key = key if key is not None else os.urandom(32)
    seen: dict[tuple[str, str], str] = {}  # (secret name, content fingerprint) -> first bot
    for bot in needing:
        uid = parse_uid(bot.user) if bot.user else parse_uid((image_users or {}).get(bot.image))
        bot_dir = root / bot.name
        if not _check_dir(report, bot_dir, bot, "bot secrets directory", uid=uid):
            continue
        listing = _list_dir(bot_dir)
        prints: dict[str, str] = {}
        for name in bot.secrets:
            content = _check_file(report, bot_dir, name, bot, uid, listing)
            if content is None:
                continue
            if key is not None:
                prints[name] = fingerprint(key, name, content)
            if name in EXCLUSIVE_TOKENS:
                digest = fingerprint(conflict_key, "token", content.strip())
                other = seen.get((name, digest))
                if other is not None:
                    _add(report, str(bot_dir / name), bot, name,
                         f"has the same value as bot {other}'s {name}: {EXCLUSIVE_TOKENS[name]}, so the two bots "
                         "would fight forever; give each bot its own token")
                else:
                    seen[(name, digest)] = bot.name
        if len(prints) == len(bot.secrets):
            report.fingerprints[bot.name] = prints
        declared = set(bot.secrets)
        if listing is not None:
            listing.close()
        try:
            names = listing.entries if listing is not None else os.listdir(bot_dir)
        except OSError:
            names = []
        extra = sorted(name for name in names if name not in declared)
        for name in extra:
            _add(report, str(bot_dir / name), bot, name,
                 "is in the bot's secrets directory but no manifest declares it (it is still mounted at /run/secrets)",
                 severity=WARNING)
    return report


def fingerprint(key: bytes, name: str, content: bytes) -> str:
    return hmac.new(key, name.encode() + b"\0" + content, hashlib.sha256).hexdigest()[:24]


def fingerprint_label(prints: dict[str, str]) -> str:
    """Label value: per-secret keyed fingerprints, so a plan can say which secret changed."""
    return FINGERPRINT_VERSION + ";" + ",".join(f"{k}={v}" for k, v in sorted(prints.items()))


def parse_fingerprint_label(value: str | None) -> dict[str, str] | None:
    if not value or not value.startswith(FINGERPRINT_VERSION + ";"):
        return None
    body = value[len(FINGERPRINT_VERSION) + 1:]
    out = {}
    for part in filter(None, body.split(",")):
        name, _, fp = part.partition("=")
        out[name] = fp
    return out


def redact(text: str, bot: BotSpec, secrets_dir: str | None) -> str:
    """`text` with the bot's secret values replaced by [secret NAME]: for container log lines
    quoted in messages (a gateway that rejects its token often prints it, e.g. in an API URL)."""
    if not text or not secrets_dir:
        return text
    bot_dir = Path(secrets_dir) / bot.name
    try:
        names = set(bot.secrets) | {p.name for p in bot_dir.iterdir()}  # all of it is mounted
    except OSError:
        names = set(bot.secrets)
    values: list[tuple[str, str]] = []
    for name in sorted(names):
        try:
            fd = os.open(bot_dir / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
                content = os.read(fd, MAX_SECRET_BYTES + 1).decode("utf-8", "replace")
            finally:
                os.close(fd)
        except OSError:
            continue
        whole = content.strip()
        lines = {line.strip() for line in content.splitlines() if len(line.strip()) >= 8}
        values.extend((v, name) for v in {whole} | lines if v)
    for value, name in sorted(values, key=lambda vn: -len(vn[0])):  # longest first
        text = text.replace(value, f"[secret {name}]")
    return text


# --- helpers ------------------------------------------------------------------------------------

def _add(report: SecretsReport, file: str, bot: BotSpec | None, secret: str | None, message: str,
         severity: str = ERROR) -> None:
    who = f"bot {bot.name}" if bot else "fleet"
    what = f"secret {secret}" if secret else ""
    subject = f"{who}: {what} ".replace(":  ", ": ").strip() if what else f"{who}:"
    report.problems.append(Problem(file, 0, 0, "", f"{subject} {message}".replace("  ", " "), severity))


def _check_dir(report: SecretsReport, path: Path, bot: BotSpec | None, what: str, uid: int | None = None) -> bool:
    if not path.is_absolute():
        _add(report, str(path), bot, None, f"{what} {path} must be an absolute path")
        return False
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        fix = f"mkdir -m 700 {path}" + (f" && chown {uid} {path}" if uid else "")
        _add(report, str(path), bot, None, f"{what} {path} does not exist; create it: {fix}")
        return False
    except OSError as exc:
        _add(report, str(path), bot, None, f"{what} {path} cannot be read: {exc.strerror}")
        return False
    if stat.S_ISLNK(st.st_mode):
        _add(report, str(path), bot, None, f"{what} {path} is a symlink; use the real directory (symlinks are refused)")
        return False
    if not stat.S_ISDIR(st.st_mode):
        _add(report, str(path), bot, None, f"{what} {path} is not a directory")
        return False
    if st.st_mode & 0o077:
        _add(report, str(path), bot, None,
             f"{what} {path} is open to group or others (mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 700 {path}")
        return False
    if uid is not None and uid != 0 and st.st_uid != uid:
        _add(report, str(path), bot, None,
             f"{what} {path} is owned by uid {st.st_uid}, but the container runs as uid {uid} and cannot enter it; "
             f"run: chown {uid} {path}")
        return False
    return True


class _Listing:
    """A bot's secrets directory, opened once: its entries (name -> DirEntry, whose type comes
    with the listing) and a descriptor to open them by, so each secret costs an open, an
    fstat and a read, and nothing is resolved by path twice."""

    def __init__(self, fd: int, entries: dict[str, os.DirEntry[str]]):
        self.fd, self.entries = fd, entries

    def close(self) -> None:
        os.close(self.fd)


def _list_dir(bot_dir: Path) -> _Listing | None:
    """None when the directory cannot be listed (then each file is looked up by path)."""
    try:
        fd = os.open(bot_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.scandir(fd) as it:
            return _Listing(fd, {entry.name: entry for entry in it})
    except OSError:
        os.close(fd)
        return None


def _mode_or_size_problem(report: SecretsReport, path: Path, bot: BotSpec, name: str, st: os.stat_result) -> bool:
    if st.st_mode & 0o077:
        _add(report, str(path), bot, name,
             f"file {path} is open to group or others (mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}")
        return True
    if st.st_size > MAX_SECRET_BYTES:
        _add(report, str(path), bot, name, f"file {path} is larger than {MAX_SECRET_BYTES} bytes; is it the right file?")
        return True
    return False


def _check_file(report: SecretsReport, bot_dir: Path, name: str, bot: BotSpec, uid: int | None,
                listing: _Listing | None = None) -> bytes | None:
    path = bot_dir / name
    # What the file is (missing, symlink, not regular) comes from the directory listing; what
    # was opened is checked with fstat, so mode, size and owner are those of the file read.
    try:
        if listing is not None:
            entry = listing.entries.get(name)
            if entry is None:
                raise FileNotFoundError(name)
            is_link, is_reg = entry.is_symlink(), entry.is_file(follow_symlinks=False)
        else:
            st = os.lstat(path)
            is_link, is_reg = stat.S_ISLNK(st.st_mode), stat.S_ISREG(st.st_mode)
    except FileNotFoundError:
        _add(report, str(path), bot, name, f"file {path} does not exist; write the value there with mode 0600")
        return None
    except OSError as exc:
        _add(report, str(path), bot, name, f"file {path} cannot be read: {exc.strerror}")
        return None
    # Nothing can resolve outside the bot's directory: the name has no '/' or '..' (schema
    # pattern), the directory itself is no symlink (_check_dir), and neither is the file.
    if is_link:
        _add(report, str(path), bot, name, f"{path} is a symlink; secrets must be regular files inside the bot's directory")
        return None
    if not is_reg:
        _add(report, str(path), bot, name, f"{path} is not a regular file")
        return None
    try:
        # O_NOFOLLOW: the file cannot be swapped for a symlink between the listing and the read;
        # O_NONBLOCK: nor can a FIFO swapped in make the open hang
        if listing is not None:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=listing.fd)
        else:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        # a file we may not open: still say first what is wrong with its mode or size, as before
        try:
            if _mode_or_size_problem(report, path, bot, name, os.lstat(path)):
                return None
        except OSError:
            pass
        _add(report, str(path), bot, name, f"file {path} cannot be read: {exc.strerror}")
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            _add(report, str(path), bot, name, f"{path} is not a regular file")
            return None
        if _mode_or_size_problem(report, path, bot, name, st):
            return None
        try:
            content = os.read(fd, MAX_SECRET_BYTES + 1)
        except OSError as exc:
            _add(report, str(path), bot, name, f"file {path} cannot be read: {exc.strerror}")
            return None
    finally:
        os.close(fd)
    if not content.strip():
        _add(report, str(path), bot, name, f"file {path} is empty or only whitespace")
        return None
    if uid is not None and uid != 0 and st.st_uid != uid:
        _add(report, str(path), bot, name,
             f"file {path} is owned by uid {st.st_uid} with mode {stat.S_IMODE(st.st_mode):04o}, so the container "
             f"(uid {uid}) cannot read it; run: chown {uid} {path}")
        return None
    return content


def _fleet_key(root: Path, *, create: bool, report: SecretsReport) -> bytes | None:
    """The per-fleet HMAC key, created 0600 on first use (O_EXCL: two runners cannot race)."""
    path = root / KEY_FILE
    for _ in range(2):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                st = os.fstat(fd)
                data = os.read(fd, 4096).strip()
            finally:
                os.close(fd)
            if st.st_mode & 0o077:
                _add(report, str(path), None, None,
                     f"fingerprint key {path} is open to group or others; run: chmod 600 {path}")
                return None
            if len(data) < 32:
                _add(report, str(path), None, None, f"fingerprint key {path} is too short; delete it to make a new one")
                return None
            return data
        except FileNotFoundError:
            if not create:
                return None
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            except FileExistsError:
                continue
            except OSError as exc:
                _add(report, str(path), None, None, f"cannot create fingerprint key {path}: {exc.strerror}")
                return None
            with os.fdopen(fd, "w") as f:
                f.write(os.urandom(32).hex() + "\n")
        except OSError as exc:
            _add(report, str(path), None, None, f"cannot read fingerprint key {path}: {exc.strerror}")
            return None
    return None
