"""Secret files: checks before any change, and keyed fingerprints for rotation and conflicts.

A secret value never leaves this module: checks return Problems that name the bot, the secret
and the path; fingerprints are HMAC-SHA256 under a per-fleet key kept beside the secrets (a
plain hash of a short token could be brute-forced from a label).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deployer.core.model import BotSpec, FleetSpec, container_uid, parse_uid
from deployer.core.problems import ERROR, WARNING, Problem
from deployer.core.vocabulary import MAX_SECRET_BYTES, OPENCLAW_UID, SECRETS_MOUNT

KEY_FILE = ".deployer-fingerprint-key"
# Tokens that only one process may use at a time: two bots sharing one fight forever.
EXCLUSIVE_TOKENS = {
    "TELEGRAM_BOT_TOKEN": "Telegram allows one poller per bot token (getUpdates 409 Conflict)",
    "DISCORD_BOT_TOKEN": "Discord delivers a bot's gateway events to one session",
    "SLACK_APP_TOKEN": "Slack Socket Mode delivers each event to one connection",
    "SLACK_BOT_TOKEN": "Slack Socket Mode delivers each event to one connection",
}


@dataclass
class SecretsReport:
    problems: list[Problem] = field(default_factory=list)
    # bot -> {secret name -> fingerprint}; only for bots whose secrets all passed
    fingerprints: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]


@dataclass(frozen=True)
class PathFacts:
    """What a gatherer found at one path: lstat results and keyed fingerprints, never the content.

    kind: "missing", "error", "link", "dir", "file", "other". error: why lstat/read failed.
    blank: the content is empty or only whitespace. fingerprint: HMAC under the fleet key of
    name+content (None without a key). token: HMAC under a throwaway per-run key of the
    stripped content, to find two bots sharing a token (only for EXCLUSIVE_TOKENS names).
    """

    kind: str
    mode: int = 0
    uid: int = -1
    nlink: int = 1
    size: int = 0
    error: str | None = None
    blank: bool = False
    fingerprint: str | None = None
    token: str | None = None


@dataclass
class SecretsFacts:
    """Everything the checks need about a secrets directory, from one gatherer (local os calls,
    or a helper container on a remote engine host)."""

    root: PathFacts
    key_problem: str | None = None  # a message about the fingerprint key (mode, length, creation)
    has_key: bool = False
    bot_dirs: dict[str, PathFacts] = field(default_factory=dict)
    files: dict[tuple[str, str], PathFacts] = field(default_factory=dict)
    extra: dict[str, list[str]] = field(default_factory=dict)  # bot -> undeclared names in its dir


Gatherer = Callable[[Path, dict[str, tuple[str, ...]], bool, bytes], SecretsFacts]


def check_fleet_secrets(
    fleet: FleetSpec,
    secrets_dir: str | None,
    *,
    image_users: dict[str, str | None] | None = None,
    create_key: bool = True,
    gather: Gatherer | None = None,
) -> SecretsReport:
    """Check every bot's secrets; report every problem in one pass.

    `gather` collects the facts (default: local os calls on this machine); the verdicts are the
    same whoever gathered them (see judge_secrets)."""
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
    if not root.is_absolute():
        _add(report, str(root), None, None, f"secrets directory {root} must be an absolute path")
        return report
    wanted = {b.name: tuple(b.secrets) for b in needing}
    facts = (gather or gather_local)(root, wanted, create_key, os.urandom(32))
    return judge_secrets(fleet, root, facts, image_users=image_users, report=report)


def judge_secrets(fleet: FleetSpec, root: Path, facts: SecretsFacts, *,
                  image_users: dict[str, str | None] | None = None,
                  report: SecretsReport | None = None) -> SecretsReport:
    """The verdicts on gathered facts: pure (no I/O), shared by the local and the remote check."""
    report = report or SecretsReport()
    needing = [b for b in fleet.bots if b.secrets]
    if not _judge_dir(report, root, facts.root, None, "secrets directory"):
        return report
    if facts.key_problem:
        _add(report, str(root / KEY_FILE), None, None, facts.key_problem)
    seen: dict[tuple[str, str], str] = {}  # (secret name, token fingerprint) -> first bot
    for bot in needing:
        uid = container_uid(bot, image_users)
        bot_dir = root / bot.name
        one = len(bot.secrets) == 1
        wanted = f"the bot's secret {bot.secrets[0]}" if one else f"each of the bot's secrets ({', '.join(bot.secrets)})"
        command = _secret_set(fleet, root, bot, bot.secrets[0] if one else "NAME", uid)
        if not _judge_dir(report, bot_dir, facts.bot_dirs.get(bot.name, PathFacts("missing")), bot,
                          "bot secrets directory", uid=uid,
                          missing_fix=f"write {wanted} with: {_PIPE}{command}, which creates it"):
            continue
        prints: dict[str, str] = {}
        for name in bot.secrets:
            f = facts.files.get((bot.name, name), PathFacts("missing"))
            if not _judge_file(report, bot_dir / name, f, bot, name, uid, single_link=bot.is_openclaw,
                               set_command=_secret_set(fleet, root, bot, name, uid)):
                continue
            if facts.has_key and f.fingerprint:
                prints[name] = f.fingerprint
            if name in EXCLUSIVE_TOKENS and f.token:
                other = seen.get((name, f.token))
                if other is not None:
                    _add(report, str(bot_dir / name), bot, name,
                         f"has the same value as bot {other}'s {name}: {EXCLUSIVE_TOKENS[name]}, so the two bots "
                         "would fight forever; give each bot its own token")
                else:
                    seen[(name, f.token)] = bot.name
        if len(prints) == len(bot.secrets):
            report.fingerprints[bot.name] = prints
        for name in facts.extra.get(bot.name, []):
            _add(report, str(bot_dir / name), bot, name,
                 f"is in the bot's secrets directory but no manifest declares it (it is still mounted at {SECRETS_MOUNT})",
                 severity=WARNING)
    return report


def gather_local(root: Path, wanted: dict[str, tuple[str, ...]], create_key: bool, token_key: bytes) -> SecretsFacts:
    """The facts from this machine's filesystem (the engine reads the same paths)."""
    facts = SecretsFacts(root=_lstat_facts(root))
    if facts.root.kind != "dir" or facts.root.mode & 0o077:
        return facts
    problems = SecretsReport()
    key = _fleet_key(root, create=create_key, report=problems)
    facts.has_key = key is not None
    facts.key_problem = problems.problems[0].message.split(": ", 1)[1] if problems.problems else None
    for bot, names in wanted.items():
        bot_dir = root / bot
        facts.bot_dirs[bot] = _lstat_facts(bot_dir)
        if facts.bot_dirs[bot].kind != "dir":
            continue
        listing = _list_dir(bot_dir)
        try:
            for name in names:
                facts.files[(bot, name)] = (_listed_file_facts(listing, name, key, token_key) if listing is not None
                                            else _file_facts(bot_dir / name, name, key, token_key))
            try:
                entries = list(listing.entries) if listing is not None else os.listdir(bot_dir)
            except OSError:
                entries = []
            facts.extra[bot] = sorted(n for n in entries if n not in set(names))
        finally:
            if listing is not None:
                listing.close()
    return facts


