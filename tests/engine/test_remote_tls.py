"""DOCKER_HOST=tcp://127.0.0.1:PORT with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, as the docker
CLI reads them, against a TLS-verifying listener (remotekit.TLSForwarder) in front of the shared
engine; certificates made by the test with openssl. A TLS docker context too."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.engine_harness import poll
from tests.support.fleetkit import FAST, Manifests, cleanup_markers, fleet_container_list, run_cli_streams  # noqa: F401
from tests.support.remotekit import TLSForwarder, cbot, cert_dir, issue, make_ca


@pytest.fixture(scope="module")
def pki():
    d = Path(tempfile.mkdtemp(prefix="dpl-tls-", dir="/tmp"))
    ca = make_ca(d, "test-ca")
    other = make_ca(d, "other-ca")
    server = issue(d, ca, "engine", server=True)
    good = cert_dir(d / "good", ca[0], *issue(d, ca, "runner", server=False))
    foreign_client = cert_dir(d / "foreign-client", ca[0], *issue(d, other, "intruder", server=False))
    wrong_ca = cert_dir(d / "wrong-ca", other[0], *issue(d, ca, "runner2", server=False))
    fwd = TLSForwarder(server[0], server[1], ca[0])
    yield {"fwd": fwd, "good": good, "foreign_client": foreign_client, "wrong_ca": wrong_ca, "dir": d}
    fwd.close()
    shutil.rmtree(d, ignore_errors=True)


def tls_env(pki, which: str) -> dict[str, str]:
    return {"DOCKER_HOST": pki["fwd"].docker_host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(pki[which]),
            "DOCKER_CONTEXT": "", "DOCKER_CONFIG": tempfile.mkdtemp(prefix="cfg-", dir=pki["dir"])}


def test_plan_apply_over_verified_tls(tmp_path, fleet_name, secrets_dir, docker_client, pki):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": cbot()})
    env = tls_env(pki, "good")
    code, _, out = run_cli_streams("apply", "--yes", *FAST, m.path, env=env)
    assert code == 0, out
    assert f"engine: {pki['fwd'].docker_host} (TLS, verified)" in out
    code, _, out = run_cli_streams("plan", "--detailed-exitcode", m.path, env=env)
    assert code == 0 and "No changes." in out, out
    assert [c.name for c in fleet_container_list(docker_client, fleet_name)] == [m.cname("a")]


@pytest.mark.parametrize("which, expected", [
    ("foreign_client", "refused our client certificate"),
    ("wrong_ca", "the engine's certificate is not trusted by our CA"),
])
def test_wrong_certificates_are_one_line(tmp_path, fleet_name, secrets_dir, docker_client, pki, which, expected):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": cbot()})
    before = pki["fwd"].refused
    code, _, out = run_cli_streams("apply", "--yes", *FAST, m.path, env=tls_env(pki, which))
    lines = [line for line in out.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: "), out
    assert expected in lines[0] and pki["fwd"].docker_host.split("//")[1] in lines[0], out
    if which == "foreign_client":  # the listener refused us (its thread may count it a moment later)
        poll(lambda: pki["fwd"].refused > before, timeout=10, what="the listener to count the refusal")
    assert fleet_container_list(docker_client, fleet_name) == []


def test_tls_docker_context(tmp_path, fleet_name, secrets_dir, docker_client, pki):
    m = Manifests(tmp_path, fleet_name, secrets_dir)
    m.write({"a": cbot()})
    env = {"DOCKER_CONFIG": str(tmp_path / "docker-config"), "DOCKER_HOST": "",
           "DOCKER_TLS_VERIFY": "", "DOCKER_CERT_PATH": "", "DOCKER_CONTEXT": ""}
    good = pki["good"]
    spec = f"host={pki['fwd'].docker_host},ca={good / 'ca.pem'},cert={good / 'cert.pem'},key={good / 'key.pem'}"
    made = subprocess.run(["docker", "context", "create", "tls-engine", "--docker", spec],
                          env={k: v for k, v in {**os.environ, **env}.items() if v},
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    code, _, out = run_cli_streams("--context", "tls-engine", "plan", m.path, env=env)
    assert code == 0 and "(TLS, verified) (context tls-engine)" in out and "1 to create" in out, out
