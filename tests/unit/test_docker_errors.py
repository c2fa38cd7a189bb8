"""The docker backend's one error map, fed the failures an engine gives: SDK errors, and the
HTTP errors of the raw requests calls (update with NanoCpus, the Date-header list, swarm's
posts), which once escaped as a traceback because the SDK's converter raises."""

from __future__ import annotations

import json

import pytest
import requests

from deployer.backends.base import EngineError, NameTaken, NotFound, Unreachable
from deployer.backends.docker.client import explain


def http_error(status: int, message: str) -> requests.HTTPError:
    res = requests.Response()
    res.status_code = status
    res._content = json.dumps({"message": message}).encode()
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
