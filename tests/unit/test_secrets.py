"""Secret-file checks and keyed fingerprints, on real files under tmp_path (tests run as root, so
ownership and modes can be set freely). No Docker."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from deployer.core.model import FleetSpec, fingerprint_label, parse_fingerprint_label, parse_uid
from deployer.core.problems import ERROR, WARNING
from deployer.secrets.checks import KEY_FILE, SecretsReport, check_fleet_secrets, fingerprint
from tests.support.planner_cases import IMAGE, bot

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown secret files")

UID = 1000
CANARY = "CANARY-5ec7e7-value-must-never-leak"
TOKEN = "TELEGRAM_BOT_TOKEN"
KEY = "ANTHROPIC_API_KEY"


def support(**overrides):
    return bot("support", **overrides)


def fleet(*bots) -> FleetSpec:
    return FleetSpec(name="demo", bots=tuple(bots))


def write_secrets(root: Path, bot_name: str, values: dict[str, str], uid: int = UID) -> Path:
    """A correct bot secrets directory: 0700 dir and 0600 files owned by the container's uid."""
    root.mkdir(mode=0o700, exist_ok=True)
    os.chmod(root, 0o700)
    d = root / bot_name
    d.mkdir(mode=0o700, exist_ok=True)
    os.chmod(d, 0o700)
    os.chown(d, uid, uid)
    for name, value in values.items():
        f = d / name
        f.write_text(value)
        os.chmod(f, 0o600)
        os.chown(f, uid, uid)
    return d


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "secrets"
    r.mkdir(mode=0o700)
    os.chmod(r, 0o700)
    return r


@pytest.fixture
def good(root: Path) -> Path:
    """Bot `support` (user 1000) with both secrets in place; returns its directory."""
    return write_secrets(root, "support", {KEY: "sk-ant-" + CANARY, TOKEN: "123:" + CANARY + "\n"})


def messages(report: SecretsReport, severity: str | None = ERROR) -> list[str]:
    return [p.message for p in report.problems if severity is None or p.severity == severity]


def only_error(report: SecretsReport) -> str:
    errs = messages(report)
    assert len(errs) == 1, report.problems
    return errs[0]


def check(root: Path | str | None, *bots, **kw) -> SecretsReport:
    return check_fleet_secrets(fleet(*(bots or (support(),))), str(root) if root is not None else None, **kw)


# --- the happy path -----------------------------------------------------------------------------

def test_valid_tree_passes_and_fingerprints(root: Path, good: Path) -> None:
    report = check(root)
    assert report.problems == []
    assert set(report.fingerprints) == {"support"}
    assert set(report.fingerprints["support"]) == {KEY, TOKEN}


def test_bots_without_secrets_need_nothing() -> None:
    report = check(None, support(secrets=()))
    assert report.problems == [] and report.fingerprints == {}


# --- the secrets directory ----------------------------------------------------------------------

def test_no_secrets_dir(tmp_path: Path) -> None:
    report = check(None, support(), bot("ops"), bot("news", secrets=()))
    assert [p.message for p in report.problems] == [
        f"bot {name}: declares secrets but no secrets directory is set; set spec.secretsDir in the Fleet, "
        "or pass --secrets-dir / DEPLOYER_SECRETS_DIR"
        for name in ("support", "ops")
    ]
    assert [p.file for p in report.problems] == ["bots/support.yaml", "bots/ops.yaml"]


def test_secrets_dir_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert only_error(check(missing)) == (
        f"fleet: secrets directory {missing} does not exist; create it: mkdir -m 700 {missing}"
    )


def test_secrets_dir_relative() -> None:
    assert "must be an absolute path" in only_error(check("relative/secrets"))


