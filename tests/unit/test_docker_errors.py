"""The docker backend's one error map, fed the failures an engine gives: SDK errors, and the
HTTP errors of the raw requests calls (update with NanoCpus, the Date-header list, swarm's
posts), which once escaped as a traceback because the SDK's converter raises."""

from __future__ import annotations

import json

import pytest
import requests

from deployer.backends.docker.client import explain, proxy_environment, raw
from deployer.backends.endpoint import resolve
from deployer.errors import EngineError, NameTaken, NotFound, Unreachable


def http_error(status: int, message: str | None = None, *, body: bytes | None = None) -> requests.HTTPError:
    res = requests.Response()
    res.status_code = status
    res._content = body if body is not None else json.dumps({"message": message}).encode()
    res.url = "http+docker://localhost/v1.41/containers/abc/update"
    res.reason = "error"
    try:
        res.raise_for_status()
    except requests.HTTPError as exc:
        return exc
    raise AssertionError("raise_for_status did not raise")


@pytest.mark.parametrize("status, message, kind, text", [
    (404, "No such container: abc", NotFound, "update abc: not found (No such container: abc)"),
    (409, 'Conflict. The container name "/botmaker-a" is already in use by container "x"', NameTaken,
     "update abc: name already taken by another container"),
    (409, "rpc error: code = AlreadyExists desc = config botmaker-lock.f already exists", NameTaken,
     "update abc: name already taken"),
    (500, "Cannot update container abc: Conflicting options: Memory and MemorySwap", EngineError,
     "update abc: Cannot update container abc: Conflicting options: Memory and MemorySwap"),
])
def test_raw_http_errors_map_to_one_line(status, message, kind, text):
    mapped = explain(http_error(status, message), "update abc", "unix:///var/run/docker.sock")
    assert type(mapped) is kind
    assert str(mapped).startswith(text) and "\n" not in str(mapped)


def test_connection_failures_are_unreachable():
    mapped = explain(requests.ConnectionError("Connection aborted."), "list containers", "unix:///nowhere.sock")
    assert isinstance(mapped, Unreachable)
    assert str(mapped) == "list containers: cannot reach the Docker engine at unix:///nowhere.sock (Connection aborted.)"


@pytest.mark.parametrize("body, text", [
    (b"{}", "update abc: 500 Server Error"), (b"[1]", "update abc: [1]"), (b"", "update abc: 500 Server Error"),
    (b"<html><body>bad gateway</body></html>", "update abc: <html><body>bad gateway</body></html>"),
])
def test_odd_error_bodies_still_map_to_one_line(body, text):
    mapped = explain(http_error(500, body=body), "update abc", "unix:///var/run/docker.sock")
    assert type(mapped) is EngineError and str(mapped).startswith(text) and "\n" not in str(mapped)


class RecordingAPI:
    base_url = "http+docker://localhost"
    api_version = "1.41"
    timeout = 120

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict]] = []

    def request(self, method: str, url: str, **kwargs):
        self.sent.append((method, url, kwargs))
        res = requests.Response()
        res.status_code = 200
        res._content = b"[]"
        return res


def test_raw_calls_carry_the_clients_timeout():
    api = RecordingAPI()
    raw(api, "POST", "/containers/abc/update", json={"Memory": 1})
    assert api.sent == [("POST", "http+docker://localhost/v1.41/containers/abc/update",
                         {"timeout": 120, "json": {"Memory": 1}})]


def test_containers_get_the_docker_cli_proxies_as_the_sdk_gave_them(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text(json.dumps({"proxies": {
        "default": {"httpProxy": "http://proxy:3128", "noProxy": "localhost"},
        "tcp://build:2376": {"httpsProxy": "http://other:3128"},
    }}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    inject = proxy_environment(resolve({}))
    env = inject(["LOG_LEVEL=info", "http_proxy=http://mine:1"])
    assert env[-2:] == ["LOG_LEVEL=info", "http_proxy=http://mine:1"]  # the bot's own come last and win
    assert {"HTTP_PROXY=http://proxy:3128", "http_proxy=http://proxy:3128", "NO_PROXY=localhost"} <= set(env[:-2])
    assert sorted(proxy_environment(resolve({"DOCKER_HOST": "tcp://build:2376"}))([])) == [
        "HTTPS_PROXY=http://other:3128", "https_proxy=http://other:3128"]
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    assert proxy_environment(resolve({}))(["A=1"]) == ["A=1"]