class _Listing:
    """A bot's secrets directory, opened once: its entries (whose types come with the listing)
    and a descriptor to open them by, so each secret costs an open, an fstat and a read, and
    nothing is resolved by path twice."""

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


def _listed_file_facts(listing: _Listing, name: str, key: bytes | None, token_key: bytes) -> PathFacts:
    """What the file is comes from the listing; mode, owner, links and size from an fstat of
    the very file opened (O_NOFOLLOW, relative to the listed directory), then one read."""
    entry = listing.entries.get(name)
    if entry is None:
        return PathFacts("missing")
    try:
        if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
            # not read: its kind, mode and owner, as the remote gatherer reports them
            return _stat_facts(os.lstat(name, dir_fd=listing.fd))
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=listing.fd)
    except OSError as exc:
        return PathFacts("error", error=exc.strerror)
    try:
        st = os.fstat(fd)
        f = PathFacts("file" if stat.S_ISREG(st.st_mode) else "other", stat.S_IMODE(st.st_mode), st.st_uid,
                      st.st_nlink, st.st_size)
        if f.kind != "file" or f.mode & 0o077 or f.size > MAX_SECRET_BYTES:
            return f
        try:
            content = os.read(fd, MAX_SECRET_BYTES + 1)
        except OSError as exc:
            return dataclasses.replace(f, error=exc.strerror or "unreadable")
    finally:
        os.close(fd)
    return _with_content(f, name, content, key, token_key)


def fingerprint(key: bytes, name: str, content: bytes) -> str:
    return hmac.new(key, name.encode() + b"\0" + content, hashlib.sha256).hexdigest()[:24]


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


def _lstat_facts(path: Path) -> PathFacts:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return PathFacts("missing")
    except OSError as exc:
        return PathFacts("error", error=exc.strerror)
    return _stat_facts(st)


def _stat_facts(st: os.stat_result) -> PathFacts:
    kind = ("link" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode)
            else "file" if stat.S_ISREG(st.st_mode) else "other")
    return PathFacts(kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_nlink, st.st_size)


def _file_facts(path: Path, name: str, key: bytes | None, token_key: bytes) -> PathFacts:
    f = _lstat_facts(path)
    if f.kind != "file" or f.mode & 0o077 or f.size > MAX_SECRET_BYTES:
        return f
    try:
        # O_NOFOLLOW: the file cannot be swapped for a symlink between the check and the read
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            content = os.read(fd, MAX_SECRET_BYTES + 1)
        finally:
            os.close(fd)
    except OSError as exc:
        return dataclasses.replace(f, error=exc.strerror or "unreadable")
    return _with_content(f, name, content, key, token_key)


