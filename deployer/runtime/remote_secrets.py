"""Secret checks where the containers read the files: on a remote engine's host.

When the engine is not on this machine (ssh://, tcp:// to another host; see
endpoint.Endpoint.files_local), `lstat` here says nothing about the host's files. So the facts
are gathered on the host by one short-lived helper container (engine.run_helper): the secrets
directory bind-mounted read-only at /s, no network, root with only CAP_DAC_OVERRIDE (to read
files owned by the bots' uid). It prints, per path, only the file type, mode, owner, link count,
size, whether the content is blank, and HMAC-SHA256 fingerprints: under the fleet key (which
lives in the secrets dir on the host and never leaves it) and under a throwaway per-run key (to
find two bots sharing one token). Never a value. The verdicts are secrets.judge_secrets, the
same function (and the same messages) as the local check.

The helper runs in an image already on the host that has a POSIX shell with stat, od, awk and
sha256sum (busybox or coreutils): DEPLOYER_HELPER_IMAGE if set (pulled when missing), else the
first of the fleet's bot images that the host already has. A missing fingerprint key is created
by a second helper run that mounts the secrets dir read-write only for that (O_EXCL via set -C).

Log lines of a bot that failed to start are redacted the same way (redact_on_engine): the helper
reports (byte length, HMAC under a throwaway key) of every value a line could quote. redact_logs
picks where: here for a local engine, on the host for a remote one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from deployer.core.model import BotSpec, FleetSpec, Observed
from deployer.core.vocabulary import LABEL_FLEET
from deployer.errors import DeployerError, RemoteSecretsError
from deployer.secrets.checks import EXCLUSIVE_TOKENS, KEY_FILE, PathFacts, SecretsFacts, redact

if TYPE_CHECKING:
    from deployer.backends.base import Backend

HELPER_IMAGE_ENV = "DEPLOYER_HELPER_IMAGE"
MOUNT = "/s"

# POSIX sh; every byte loop is fork-free shell arithmetic. SH_LIB: esc (hex -> printf escapes),
# pads (HMAC key pads from a hex key), hmac (HMAC-SHA256 of stdin, 24 hex chars like
# secrets.fingerprint), facts (lstat-like), strip_range (offsets of bytes.strip()).
# FACTS_SCRIPT output lines (tab separated):
#   R|D bot|K|F bot name ... kind mode uid nlink size [blank fingerprint token]; X bot name (undeclared)
SH_LIB = r'''
set -u
R=/s
TAB=$(printf '\t')
esc() { h=$1; E=; while [ -n "$h" ]; do b=${h%"${h#??}"}; h=${h#??}; n=$((0x$b)); E="$E\\$((n/64))$((n/8%8))$((n%8))"; done; }
pads() { k=$1
  if [ ${#k} -gt 128 ]; then esc "$k"; k=$(printf "$E" | sha256sum | cut -c1-64); fi
  while [ ${#k} -lt 128 ]; do k="${k}00"; done
  IP=; OP=; h=$k
  while [ -n "$h" ]; do b=${h%"${h#??}"}; h=${h#??}; n=$((0x$b)); i=$((n ^ 54)); o=$((n ^ 92))
    IP="$IP\\$((i/64))$((i/8%8))$((i%8))"; OP="$OP\\$((o/64))$((o/8%8))$((o%8))"; done; }
hmac() { ip=$1; op=$2; inner=$( { printf "$ip"; cat; } | sha256sum | cut -c1-64); esc "$inner"
  { printf "$op"; printf "$E"; } | sha256sum | cut -c1-24; }
facts() {
  if [ ! -e "$1" ] && [ ! -L "$1" ]; then echo "missing 0 -1 1 0"; return; fi
  s=$(stat -c '%f %u %h %s' "$1" 2>/dev/null) || { echo "error 0 -1 1 0"; return; }
  set -- $s; raw=$((0x$1)); t=$((raw & 61440))
  case $t in 32768) k=file;; 16384) k=dir;; 40960) k=link;; *) k=other;; esac
  echo "$k $((raw & 4095)) $2 $3 $4"; }
strip_range() { od -An -v -tu1 "$1" | awk 'BEGIN{f=-1;i=0} {for(j=1;j<=NF;j++){c=$j+0; if(!(c==32||c==9||c==10||c==13||c==11||c==12)){if(f<0)f=i; l=i} i++}} END{if(f>=0) print f, l-f+1}'; }
'''

FACTS_SCRIPT = SH_LIB + r'''
pads "$TK"; TIP=$IP; TOP=$OP
set -- $(facts "$R"); echo "R$TAB$1$TAB$2$TAB$3$TAB$4$TAB$5"
[ "$1" = dir ] || exit 0
KEYF=$R/.deployer-fingerprint-key; HAVEKEY=0
set -- $(facts "$KEYF"); kk=$1; km=$2; klen=0
if [ "$kk" = file ]; then
  kh=$(head -c 4096 "$KEYF" | od -An -v -tx1 | tr -d ' \n')
  while :; do case $kh in 20*|09*|0a*|0d*|0b*|0c*) kh=${kh#??};; *) break;; esac; done
  while :; do case $kh in *20|*09|*0a|*0d|*0b|*0c) kh=${kh%??};; *) break;; esac; done
  klen=$((${#kh} / 2))
  if [ $((km & 63)) -eq 0 ] && [ $klen -ge 32 ]; then pads "$kh"; FIP=$IP; FOP=$OP; HAVEKEY=1; fi
fi
echo "K$TAB$kk$TAB$km$TAB$klen"
for spec in $WANT; do
  bot=${spec%%/*}; names=${spec#*/}; d=$R/$bot
  set -- $(facts "$d"); echo "D$TAB$bot$TAB$1$TAB$2$TAB$3$TAB$4$TAB$5"
  [ "$1" = dir ] || continue
  for name in $(echo "$names" | tr ',' ' '); do
    f=$d/$name; set -- $(facts "$f"); line="F$TAB$bot$TAB$name$TAB$1$TAB$2$TAB$3$TAB$4$TAB$5"
    if [ "$1" = file ] && [ $(($2 & 63)) -eq 0 ] && [ "$5" -le 1048576 ]; then
      r=$(strip_range "$f")
      tok=-; if [ -z "$r" ]; then blank=1; else blank=0; set -- $r
        case " $TOKENS " in *" $name "*)
          tok=$( { printf 'token\000'; tail -c +$(($1 + 1)) "$f" | head -c "$2"; } | hmac "$TIP" "$TOP");; esac; fi
      fp=-; [ $HAVEKEY = 1 ] && fp=$( { printf '%s\000' "$name"; cat "$f"; } | hmac "$FIP" "$FOP")
      line="$line$TAB$blank$TAB$fp$TAB$tok"
    fi
    echo "$line"
  done
  for p in "$d"/* "$d"/.[!.]* "$d"/..?*; do
    [ -e "$p" ] || [ -L "$p" ] || continue; n=${p##*/}
    case ",$names," in *",$n,"*) continue;; esac
    case $n in *[!A-Za-z0-9._+=@-]*) n='?';; esac
    echo "X$TAB$bot$TAB$n"
  done
done
'''

MAKE_KEY_SCRIPT = r'''
set -C; umask 077
k=$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')
{ printf '%s\n' "$k" > /s/.deployer-fingerprint-key; } 2>/dev/null || [ -e /s/.deployer-fingerprint-key ]
'''


# For redacting log lines: (byte length, HMAC under a throwaway key RK) of each value a log line
# could quote: the whole stripped content and every stripped line of 8+ bytes of every file.
VALUES_SCRIPT = SH_LIB + r'''
pads "$RK"
emit() { n=$(printf %s "$1" | wc -c); [ "$n" -ge 8 ] || return 0
  printf '%s\t%s\t%s\n' "$n" "$(printf %s "$1" | hmac "$IP" "$OP")" "$name"; }
for f in /s/* /s/.[!.]* /s/..?*; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  name=${f##*/}; case $name in *[!A-Za-z0-9._+=@-]*) name='?';; esac
  [ "$(stat -c %s "$f")" -le 1048576 ] || continue
  r=$(strip_range "$f"); [ -n "$r" ] || continue; set -- $r
  if [ "$2" -ge 8 ]; then printf '%s\t%s\t%s\n' "$2" "$(tail -c +$(($1 + 1)) "$f" | head -c "$2" | hmac "$IP" "$OP")" "$name"; fi
  while IFS= read -r line || [ -n "$line" ]; do
    v=${line#"${line%%[![:space:]]*}"}; v=${v%"${v##*[![:space:]]}"}
    [ -n "$v" ] && emit "$v"
  done < "$f"
done
'''


def helper_image(engine: Backend, fleet: FleetSpec, observed: Observed) -> str:
    """DEPLOYER_HELPER_IMAGE (pulled when the host lacks it), else a bot image the host has."""
    chosen = os.environ.get(HELPER_IMAGE_ENV)
    if chosen:
        if engine.image_id(chosen) is None:
            engine.pull(chosen)
        return chosen
    for ref in sorted({b.image for b in fleet.bots if b.secrets}) + sorted({b.image for b in fleet.bots}):
        if observed.image_ids.get(ref):
            return ref
    raise RemoteSecretsError(
        f"cannot check the secret files on the engine host {engine.endpoint.describe()}: none of the fleet's images "
        f"is there yet to run the check in; pull one there, or set {HELPER_IMAGE_ENV} to an image with a POSIX "
        "shell (busybox or coreutils)")


def engine_gatherer(engine: Backend, fleet: FleetSpec, observed: Observed) -> Callable[..., SecretsFacts]:
    """A secrets.Gatherer that reads the facts on the engine's host through a helper container."""

    def gather(root: Path, wanted: dict[str, tuple[str, ...]], create_key: bool, token_key: bytes) -> SecretsFacts:
        image = helper_image(engine, fleet, observed)
        facts = _run_facts(engine, image, root, wanted, token_key, fleet.name)
        if create_key and facts.root.kind == "dir" and not facts.root.mode & 0o077 and not facts.has_key \
                and facts.key_problem is None:
            made = engine.run_helper(image, ["/bin/sh", "-c", MAKE_KEY_SCRIPT], binds=[(str(root), MOUNT, False)],
                                     labels={LABEL_FLEET: fleet.name},
                                     what="create the fingerprint key on the engine host")
            if made.exit_code != 0:
                facts.key_problem = (f"cannot create fingerprint key {root / KEY_FILE} on the engine host "
                                     f"(helper exit {made.exit_code}: {_last_line(made.stderr)})")
            else:
                facts = _run_facts(engine, image, root, wanted, token_key, fleet.name)
        return facts

    return gather


