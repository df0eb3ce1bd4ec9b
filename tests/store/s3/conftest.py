"""A real S3-protocol server (moto's standalone server) on 127.0.0.1 for the S3 tests.

One server process per test session; each test gets its own bucket, cache folder and AWS
environment. ``S3Server.stop``/``start`` let a test take the server away mid-run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Both are test dependencies (pyproject's [test] extra): a missing one fails the run
# loudly instead of skipping every S3 test.
import moto  # noqa: F401
import obstore  # noqa: F401
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, up: bool = True) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise RuntimeError(f"moto server on port {port} did not {'start' if up else 'stop'}")


@dataclass
class S3Server:
    """A moto server process; its state (buckets) lives in memory and dies with it."""

    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        _wait(self.port, up=False)

    def make_bucket(self, name: str) -> None:
        import urllib.request

        req = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        urllib.request.urlopen(req, timeout=10).read()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    yield server
    server.stop()


_counter = iter(range(1_000_000))


@pytest.fixture
def s3_env(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """AWS environment for the loopback server, a fresh bucket, and a private cache folder."""
    if s3_server.proc is None:
        s3_server.start()
    bucket = f"test-{os.getpid()}-{next(_counter)}"
    s3_server.make_bucket(bucket)
    env = {
        "AWS_ENDPOINT_URL": s3_server.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SNAPEXPORT_CACHE_DIR": str(tmp_path / "cache"),
        "SNAPEXPORT_S3_RETRY_SECONDS": "3",
        "SNAPEXPORT_SCRYPT_N": "1024",
        "BUCKET": bucket,
        "STORE": f"s3://{bucket}/store",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


class FaultProxy:
    """A loopback HTTP proxy in front of the S3 server: injects 503 SlowDown answers on
    every ``fail_every``-th request, and can be stopped and restarted on the same port to
    take the storage away mid-run (the server behind it keeps its buckets)."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = _free_port()
        self.fail_every = 0
        self.requests = 0
        self.injected = 0
        self._server: object = None
        # Open client connections: stopping must cut them too, or HTTP keep-alive lets a
        # running writer go on talking to the server through a "stopped" proxy.
        self._clients: set[object] = set()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                proxy._clients.add(self.connection)

            def finish(self) -> None:
                proxy._clients.discard(self.connection)
                super().finish()

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.requests += 1
                if proxy.fail_every and proxy.requests % proxy.fail_every == 0:
                    proxy.injected += 1
                    msg = b"<Error><Code>SlowDown</Code><Message>slow down</Message></Error>"
                    self.send_response(503)
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server

    def stop(self) -> None:
        import contextlib
        import socket

        server = self._server
        if server is not None:
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]
            self._server = None
        for conn in list(self._clients):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]
        self._clients.clear()


@pytest.fixture
def fault_proxy(
    s3_server: S3Server, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultProxy]:
    """``s3_env`` pointed at a fault-injecting proxy in front of the server."""
    proxy = FaultProxy(s3_server.port)
    proxy.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
    s3_env["AWS_ENDPOINT_URL"] = proxy.endpoint
    yield proxy
    proxy.stop()