def test_secrets_dir_symlink(root: Path, good: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(root)
    msg = only_error(check(link))
    assert f"secrets directory {link} is a symlink; use the real directory (symlinks are refused)" in msg


def test_secrets_dir_not_a_directory(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    assert only_error(check(f)) == f"fleet: secrets directory {f} is not a directory"


def test_secrets_dir_mode_0755(root: Path, good: Path) -> None:
    os.chmod(root, 0o755)
    report = check(root)
    assert only_error(report) == (
        f"fleet: secrets directory {root} is open to group or others (mode 0755); run: chmod 700 {root}"
    )
    assert not (root / KEY_FILE).exists()  # nothing is written into an unsafe directory


# --- the bot's directory ------------------------------------------------------------------------

SET = 'printf %s "$VALUE" | deployer secret set'  # the hints name the command that writes a secret right


def test_bot_dir_missing_includes_the_fix(root: Path) -> None:
    # issue 24: "mkdir -m 700 … && chown 1000 …" left every file to write by hand (as root: the wrong owner)
    d = root / "support"
    assert only_error(check(root)) == (
        f"bot support: bot secrets directory {d} does not exist; write each of the bot's secrets "
        f"({KEY}, {TOKEN}) with: {SET} support NAME -f PATHS --secrets-dir {root}, which creates it"
    )


def test_bot_dir_missing_root_user_has_no_chown(root: Path) -> None:
    d = root / "support"
    msg = only_error(check(root, support(user=None)))
    assert msg.startswith(f"bot support: bot secrets directory {d} does not exist; ")
    assert msg.endswith(f"{SET} support NAME -f PATHS --secrets-dir {root}, which creates it")


def test_the_hint_names_one_secret_and_only_the_options_that_differ(root: Path) -> None:
    """--secrets-dir only when the Fleet's spec.secretsDir is not the directory checked; --uid only
    when the container's uid is not what `secret set` would choose (spec.user, else 1000)."""
    one = support(secrets=(TOKEN,))
    assert only_error(check_fleet_secrets(FleetSpec(name="demo", secrets_dir=str(root), bots=(one,)), str(root))) == (
        f"bot support: bot secrets directory {root / 'support'} does not exist; write the bot's secret {TOKEN} "
        f"with: {SET} support {TOKEN} -f PATHS, which creates it"
    )
    from_image = support(secrets=(TOKEN,), user=None, runtime="container")
    msg = only_error(check(root, from_image, image_users={IMAGE: "2000"}))
    assert msg.endswith(f"{SET} support {TOKEN} -f PATHS --secrets-dir {root} --uid 2000, which creates it")


def test_bot_dir_symlink(root: Path, tmp_path: Path) -> None:
    real = write_secrets(tmp_path / "elsewhere", "support", {KEY: "k", TOKEN: "t"})
    (root / "support").symlink_to(real)
    assert "is a symlink; use the real directory" in only_error(check(root))


def test_bot_dir_group_readable(root: Path, good: Path) -> None:
    os.chmod(good, 0o750)
    assert only_error(check(root)) == (
        f"bot support: bot secrets directory {good} is open to group or others (mode 0750); run: chmod 700 {good}"
    )


def test_bot_dir_owned_by_another_uid(root: Path, good: Path) -> None:
    os.chown(good, 0, 0)
    assert only_error(check(root)) == (
        f"bot support: bot secrets directory {good} is owned by uid 0, but the container runs as uid 1000 and "
        f"cannot enter it; run: chown 1000 {good}"
    )


def test_bot_dir_open_and_owned_by_another_uid_gets_one_fix(root: Path, good: Path) -> None:
    """issue 24: not "chmod 700" now and "chown 1000" on the next run."""
    os.chmod(good, 0o755)
    os.chown(good, 0, 0)
    assert only_error(check(root)) == (
        f"bot support: bot secrets directory {good} is open to group or others (mode 0755) and owned by uid 0, "
        f"but the container runs as uid 1000; run: chmod 700 {good} && chown 1000 {good}"
    )


def test_bot_dir_not_a_directory(root: Path) -> None:
    (root / "support").write_text("x")
    assert "is not a directory" in only_error(check(root))


# --- the secret files ---------------------------------------------------------------------------

def test_secret_file_missing(root: Path, good: Path) -> None:
    (good / TOKEN).unlink()
    report = check(root)
    assert only_error(report) == (
        f"bot support: secret {TOKEN} file {good / TOKEN} does not exist; write it with: "
        f"{SET} support {TOKEN} -f PATHS --secrets-dir {root}"
    )
    assert "support" not in report.fingerprints  # only bots whose secrets all passed


@pytest.mark.parametrize("target", ["sibling", "/etc/passwd"])
def test_secret_file_symlink(root: Path, good: Path, target: str) -> None:
    (good / TOKEN).unlink()
    if target == "sibling":
        real = good / "real-token"
        real.write_text("x")
        os.chmod(real, 0o600)
        os.chown(real, UID, UID)
        (good / TOKEN).symlink_to(real)
    else:
        (good / TOKEN).symlink_to(target)
    report = check(root)
    assert only_error(report) == (
        f"bot support: secret {TOKEN} {good / TOKEN} is a symlink; secrets must be regular files inside the bot's "
        "directory"
    )
    assert "root:" not in str(report.problems)  # /etc/passwd was never read


def test_secret_file_is_a_directory(root: Path, good: Path) -> None:
    (good / TOKEN).unlink()
    (good / TOKEN).mkdir()
    assert only_error(check(root)) == f"bot support: secret {TOKEN} {good / TOKEN} is not a regular file"


def test_secret_file_mode_0644(root: Path, good: Path) -> None:
    os.chmod(good / TOKEN, 0o644)
    assert only_error(check(root)) == (
        f"bot support: secret {TOKEN} file {good / TOKEN} is open to group or others (mode 0644); "
        f"run: chmod 600 {good / TOKEN}"
    )


@pytest.mark.parametrize("content", ["", "  \n\t\n"], ids=["empty", "whitespace-only"])
def test_secret_file_empty(root: Path, good: Path, content: str) -> None:
    (good / TOKEN).write_text(content)
    assert only_error(check(root)) == (
        f"bot support: secret {TOKEN} file {good / TOKEN} is empty or only whitespace; write the value with: "
        f"{SET} support {TOKEN} -f PATHS --secrets-dir {root}"
    )


def test_secret_file_owned_by_root_when_user_is_1000(root: Path, good: Path) -> None:
    os.chown(good / TOKEN, 0, 0)
    msg = only_error(check(root))
    assert msg == (
        f"bot support: secret {TOKEN} file {good / TOKEN} is owned by uid 0 with mode 0600, so the container "
        f"(uid 1000) cannot read it; run: chown 1000 {good / TOKEN}"
    )
    assert "chown 1000" in msg


def test_user_with_group_is_parsed(root: Path, good: Path) -> None:
    os.chown(good / TOKEN, 0, 0)
    assert "chown 1000" in only_error(check(root, support(user="1000:1000")))


def test_image_user_used_when_bot_user_is_none(root: Path, good: Path) -> None:
    os.chown(good / TOKEN, 0, 0)
    b = support(user=None)
    assert check(root, b).problems == []  # unknown user: no ownership check
    msg = only_error(check(root, b, image_users={IMAGE: "1000"}))
    assert "chown 1000" in msg
    assert check(root, b, image_users={IMAGE: "node"}).problems == []  # a name, not a uid: cannot check
    assert check(root, b, image_users={"other:image": "1000"}).problems == []


def test_bot_user_overrides_image_user(root: Path, good: Path) -> None:
    assert check(root, support(user="1000"), image_users={IMAGE: "2000"}).problems == []


def test_root_user_skips_ownership(root: Path) -> None:
    write_secrets(root, "support", {KEY: "k", TOKEN: "t"}, uid=1234)
    assert check(root, support(user="0")).problems == []


def test_undeclared_extra_file_is_a_warning(root: Path, good: Path) -> None:
    (good / "OLD_TOKEN").write_text(CANARY)
    report = check(root)
    assert report.errors == []
    assert [(p.severity, p.message) for p in report.problems] == [(
        WARNING,
        f"bot support: secret OLD_TOKEN is in the bot's secrets directory but no manifest declares it "
        "(it is still mounted at /run/secrets)",
    )]
    assert "support" in report.fingerprints


def test_all_problems_in_one_pass(root: Path) -> None:
    d = write_secrets(root, "support", {KEY: "k"})
    os.chmod(d, 0o755)
    write_secrets(root, "ops", {KEY: "k", TOKEN: ""})
    report = check(root, support(), bot("ops"), bot("news"))
    bots_named = sorted(m.split(":")[0] for m in messages(report))
    assert bots_named == ["bot news", "bot ops", "bot support"]


# --- exclusive tokens ---------------------------------------------------------------------------

def test_shared_telegram_token_is_an_error_naming_both_bots(root: Path) -> None:
    write_secrets(root, "alpha", {TOKEN: "123:" + CANARY})
    write_secrets(root, "beta", {TOKEN: "123:" + CANARY + "\n"})  # differs only by the newline
    report = check(root, bot("alpha", secrets=(TOKEN,)), bot("beta", secrets=(TOKEN,)))
    msg = only_error(report)
    assert msg.startswith(f"bot beta: secret {TOKEN} has the same value as bot alpha's {TOKEN}")
    assert "getUpdates 409 Conflict" in msg and "give each bot its own token" in msg
    assert CANARY not in msg


def test_shared_token_found_without_a_key(root: Path) -> None:
    write_secrets(root, "alpha", {TOKEN: "same"})
    write_secrets(root, "beta", {TOKEN: "same"})
    report = check(root, bot("alpha", secrets=(TOKEN,)), bot("beta", secrets=(TOKEN,)), create_key=False)
    assert "has the same value as bot alpha's" in only_error(report)
    assert not (root / KEY_FILE).exists()


def test_different_tokens_are_fine(root: Path) -> None:
    write_secrets(root, "alpha", {TOKEN: "111:aaa", KEY: "shared"})
    write_secrets(root, "beta", {TOKEN: "222:bbb", KEY: "shared"})  # API keys may be shared
    report = check(root, bot("alpha"), bot("beta"))
    assert report.problems == []
    assert report.fingerprints["alpha"][TOKEN] != report.fingerprints["beta"][TOKEN]


# --- fingerprints and the key -------------------------------------------------------------------

def test_key_file_created_0600_and_reused(root: Path, good: Path) -> None:
    key_file = root / KEY_FILE
    assert not key_file.exists()
    first = check(root)
    st = os.lstat(key_file)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    key = key_file.read_bytes()
    assert len(key.strip()) >= 32
    second = check(root)
    assert key_file.read_bytes() == key
    assert first.fingerprints == second.fingerprints
    assert "support" in second.fingerprints


def test_no_key_no_fingerprints_when_not_creating(root: Path, good: Path) -> None:
    report = check(root, create_key=False)
    assert report.problems == []
    assert report.fingerprints == {}
    assert not (root / KEY_FILE).exists()


def test_key_file_open_to_others_is_refused(root: Path, good: Path) -> None:
    check(root)
    os.chmod(root / KEY_FILE, 0o644)
    report = check(root)
    assert f"fingerprint key {root / KEY_FILE} is open to group or others" in only_error(report)
    assert report.fingerprints == {}


def test_key_file_too_short(root: Path, good: Path) -> None:
    (root / KEY_FILE).write_text("short\n")
    os.chmod(root / KEY_FILE, 0o600)
    assert "is too short; delete it to make a new one" in only_error(check(root))


def test_fingerprint_follows_content(root: Path, good: Path) -> None:
    before = check(root).fingerprints["support"]
    (good / TOKEN).write_text("456:rotated")
    after = check(root).fingerprints["support"]
    assert after[TOKEN] != before[TOKEN]
    assert after[KEY] == before[KEY]


def test_fingerprint_is_keyed() -> None:
    a = fingerprint(b"k" * 32, TOKEN, b"value")
    assert a == fingerprint(b"k" * 32, TOKEN, b"value")
    assert a != fingerprint(b"j" * 32, TOKEN, b"value")  # another key, another fingerprint
    assert a != fingerprint(b"k" * 32, KEY, b"value")  # bound to the secret's name
    assert a != fingerprint(b"k" * 32, TOKEN, b"value2")
    assert len(a) == 24 and int(a, 16) >= 0


def test_fingerprint_differs_between_fleets_with_different_keys(tmp_path: Path) -> None:
    prints = []
    for n in ("one", "two"):
        r = tmp_path / n
        write_secrets(r, "support", {KEY: "same", TOKEN: "same-token"})
        prints.append(check(r).fingerprints["support"][TOKEN])
    assert prints[0] != prints[1]


def test_fingerprint_label_round_trip() -> None:
    prints = {TOKEN: "abc", KEY: "def"}
    label = fingerprint_label(prints)
    assert label == f"v1;{KEY}=def,{TOKEN}=abc"
    assert parse_fingerprint_label(label) == prints
    assert parse_fingerprint_label(None) is None
    assert parse_fingerprint_label("v0;X=1") is None
    assert parse_fingerprint_label("v1;") == {}


def test_parse_uid() -> None:
    assert parse_uid("1000") == 1000
    assert parse_uid("1000:1000") == 1000
    assert parse_uid("node") is None
    assert parse_uid(None) is None
    assert parse_uid("") is None


# --- the canary ---------------------------------------------------------------------------------

def test_canary_never_leaks(root: Path) -> None:
    """Whatever goes wrong, a secret value never appears in a message, a fingerprint or a label."""
    values = {KEY: CANARY, TOKEN: CANARY + "\n"}
    write_secrets(root, "alpha", values)
    write_secrets(root, "beta", values)  # shared token: conflict error
    d = write_secrets(root, "gamma", values)
    os.chmod(d / TOKEN, 0o644)  # mode error
    d = write_secrets(root, "delta", values)
    os.chown(d / KEY, 0, 0)  # owner error
    (d / "STALE_TOKEN").write_text(CANARY)  # extra file warning
    d = write_secrets(root, "epsilon", {KEY: CANARY})
    (d / TOKEN).symlink_to(d / KEY)  # symlink error
    bots = [bot(n) for n in ("alpha", "beta", "gamma", "delta", "epsilon")]
    report = check(root, *bots)
    assert len(report.errors) >= 5
    everything = "\n".join(
        [p.format() for p in report.problems]
        + [repr(p) for p in report.problems]
        + [fingerprint_label(prints) for prints in report.fingerprints.values()]
        + [repr(report.fingerprints)]
    )
    assert CANARY not in everything
    assert CANARY.lower() not in everything.lower()
    assert "alpha" in report.fingerprints
    label = fingerprint_label(report.fingerprints["alpha"])
    assert CANARY not in label and parse_fingerprint_label(label) == report.fingerprints["alpha"]


# --- redaction of quoted log lines ----------------------------------------------------------------

def test_redact_replaces_secret_values_in_log_text(root: Path, good: Path) -> None:
    from deployer.secrets.checks import redact

    (good / "EXTRA_MOUNTED").write_text("line-one-value\nline-two-" + "x" * 8 + "\n")  # mounted, so redacted too
    log = f"GET https://api.telegram.org/bot123:{CANARY}/getUpdates 401; key=sk-ant-{CANARY}; line-one-value"
    out = redact(log, support(), str(root))
    assert CANARY not in out
    assert f"[secret {TOKEN}]" in out and f"[secret {KEY}]" in out and "[secret EXTRA_MOUNTED]" in out
    assert redact(log, support(), None) == log
    assert redact("", support(), str(root)) == ""


def test_redact_does_not_follow_symlinks(root: Path, good: Path) -> None:
    from deployer.secrets.checks import redact

    (good / TOKEN).unlink()
    (good / TOKEN).symlink_to("/etc/hostname")
    text = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else "no-hostname"
    assert redact(text, support(), str(root)) == text


def _every_kind_of_bad_file(root: Path) -> FleetSpec:
    names = ["OK_KEY", "MISSING_KEY", "LINK_KEY", "DIR_KEY", "OPEN_KEY", "EMPTY_KEY", "OWNER_KEY", "BIG_KEY", "FIFO_KEY"]
    d = write_secrets(root, "support", {"OK_KEY": "v", "OPEN_KEY": "v", "EMPTY_KEY": " \n", "OWNER_KEY": "v",
                                        "BIG_KEY": "x" * (1024 * 1024 + 1), "EXTRA_FILE": "v"})
    (d / "LINK_KEY").symlink_to(d / "OK_KEY")
    (d / "DIR_KEY").mkdir()
    os.chmod(d / "OPEN_KEY", 0o644)
    os.chown(d / "OWNER_KEY", 0, 0)
    os.mkfifo(d / "FIFO_KEY", 0o600)
    return fleet(support(secrets=tuple(names), user=str(UID)))


def test_listing_and_path_lookups_give_the_same_problems(root, monkeypatch):
    """Files are checked through one listing of the bot's directory and opened relative to it;
    where the directory cannot be listed they are looked up by path. Same messages either way."""
    import deployer.secrets.checks as S

    the_fleet = _every_kind_of_bad_file(root)
    by_listing = check_fleet_secrets(the_fleet, str(root), create_key=False)
    monkeypatch.setattr(S, "_list_dir", lambda bot_dir: None)
    by_path = check_fleet_secrets(the_fleet, str(root), create_key=False)
    assert by_listing.problems == by_path.problems
    messages = [p.message for p in by_listing.problems]
    assert len(messages) == 9, messages  # 8 bad declared files and the undeclared one
    assert any("FIFO_KEY is not a regular file" in m for m in messages)
    assert any("EXTRA_FILE is in the bot's secrets directory" in m for m in messages)


def test_each_secret_is_read_by_one_open_fstat_read(root, monkeypatch):
    """No file is resolved by path more than once: one listing per bot directory, then per
    secret an open relative to it, an fstat and a read (no lstat, stat or realpath)."""
    import deployer.secrets.checks as S

    write_secrets(root, "support", {KEY: "v1", TOKEN: "v2"})
    calls: list[str] = []
    for fn in ("lstat", "stat", "open", "fstat", "read"):
        real = getattr(os, fn)
        monkeypatch.setattr(S.os, fn, lambda *a, _real=real, _fn=fn, **k: calls.append(_fn) or _real(*a, **k))
    monkeypatch.setattr(S.os.path, "realpath", lambda *a, **k: calls.append("realpath") or os.path.realpath(*a, **k))
    report = check_fleet_secrets(fleet(support(secrets=(KEY, TOKEN), user=str(UID))), str(root), create_key=False)
    assert report.problems == []
    # the secrets dir and the bot dir: one lstat each (_check_dir); the bot dir opened once
    assert calls.count("lstat") == 2 and calls.count("stat") == 0 and calls.count("realpath") == 0
    assert calls.count("open") == 1 + 2 + 1  # bot dir, two secrets, the (absent) fingerprint key
    assert calls.count("fstat") == 2 and calls.count("read") == 2
