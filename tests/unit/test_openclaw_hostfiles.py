"""Host files an OpenClaw bot needs: atomic writes (generated configs, secret files), directories,
`deployer secret set`, the container uid and the hard-link rule of OpenClaw's file provider.
Real files under tmp_path; tests run as root, so ownership can be set and checked."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from deployer.core.model import FleetSpec, container_uid
from deployer.core.vocabulary import MAX_SECRET_BYTES
from deployer.errors import DeployerError, HostFileError
from deployer.flows.secret_set import set_secret
from deployer.runtime.hostfiles import ensure_dir, read_file, write_atomic
from deployer.secrets.checks import check_fleet_secrets
from tests.support.planner_cases import IMAGE, bot

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown files")

KEY = "ANTHROPIC_API_KEY"
TOKEN = "TELEGRAM_BOT_TOKEN"
VALUE = b"sk-ant-CANARY-0fc1a\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def owner(path: Path) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_uid, st.st_gid


@pytest.fixture
def umask077():
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


# --- write_atomic ---------------------------------------------------------------------------------

def test_write_atomic_sets_content_mode_and_owner_whatever_the_umask(tmp_path: Path, umask077: None) -> None:
    target = tmp_path / "openclaw.json"
    write_atomic(target, b'{"a": 1}\n', mode=0o644, uid=1000, gid=1001)
    assert target.read_bytes() == b'{"a": 1}\n'
    assert mode(target) == 0o644 and owner(target) == (1000, 1001)
    assert os.listdir(tmp_path) == ["openclaw.json"]  # no temporary file left


def test_write_atomic_gid_defaults_to_uid(tmp_path: Path) -> None:
    write_atomic(tmp_path / "s", b"x", mode=0o600, uid=1000)
    assert owner(tmp_path / "s") == (1000, 1000) and mode(tmp_path / "s") == 0o600


def test_write_atomic_without_uid_keeps_the_writer_as_owner(tmp_path: Path) -> None:
    write_atomic(tmp_path / "s", b"x")
    assert owner(tmp_path / "s") == (0, 0) and mode(tmp_path / "s") == 0o644


def test_replace_is_a_new_inode_with_one_link(tmp_path: Path) -> None:
    """The gateway's watcher of a mounted directory sees a rename; a hard link made to the old
    file keeps the old content and is never shared with the new one."""
    target, other = tmp_path / "config" / "openclaw.json", tmp_path / "elsewhere"
    target.parent.mkdir()
    target.write_bytes(b"old")
    os.link(target, other)
    before = os.lstat(target)
    assert before.st_nlink == 2
    write_atomic(target, b"new")
    after = os.lstat(target)
    assert after.st_ino != before.st_ino and after.st_nlink == 1
    assert target.read_bytes() == b"new" and other.read_bytes() == b"old"
    assert os.listdir(target.parent) == ["openclaw.json"]


def test_a_symlink_at_the_path_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    link = tmp_path / "openclaw.json"
    link.symlink_to(victim)
    write_atomic(link, b"new")
    assert stat.S_ISREG(os.lstat(link).st_mode) and link.read_bytes() == b"new"
    assert victim.read_bytes() == b"keep"


def test_write_atomic_failures_are_one_line_and_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(HostFileError) as missing:
        write_atomic(tmp_path / "nodir" / "f", b"x")
    assert str(missing.value) == f"cannot write {tmp_path}/nodir/f: No such file or directory"
    (tmp_path / "adir").mkdir()
    with pytest.raises(HostFileError) as isdir:
        write_atomic(tmp_path / "adir", b"x")
    assert str(isdir.value) == f"cannot write {tmp_path}/adir: Is a directory"
    assert sorted(os.listdir(tmp_path)) == ["adir"] and os.listdir(tmp_path / "adir") == []


def test_data_larger_than_one_write(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    write_atomic(tmp_path / "big", data)
    assert (tmp_path / "big").read_bytes() == data


# --- ensure_dir / read_file -----------------------------------------------------------------------

def test_ensure_dir_creates_with_mode_and_owner(tmp_path: Path, umask077: None) -> None:
    d = tmp_path / "state" / "support"
    assert ensure_dir(d, mode=0o750, uid=1000) is True
    assert mode(d) == 0o750 and owner(d) == (1000, 1000)
    assert owner(d.parent) == (0, 0)  # missing parents are root's


def test_ensure_dir_leaves_an_existing_directory_as_it_is(tmp_path: Path) -> None:
    d = tmp_path / "support"
    d.mkdir()
    os.chmod(d, 0o755)
    assert ensure_dir(d, mode=0o700, uid=1000) is False
    assert mode(d) == 0o755 and owner(d) == (0, 0)


@pytest.mark.parametrize("make", ["symlink", "file"])
def test_ensure_dir_refuses_what_is_not_a_directory(tmp_path: Path, make: str) -> None:
    real = tmp_path / "real"
    real.mkdir()
    d = tmp_path / "support"
    if make == "symlink":
        d.symlink_to(real)
    else:
        d.write_text("x")
    with pytest.raises(HostFileError) as err:
        ensure_dir(d)
    assert str(err.value) == f"{d} exists and is not a directory (symlinks are refused)"


def test_read_file(tmp_path: Path) -> None:
    assert read_file(tmp_path / "missing") is None
    (tmp_path / "f").write_bytes(b"abc")
    assert read_file(tmp_path / "f") == b"abc"
    (tmp_path / "l").symlink_to(tmp_path / "f")
    with pytest.raises(HostFileError) as err:
        read_file(tmp_path / "l")
    assert str(err.value) == f"cannot read {tmp_path}/l: Too many levels of symbolic links"


# --- deployer secret set ------------------------------------------------------------------------------

def oc_bot(name: str = "support", **overrides):
    fields = dict(runtime="openclaw", user=None, secrets=(KEY, TOKEN))
    fields.update(overrides)
    return bot(name, **fields)


def test_set_secret_writes_what_the_file_provider_accepts(tmp_path: Path, umask077: None) -> None:
    root = tmp_path / "secrets"
    path, warning = set_secret("support", KEY, VALUE, fleet=None, secrets_dir=str(root), uid=None)
    assert (path, warning) == (f"{root}/support/{KEY}", None)
    f = Path(path)
    assert f.read_bytes() == VALUE
    assert mode(f) == 0o600 and owner(f) == (1000, 1000) and os.lstat(f).st_nlink == 1
    assert mode(root) == 0o700 and owner(root) == (0, 0)
    assert mode(root / "support") == 0o700 and owner(root / "support") == (1000, 1000)
    assert os.listdir(root / "support") == [KEY]


def test_set_secret_passes_the_deployers_own_checks(tmp_path: Path) -> None:
    root = tmp_path / "secrets"
    b = oc_bot()
    for name in b.secrets:
        set_secret("support", name, VALUE, fleet=FleetSpec(bots=(b,)), secrets_dir=str(root), uid=None)
    report = check_fleet_secrets(FleetSpec(bots=(b,)), str(root))
    assert [p.format() for p in report.problems] == []
    assert sorted(report.fingerprints["support"]) == [KEY, TOKEN]


@pytest.mark.parametrize("user, uid, expected", [
    (None, None, 1000),
    ("2000", None, 2000),
    ("2000:3000", None, 2000),
    ("2000", 4242, 4242),  # --uid wins
])
def test_set_secret_owner(tmp_path: Path, user: str | None, uid: int | None, expected: int) -> None:
    b = oc_bot(user=user)
    path, _ = set_secret("support", KEY, VALUE, fleet=FleetSpec(bots=(b,)), secrets_dir=str(tmp_path / "s"), uid=uid)
    assert owner(Path(path)) == (expected, expected)


def test_set_secret_warns_about_an_undeclared_secret(tmp_path: Path) -> None:
    fleet = FleetSpec(bots=(oc_bot(),))
    path, warning = set_secret("support", "OPENAI_API_KEY", VALUE, fleet=fleet, secrets_dir=str(tmp_path), uid=None)
    assert warning == ("bot support does not declare OPENAI_API_KEY in spec.secrets (the file is still mounted at "
                       "/run/secrets)")
    assert Path(path).read_bytes() == VALUE


def test_set_secret_replaces_a_hard_linked_file(tmp_path: Path) -> None:
    path, _ = set_secret("support", KEY, b"old", fleet=None, secrets_dir=str(tmp_path / "s"), uid=None)
    os.link(path, tmp_path / "copy")
    set_secret("support", KEY, VALUE, fleet=None, secrets_dir=str(tmp_path / "s"), uid=None)
    assert os.lstat(path).st_nlink == 1 and Path(path).read_bytes() == VALUE
    assert (tmp_path / "copy").read_bytes() == b"old"


def test_set_secret_uses_the_fleet_or_the_environment_for_the_directory(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEPLOYER_SECRETS_DIR", raising=False)
    fleet = FleetSpec(secrets_dir=str(tmp_path / "from-fleet"), bots=(oc_bot(),))
    assert set_secret("support", KEY, VALUE, fleet=fleet, secrets_dir=None, uid=None)[0] == \
        f"{tmp_path}/from-fleet/support/{KEY}"
    monkeypatch.setenv("DEPLOYER_SECRETS_DIR", str(tmp_path / "from-env"))
    assert set_secret("support", KEY, VALUE, fleet=fleet, secrets_dir=None, uid=None)[0] == \
        f"{tmp_path}/from-env/support/{KEY}"
    assert set_secret("support", KEY, VALUE, fleet=fleet, secrets_dir=str(tmp_path / "flag"), uid=None)[0] == \
        f"{tmp_path}/flag/support/{KEY}"


REFUSALS = [
    pytest.param("Support", KEY, VALUE, "'Support' is not a bot name (lower-case letters, digits and '-')", id="bot-upper"),
    pytest.param("../x", KEY, VALUE, "'../x' is not a bot name (lower-case letters, digits and '-')", id="bot-dots"),
    pytest.param("a_b", KEY, VALUE, "'a_b' is not a bot name (lower-case letters, digits and '-')", id="bot-underscore"),
    pytest.param("-a", KEY, VALUE, "'-a' is not a bot name (lower-case letters, digits and '-')", id="bot-dash-first"),
    pytest.param("", KEY, VALUE, "'' is not a bot name (lower-case letters, digits and '-')", id="bot-empty"),
    pytest.param("support", "api_key", VALUE,
                 "'api_key' is not a secret name (upper case, digits and '_', starting with a letter)", id="name-lower"),
    pytest.param("support", "../KEY", VALUE,
                 "'../KEY' is not a secret name (upper case, digits and '_', starting with a letter)", id="name-dots"),
    pytest.param("support", "A/B", VALUE,
                 "'A/B' is not a secret name (upper case, digits and '_', starting with a letter)", id="name-slash"),
    pytest.param("support", "1KEY", VALUE,
                 "'1KEY' is not a secret name (upper case, digits and '_', starting with a letter)", id="name-digit-first"),
    pytest.param("support", "KEY\n", VALUE,
                 "'KEY\\n' is not a secret name (upper case, digits and '_', starting with a letter)",
                 id="name-trailing-newline"),
    pytest.param("support", KEY, b"", "the value on standard input is empty; nothing was written", id="empty"),
    pytest.param("support", KEY, b" \n\t\n", "the value on standard input is empty; nothing was written",
                 id="whitespace"),
    pytest.param("support", KEY, b"x" * (MAX_SECRET_BYTES + 1),
                 f"the value is larger than {MAX_SECRET_BYTES} bytes; nothing was written", id="too-large"),
]


@pytest.mark.parametrize("bot_name, name, value, message", REFUSALS)
def test_set_secret_refusals(tmp_path: Path, bot_name: str, name: str, value: bytes, message: str) -> None:
    root = tmp_path / "secrets"
    with pytest.raises(DeployerError) as err:
        set_secret(bot_name, name, value, fleet=None, secrets_dir=str(root), uid=None)
    assert str(err.value) == message
    assert not root.exists()  # nothing written, not even a directory


def test_set_secret_refusals_about_the_fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEPLOYER_SECRETS_DIR", raising=False)
    cases = [
        (dict(fleet=FleetSpec(bots=(oc_bot(),)), secrets_dir=str(tmp_path / "s")), "ghost",
         "no manifest declares bot ghost; nothing was written"),
        (dict(fleet=None, secrets_dir=None), "support",
         "no secrets directory: pass -f MANIFESTS (with a Fleet's spec.secretsDir) or --secrets-dir"),
        (dict(fleet=None, secrets_dir="relative/secrets"), "support",
         "secrets directory relative/secrets must be an absolute path"),
    ]
    for kwargs, bot_name, message in cases:
        with pytest.raises(DeployerError) as err:
            set_secret(bot_name, KEY, VALUE, uid=None, **kwargs)
        assert str(err.value) == message
    assert os.listdir(tmp_path) == []


# --- the container's uid and the hard-link rule -------------------------------------------------------

UID_CASES = [
    pytest.param("openclaw", None, None, 1000, id="openclaw-image-unknown"),
    pytest.param("openclaw", None, "node", 1000, id="openclaw-image-user-node"),
    pytest.param("openclaw", None, "1001", 1001, id="openclaw-image-numeric"),
    pytest.param("openclaw", None, "1001:1001", 1001, id="openclaw-image-uid-gid"),
    pytest.param("openclaw", "2000", "node", 2000, id="openclaw-spec-user"),
    # spec.user: node cannot occur: the schema allows numeric uids only (^[0-9]{1,10}(:[0-9]{1,10})?$)
    pytest.param("container", None, "node", None, id="container-image-user-name"),
    pytest.param("container", None, "1001", 1001, id="container-image-numeric"),
    pytest.param("container", None, None, None, id="container-unknown"),
]


@pytest.mark.parametrize("runtime, user, image_user, expected", UID_CASES)
def test_container_uid(runtime: str, user: str | None, image_user: str | None, expected: int | None) -> None:
    b = bot("support", runtime=runtime, user=user)
    assert container_uid(b, {IMAGE: image_user}) == expected


def write_secret(root: Path, name: str, value: bytes = VALUE) -> Path:
    root.mkdir(mode=0o700, exist_ok=True)
    os.chmod(root, 0o700)
    d = root / "support"
    d.mkdir(mode=0o700, exist_ok=True)
    os.chown(d, 1000, 1000)
    f = d / name
    f.write_bytes(value)
    os.chmod(f, 0o600)
    os.chown(f, 1000, 1000)
    return f


@pytest.mark.parametrize("runtime", ["openclaw", "container"])
def test_hard_linked_secret_refused_for_openclaw_bots_only(tmp_path: Path, runtime: str) -> None:
    root = tmp_path / "secrets"
    key = write_secret(root, KEY)
    os.link(key, tmp_path / "backup")
    b = bot("support", runtime=runtime, secrets=(KEY,))
    report = check_fleet_secrets(FleetSpec(bots=(b,)), str(root))
    if runtime == "container":
        assert report.problems == [] and "support" in report.fingerprints
        return
    assert [p.format() for p in report.problems] == [
        f"{key}: bot support: secret {KEY} file {key} has 2 hard links, and OpenClaw refuses a hard-linked secret "
        f"file; give it its own copy: deployer secret set support {KEY} -f PATHS --secrets-dir {root} < {key}"
    ]
    assert "support" not in report.fingerprints
    # the fix the message gives works
    set_secret("support", KEY, key.read_bytes(), fleet=None, secrets_dir=str(root), uid=None)
    assert check_fleet_secrets(FleetSpec(bots=(b,)), str(root)).problems == []