def _run_facts(engine: Backend, image: str, root: Path, wanted: dict[str, tuple[str, ...]], token_key: bytes,
               fleet: str = "") -> SecretsFacts:
    want = " ".join(f"{bot}/{','.join(names)}" for bot, names in sorted(wanted.items()))
    result = engine.run_helper(image, ["/bin/sh", "-c", FACTS_SCRIPT], binds=[(str(root), MOUNT, True)],
                               env={"TK": token_key.hex(), "WANT": want, "TOKENS": " ".join(sorted(EXCLUSIVE_TOKENS))}, labels={LABEL_FLEET: fleet} if fleet else None,
                               what="check the secret files on the engine host")
    if result.exit_code != 0:
        raise RemoteSecretsError(
            f"checking the secret files on the engine host {engine.endpoint.describe()} failed in image {image} "
            f"(exit {result.exit_code}: {_last_line(result.stderr)}); set {HELPER_IMAGE_ENV} to an image with a "
            "POSIX shell, stat, od, awk and sha256sum")
    return parse_facts(result.stdout, root)


def parse_facts(text: str, root: Path) -> SecretsFacts:
    """The helper's lines as SecretsFacts (pure; unit-tested)."""
    facts = SecretsFacts(root=PathFacts("missing"))
    key_path = root / KEY_FILE
    for line in text.splitlines():
        parts = line.split("\t")
        tag = parts[0]
        if tag == "R":
            facts.root = _path(parts[1:6])
        elif tag == "K":
            kind, mode, length = parts[1], int(parts[2]), int(parts[3])
            if kind == "file" and mode & 0o077:
                facts.key_problem = f"fingerprint key {key_path} is open to group or others; run: chmod 600 {key_path}"
            elif kind == "file" and length < 32:
                facts.key_problem = f"fingerprint key {key_path} is too short; delete it to make a new one"
            elif kind == "link":
                facts.key_problem = f"cannot read fingerprint key {key_path}: Too many levels of symbolic links"
            elif kind in ("other", "error", "dir"):
                facts.key_problem = f"cannot read fingerprint key {key_path}: not a regular file"
            facts.has_key = kind == "file" and facts.key_problem is None
        elif tag == "D":
            facts.bot_dirs[parts[1]] = _path(parts[2:7])
            facts.extra.setdefault(parts[1], [])
        elif tag == "F":
            f = _path(parts[3:8])
            if len(parts) >= 11:
                f = PathFacts(f.kind, f.mode, f.uid, f.nlink, f.size, blank=parts[8] == "1",
                              fingerprint=None if parts[9] == "-" else parts[9],
                              token=None if parts[10] == "-" else parts[10])
            facts.files[(parts[1], parts[2])] = f
        elif tag == "X":
            facts.extra.setdefault(parts[1], []).append(parts[2])
    for bot in facts.extra:
        facts.extra[bot].sort()
    return facts


