#!/usr/bin/env python3
"""The sample app that gets baked into every image. Standard library only.

GET /health   200 {"status": "ok"} (or the code in a HEALTH_STATUS file next to this one)
GET /version  {"version", "instance_id", "computer_name", "hostname"}
GET /         a short text line with the version

Environment: BIND_ADDRESS (default 0.0.0.0), PORT (default 8080), EXTRA_PORTS (comma-separated ports served
the same way: the staging rule's and the per-instance backend port, 8081 in pipeline.toml, so a network
security group can open the production port to everyone and this one to the staging sources only), INSTANCE_ID,
COMPUTER_NAME,
APP_VERSION (used when there is no VERSION file next to this script), DRAIN_SECONDS (on SIGTERM, answer /health
with 503 but keep serving this long, so the load balancer stops sending traffic before the app exits).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent


def read_version() -> str:
    version_file = HERE / "VERSION"
    if version_file.is_file():
        text = version_file.read_text(encoding="utf-8").strip()
        if text:
            return text
    return os.environ.get("APP_VERSION", "unknown")


def read_health_status() -> int:
    """A HEALTH_STATUS file baked next to the app turns /health into that status code."""
    status_file = HERE / "HEALTH_STATUS"
    if not status_file.is_file():
        return 200
    try:
        code = int(status_file.read_text(encoding="utf-8").strip())
    except ValueError:
        return 500
    return code if 100 <= code <= 599 else 500


class Handler(BaseHTTPRequestHandler):
    server_version = "pipeline-app"
    info: dict = {}
    health_status: int = 200

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if path == "/health":
            ok = self.health_status < 400
            self._send_json(self.health_status, {"status": "ok" if ok else "unhealthy"})
        elif path == "/version":
            self._send_json(200, self.info)
        elif path == "/":
            self._send(200, f"pipeline sample app {self.info['version']}\n".encode(), "text/plain; charset=utf-8")
        else:
            self._send_json(404, {"error": "not found", "path": path})

    def _send_json(self, code: int, body: dict) -> None:
        self._send(code, (json.dumps(body, sort_keys=True) + "\n").encode(), "application/json")

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        sys.stdout.write(f"{self.client_address[0]} {self.log_date_time_string()} {format % args}\n")
        sys.stdout.flush()


def main() -> int:
    bind = os.environ.get("BIND_ADDRESS", "0.0.0.0")
    port = int(os.environ.get("PORT", "8080"))
    hostname = socket.gethostname()
    Handler.info = {
        "version": read_version(),
        "instance_id": os.environ.get("INSTANCE_ID", ""),
        "computer_name": os.environ.get("COMPUTER_NAME", hostname),
        "hostname": hostname,
    }
    Handler.health_status = read_health_status()

    server = ThreadingHTTPServer((bind, port), Handler)
    server.daemon_threads = True
    extra = [ThreadingHTTPServer((bind, int(p)), Handler)
             for p in os.environ.get("EXTRA_PORTS", "").replace(" ", "").split(",") if p and int(p) != port]
    for other in extra:
        other.daemon_threads = True
        threading.Thread(target=other.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    drain_seconds = float(os.environ.get("DRAIN_SECONDS", "0") or 0)

    def stop(signum, _frame) -> None:
        # Drain first: /health answers 503 so the load balancer probe takes this instance out of rotation,
        # while requests that still arrive are served; then stop. shutdown() waits for serve_forever() to
        # return, so it must run off the main thread.
        sys.stdout.write(f"received signal {signum}, draining for {drain_seconds:g}s, then shutting down\n")
        sys.stdout.flush()
        Handler.health_status = 503

        def shut_down() -> None:
            time.sleep(drain_seconds)
            for other in extra:
                other.shutdown()
            server.shutdown()

        threading.Thread(target=shut_down, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ports = ", ".join(str(srv.server_address[1]) for srv in [server, *extra])
    sys.stdout.write(f"serving version {Handler.info['version']} on {bind}:{ports}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        for other in extra:
            other.server_close()
    sys.stdout.write("stopped\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
