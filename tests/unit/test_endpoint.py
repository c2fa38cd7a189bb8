"""Engine resolution as the docker CLI does it: flags, DOCKER_HOST, DOCKER_CONTEXT, the config's
currentContext and the context store, on config dirs made in tmp_path. No Docker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployer.backends.endpoint import DEFAULT_HOST, context_id, is_this_machine, resolve
from deployer.backends.sshconn import SSHTarget, explain_ssh
from deployer.errors import EndpointError
from deployer.runtime.remote_secrets import parse_facts, redact_windows


def store(cfg: Path, name: str, host: str, *, tls: bool = False, skip: bool = False) -> Path:
    meta = cfg / "contexts" / "meta" / context_id(name)
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps(
        {"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip}}}))
    if tls:
        t = cfg / "contexts" / "tls" / context_id(name) / "docker"
        t.mkdir(parents=True)
        for f in ("ca.pem", "cert.pem", "key.pem"):
            (t / f).write_text("x")
    return meta


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    d = tmp_path / "docker-config"
    d.mkdir()
    store(d, "prod", "ssh://deploy@prod.example:2222")
    store(d, "tls", "tcp://10.1.2.3:2376", tls=True)
    return d


def env(cfg: Path, **kw: str) -> dict[str, str]:
    return {"DOCKER_CONFIG": str(cfg), "HOME": "/nonexistent", **kw}


@pytest.mark.parametrize("kw, flags, host, context, source", [
    ({}, {}, DEFAULT_HOST, None, "default"),
    ({"DOCKER_HOST": "tcp://1.2.3.4:2375"}, {}, "tcp://1.2.3.4:2375", None, "DOCKER_HOST"),
    ({"DOCKER_CONTEXT": "prod"}, {}, "ssh://deploy@prod.example:2222", "prod", "DOCKER_CONTEXT"),
    # DOCKER_HOST wins over DOCKER_CONTEXT (and over currentContext)
    ({"DOCKER_HOST": "unix:///tmp/x.sock", "DOCKER_CONTEXT": "prod"}, {}, "unix:///tmp/x.sock", None, "DOCKER_HOST"),
    # --context wins over DOCKER_HOST; --host wins over everything
    ({"DOCKER_HOST": "unix:///tmp/x.sock"}, {"context": "prod"}, "ssh://deploy@prod.example:2222", "prod", "--context"),
    ({"DOCKER_CONTEXT": "prod"}, {"host": "ssh://me@h"}, "ssh://me@h", None, "--host"),
    ({"DOCKER_CONTEXT": "default"}, {}, DEFAULT_HOST, None, "DOCKER_CONTEXT"),
    ({"DOCKER_HOST": "tcp://5.6.7.8:2375"}, {"context": "default"}, "tcp://5.6.7.8:2375", None, "--context"),
])
def test_precedence(cfg, kw, flags, host, context, source):
    ep = resolve(env(cfg, **kw), **flags)
    assert (ep.host, ep.context, ep.source) == (host, context, source)


def test_current_context_from_config_json(cfg):
    (cfg / "config.json").write_text(json.dumps({"currentContext": "prod", "auths": {}}))
    ep = resolve(env(cfg))
    assert ep.host == "ssh://deploy@prod.example:2222" and ep.context == "prod"
    assert ep.source.startswith("currentContext in ")
    assert ep.describe() == "ssh://deploy@prod.example:2222 (context prod)"
    assert resolve(env(cfg, DOCKER_HOST="unix:///x.sock")).host == "unix:///x.sock"
    assert resolve(env(cfg, DOCKER_CONTEXT="tls")).context == "tls"


def test_context_tls_material_from_the_store(cfg):
    ep = resolve(env(cfg), context="tls")
    assert ep.tls is not None and ep.tls.verify
    assert ep.tls.ca.endswith(f"contexts/tls/{context_id('tls')}/docker/ca.pem")
    assert ep.tls.cert.endswith("cert.pem") and ep.tls.key.endswith("key.pem")
    assert not ep.files_local  # another host


def test_both_flags_unknown_context_and_bad_hosts_are_one_line(cfg):
    with pytest.raises(EndpointError, match="either --host or --context"):
        resolve(env(cfg), host="unix:///x", context="prod")
    with pytest.raises(EndpointError, match=r"docker context 'nope' \(from DOCKER_CONTEXT\) not found"):
        resolve(env(cfg, DOCKER_CONTEXT="nope"))
    (cfg / "config.json").write_text("{not json")
    with pytest.raises(EndpointError, match="cannot read the docker CLI config"):
        resolve(env(cfg))
    for bad in ("ftp://x", "ssh://", "ssh://u@h/path", "ssh://u@h:99999x"):
        with pytest.raises(EndpointError) as err:
            resolve(env(cfg, DOCKER_HOST=bad))
        assert "\n" not in str(err.value)


def test_docker_tls_verify_reads_cert_path_like_the_cli(tmp_path, cfg):
    certs = tmp_path / "certs"
    certs.mkdir()
    with pytest.raises(EndpointError, match="ca.pem is missing"):
        resolve(env(cfg, DOCKER_HOST="tcp://h:2376", DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(certs)))
    for f in ("ca.pem", "cert.pem", "key.pem"):
        (certs / f).write_text("x")
    ep = resolve(env(cfg, DOCKER_HOST="tcp://h:2376", DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(certs)))
    assert ep.tls and ep.tls.verify and ep.tls.ca == str(certs / "ca.pem") and ep.tls.key == str(certs / "key.pem")
    assert "TLS, verified" in ep.describe()
    # without DOCKER_CERT_PATH the CLI looks in the config dir
    for f in ("ca.pem", "cert.pem", "key.pem"):
        (cfg / f).write_text("x")
    assert resolve(env(cfg, DOCKER_HOST="tcp://h:2376", DOCKER_TLS_VERIFY="1")).tls.ca == str(cfg / "ca.pem")
    assert resolve(env(cfg, DOCKER_HOST="tcp://h:2375")).tls is None


@pytest.mark.parametrize("host, local", [
    ("unix:///var/run/docker.sock", True), ("tcp://127.0.0.1:2376", True), ("tcp://localhost:2375", True),
    ("tcp://10.0.0.5:2376", False), ("ssh://me@127.0.0.1", False), ("ssh://me@prod", False),
])
def test_files_local(cfg, host, local):
    assert is_this_machine(host) is local
    assert resolve(env(cfg, DOCKER_HOST=host)).files_local is local
    assert resolve(env(cfg, DOCKER_HOST=host, DEPLOYER_SECRETS_CHECK="engine")).files_local is False
    assert resolve(env(cfg, DOCKER_HOST=host, DEPLOYER_SECRETS_CHECK="local")).files_local is True


@pytest.mark.parametrize("stderr, expected", [
    ("No ED25519 host key is known for [h]:2222 and you have requested strict checking.\r\nHost key verification failed.\r\n",
     "host key verification failed"),
    ("@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n...\nHost key verification failed.\n",
     "does not match the one in known_hosts"),
    ("deploy@h: Permission denied (publickey).\n", "refused our key"),
    ("ssh: connect to host h port 2222: Connection refused\n", "connection refused"),
    ("ssh: connect to host h port 22: No route to host\n", "no route to host"),
    ("ssh: Could not resolve hostname h: Name or service not known\n", "cannot resolve the host name"),
    ("sh: 1: docker: not found\n", "docker CLI is not installed there"),
])
def test_ssh_errors_are_one_line_naming_the_host(stderr, expected):
    msg = explain_ssh(SSHTarget("deploy", "h", 2222), stderr, 255)
    assert msg.startswith("ssh to deploy@h:2222: ") and expected in msg and "\n" not in msg


def test_ssh_argv_never_weakens_host_key_checking():
    argv = SSHTarget.parse("ssh://deploy@h:2222").argv()
    assert "BatchMode=yes" in argv and not any("StrictHostKeyChecking" in a for a in argv)
    assert argv[-4:] == ["h", "docker", "system", "dial-stdio"] and ["-p", "2222"] == argv[argv.index("-p"):][:2]


def test_parse_helper_facts():
    root = Path("/srv/secrets")
    text = "\n".join([
        "R\tdir\t448\t0\t3\t4096", "K\tfile\t420\t64",
        "D\tsupport\tdir\t448\t1000\t2\t4096",
        "F\tsupport\tTOKEN\tfile\t384\t1000\t1\t10\t0\tabc\tdef",
        "F\tsupport\tEMPTY\tfile\t384\t1000\t1\t1\t1\tghi\t-",
        "F\tsupport\tOPEN\tfile\t420\t1000\t1\t10",
        "F\tsupport\tGONE\tmissing\t0\t-1\t1\t0",
        "X\tsupport\tstray",
    ])
    f = parse_facts(text, root)
    assert f.root.kind == "dir" and f.root.mode == 0o700
    assert f.key_problem and "open to group or others" in f.key_problem and not f.has_key
    assert f.files[("support", "TOKEN")].fingerprint == "abc" and f.files[("support", "TOKEN")].token == "def"
    assert f.files[("support", "EMPTY")].blank and f.files[("support", "EMPTY")].token is None
    assert f.files[("support", "OPEN")].mode == 0o644 and f.files[("support", "OPEN")].fingerprint is None
    assert f.files[("support", "GONE")].kind == "missing"
    assert f.extra == {"support": ["stray"]}


def test_redact_windows_by_length_and_keyed_digest():
    import hashlib
    import hmac

    key = b"k" * 32

    def digest(v: bytes) -> str:
        return hmac.new(key, v, hashlib.sha256).hexdigest()[:24]

    wanted = {len(b"sk-CANARY-123456"): {digest(b"sk-CANARY-123456"): "TOKEN"},
              len(b"CANARY-12"): {digest(b"CANARY-12"): "SHORT"}}
    text = "401 for sk-CANARY-123456, retry sk-CANARY-123456; CANARY-12 ünïcode"
    out = redact_windows(text, key, wanted)
    assert out == "401 for [secret TOKEN], retry [secret TOKEN]; [secret SHORT] ünïcode"
    assert redact_windows(text, b"other-key" * 4, wanted) == text  # only our key matches
