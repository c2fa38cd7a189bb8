"""`python3 -m bench.children.replay_engine SOCKET RECORDED`: item 7's engine. Serves the Engine API
on the unix socket SOCKET from a recording (bench.children.record_fleet): `version`, the container
list (label filters and'ed, name filters or'ed, as the engine does) and the image inspect; any other
request gets a 404 and a line on stderr. Prints `ready` once it listens; runs until it is killed.

The deployer under test needs nothing from the bench but DOCKER_HOST=unix://SOCKET: it connects,
lists and decodes the answers as it does with a real engine. Each distinct list query is answered
from a cache after its first time, so the warm-up run pays for building the answer, not the
timed runs.
"""

from __future__ import annotations

import json
import os
import re
import socketserver
import sys
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_PREFIX = re.compile(r"^/v[0-9.]+(?=/)")


class Recording:
    """What the engine answers, and the list answers already encoded."""

    def __init__(self, recorded: dict[str, Any]):
        self.rows: list[dict[str, Any]] = recorded["containers"]
        self.image: dict[str, Any] = recorded["image"]
        self.version: dict[str, Any] = recorded["version"]
        self.lists: dict[str, bytes] = {}

    def answer(self, target: str) -> tuple[int, bytes]:
        url = urlsplit(target)
        route = API_PREFIX.sub("", url.path)
        if route == "/version":
            return 200, json.dumps(self.version).encode()
        if route == "/containers/json":
            if target not in self.lists:
                self.lists[target] = json.dumps(self.matching(parse_qs(url.query))).encode()
            return 200, self.lists[target]
        if route.startswith("/images/") and route.endswith("/json"):
            return 200, json.dumps(self.image).encode()
        return 404, json.dumps({"message": f"replay engine: nothing recorded for {target}"}).encode()

    def matching(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        filters: dict[str, list[str]] = json.loads(query.get("filters", ["{}"])[0])
        labels, names = filters.get("label", []), filters.get("name", [])

        def has(row: dict[str, Any], label: str) -> bool:
            key, eq, value = label.partition("=")
            return row["Labels"].get(key) == value if eq else key in row["Labels"]

        return [row for row in self.rows if all(has(row, label) for label in labels)
                and (not names or any(name in n for name in names for n in row["Names"]))]


def handler_for(recording: Recording) -> type[BaseHTTPRequestHandler]:
    class EngineAPI(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects

        def do_GET(self) -> None:  # the name http.server dispatches to
            status, body = recording.answer(self.path)
            if status != 200:
                sys.stderr.write(f"replay engine: {status} for GET {self.path}\n")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: a line per request would cost the timed runs (and a unix peer has no address)."""

    return EngineAPI


def main(socket_path: str, recorded_file: str) -> None:
    with open(recorded_file) as fh:
        recording = Recording(json.load(fh))
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    with socketserver.ThreadingUnixStreamServer(socket_path, handler_for(recording)) as server:
        print("ready", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