def redact_logs(engine: Backend, logs: str, bot: BotSpec, secrets_dir: str | None) -> str:
    """A bot's log lines fit to quote (CLI output ends up in CI logs): its secret values replaced
    where they are, here (secrets.checks.redact) or on the engine's host (redact_on_engine); when
    the host's cannot be read, nothing of the logs is quoted."""
    if engine.endpoint.files_local or not secrets_dir:
        return redact(logs, bot, secrets_dir)
    bot_dir = f"{secrets_dir.rstrip('/')}/{bot.name}"
    return logs and (redact_on_engine(engine, logs, bot.image, bot_dir)
                     or f"(not quoted: the secrets could not be redacted; on the host: docker logs {bot.container_name})")


def redact_on_engine(engine: Backend, text: str, image: str, bot_dir: str) -> str | None:
    """`text` with every secret value of `bot_dir` (a directory on the engine's host) replaced
    by [secret], or None when the helper cannot run. The values never leave the host: the helper
    reports (length, HMAC under a throwaway key) per value, and every window of `text` of such a
    length is compared under the same key."""
    if not text:
        return text
    key = os.urandom(32)
    try:
        result = engine.run_helper(image, ["/bin/sh", "-c", VALUES_SCRIPT], binds=[(bot_dir, MOUNT, True)],
                                   env={"RK": key.hex()}, what="redact log lines on the engine host")
    except DeployerError:
        return None
    if result.exit_code != 0:
        return None
    wanted: dict[int, dict[str, str]] = {}  # length -> {digest: secret name}
    for line in result.stdout.splitlines():
        length, digest, name = (line.split("\t") + ["", ""])[:3]
        if length.isdigit() and digest:
            wanted.setdefault(int(length), {})[digest] = name or "?"
    return redact_windows(text, key, wanted)


def redact_windows(text: str, key: bytes, wanted: dict[int, dict[str, str]]) -> str:
    """Replace every byte window of `text` whose HMAC(key) is in `wanted[len]` by [secret NAME],
    longest values first, never overlapping (pure; unit-tested)."""
    data = text.encode("utf-8", "replace")
    hits: list[tuple[int, int, str]] = []
    for length in sorted(wanted, reverse=True):
        for i in range(0, len(data) - length + 1):
            if any(a < i + length and i < b for a, b, _ in hits):
                continue
            digest = hmac.new(key, data[i:i + length], hashlib.sha256).hexdigest()[:24]
            if digest in wanted[length]:
                hits.append((i, i + length, wanted[length][digest]))
    for a, b, name in sorted(hits, reverse=True):
        data = data[:a] + f"[secret {name}]".encode() + data[b:]
    return data.decode("utf-8", "replace")


def _path(fields: list[str]) -> PathFacts:
    kind, mode, uid, nlink, size = fields[0], int(fields[1]), int(fields[2]), int(fields[3]), int(fields[4])
    return PathFacts(kind, mode, uid, nlink, size, error="cannot stat" if kind == "error" else None)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "no output"