def _with_content(f: PathFacts, name: str, content: bytes, key: bytes | None, token_key: bytes) -> PathFacts:
    stripped = content.strip()
    return dataclasses.replace(
        f, blank=not stripped,
        fingerprint=fingerprint(key, name, content) if key is not None else None,
        token=fingerprint(token_key, "token", stripped) if stripped and name in EXCLUSIVE_TOKENS else None,
    )


# Where a hint says how to write a secret: `deployer secret set` writes the file and its directory
# as the checks want them (mode, owner, one link); an operator's `echo > file` as root does not.
_PIPE = 'printf %s "$VALUE" | '


def _secret_set(fleet: FleetSpec, root: Path, bot: BotSpec, name: str, uid: int | None) -> str:
    """The `deployer secret set` command that writes the secret where and as these checks want it:
    PATHS are the manifests planned; --secrets-dir and --uid only where its defaults (the Fleet's
    spec.secretsDir, the bot's spec.user else 1000) would differ."""
    command = f"deployer secret set {bot.name} {name} -f PATHS"
    if str(root) != (fleet.secrets_dir or ""):
        command += f" --secrets-dir {root}"
    owner = parse_uid(bot.user) if bot.user else None
    if uid is not None and uid != (OPENCLAW_UID if owner is None else owner):
        command += f" --uid {uid}"
    return command


def _judge_dir(report: SecretsReport, path: Path, f: PathFacts, bot: BotSpec | None, what: str,
               uid: int | None = None, missing_fix: str | None = None) -> bool:
    if not path.is_absolute():
        _add(report, str(path), bot, None, f"{what} {path} must be an absolute path")
        return False
    if f.kind == "missing":
        fix = missing_fix or "create it: mkdir -m 700 " + str(path) + (f" && chown {uid} {path}" if uid else "")
        _add(report, str(path), bot, None, f"{what} {path} does not exist; {fix}")
        return False
    if f.kind == "error":
        _add(report, str(path), bot, None, f"{what} {path} cannot be read: {f.error}")
        return False
    if f.kind == "link":
        _add(report, str(path), bot, None, f"{what} {path} is a symlink; use the real directory (symlinks are refused)")
        return False
    if f.kind != "dir":
        _add(report, str(path), bot, None, f"{what} {path} is not a directory")
        return False
    foreign = uid is not None and uid != 0 and f.uid != uid
    if f.mode & 0o077:  # with the owner in the same fix: one hint, not one per run
        owner = f" and owned by uid {f.uid}, but the container runs as uid {uid}" if foreign else ""
        _add(report, str(path), bot, None,
             f"{what} {path} is open to group or others (mode {f.mode:04o}){owner}; run: chmod 700 {path}"
             + (f" && chown {uid} {path}" if foreign else ""))
        return False
    if foreign:
        _add(report, str(path), bot, None,
             f"{what} {path} is owned by uid {f.uid}, but the container runs as uid {uid} and cannot enter it; "
             f"run: chown {uid} {path}")
        return False
    return True


def _judge_file(report: SecretsReport, path: Path, f: PathFacts, bot: BotSpec, name: str, uid: int | None, *,
                single_link: bool = False, set_command: str = "") -> bool:
    # Nothing can resolve outside the bot's directory: the name has no '/' or '..' (schema
    # pattern), the directory itself is no symlink (_judge_dir), and neither is the file.
    set_command = set_command or f"deployer secret set {bot.name} {name} -f PATHS"
    if f.kind == "missing":
        _add(report, str(path), bot, name, f"file {path} does not exist; write it with: {_PIPE}{set_command}")
        return False
    if f.kind == "error":
        _add(report, str(path), bot, name, f"file {path} cannot be read: {f.error}")
        return False
    if f.kind == "link":
        _add(report, str(path), bot, name, f"{path} is a symlink; secrets must be regular files inside the bot's directory")
        return False
    if f.kind != "file":
        _add(report, str(path), bot, name, f"{path} is not a regular file")
        return False
    if f.mode & 0o077:
        _add(report, str(path), bot, name,
             f"file {path} is open to group or others (mode {f.mode:04o}); run: chmod 600 {path}")
        return False
    if single_link and f.nlink > 1:
        _add(report, str(path), bot, name,
             f"file {path} has {f.nlink} hard links, and OpenClaw refuses a hard-linked secret file; "
             f"give it its own copy: {set_command} < {path}")
        return False
    if f.size > MAX_SECRET_BYTES:
        _add(report, str(path), bot, name, f"file {path} is larger than {MAX_SECRET_BYTES} bytes; is it the right file?")
        return False
    if f.error:
        _add(report, str(path), bot, name, f"file {path} cannot be read: {f.error}")
        return False
    if f.blank:
        _add(report, str(path), bot, name,
             f"file {path} is empty or only whitespace; write the value with: {_PIPE}{set_command}")
        return False
    if uid is not None and uid != 0 and f.uid != uid:
        _add(report, str(path), bot, name,
             f"file {path} is owned by uid {f.uid} with mode {f.mode:04o}, so the container "
             f"(uid {uid}) cannot read it; run: chown {uid} {path}")
        return False
    return True


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
