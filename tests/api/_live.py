"""Real sockets for the API tests: ``argus serve`` as a subprocess, or an app under uvicorn in a
thread (when the test needs a hook on the app's engine), and a raw chunked-upload client."""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from tests.api._support import JWT_SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(base: str, proc: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"argus serve exited with {proc.returncode}: {err[-2000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{base} did not answer /health within {timeout_s} s")


@contextmanager
def argus_serve(database_url: str, workdir: Path, **env: str) -> Iterator[str]:
    """``argus serve`` (no scheduler) on a free port; yields its base URL."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARGUS_")}
    clean.update(
        ARGUS_DATABASE_URL=database_url,
        ARGUS_JWT_SECRET=JWT_SECRET,
        ARGUS_VAR_DIR=str(workdir / "var"),
        ARGUS_COMPUTE_INTERVAL_S="0",
        ARGUS_LOG_LEVEL="WARNING",
    )
    clean.update(env)
    exe = shutil.which("argus", path=str(Path(sys.executable).parent)) or "argus"
    proc = subprocess.Popen(
        [exe, "serve", "--no-scheduler", "--port", str(port)],
        env=clean,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc, 60)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn on a real loopback socket, in a thread; yields its base URL."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, None, 30)
        yield base
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    sent_body_bytes: int  # bytes of request body the client had sent when it saw the answer
    refused_more: bool  # the server closed the connection / stopped reading before the end


def post_chunked(
    base: str,
    path: str,
    headers: dict[str, str],
    chunks: Iterator[bytes],
    *,
    pause_s: float = 0.001,
) -> RawAnswer:
    """POST with ``Transfer-Encoding: chunked`` (no Content-Length), one chunk at a time, looking
    for an answer before each chunk; stops sending as soon as one arrives or the server closes."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.setsockopt(
        socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024
    )  # sent ≈ what reached the server
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sock.sendall(head.encode("latin-1"))
    sent = 0
    refused = False
    for chunk in chunks:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            refused = True
            break
        try:
            sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            refused = True
            break
        sent += len(chunk)
        if pause_s:
            time.sleep(pause_s)
    else:
        sock.sendall(b"0\r\n\r\n")
    raw = b""
    sock.settimeout(30)
    try:
        while True:
            data = sock.recv(1 << 16)
            if not data:
                break
            raw += data
            head_end = raw.find(b"\r\n\r\n")
            if head_end >= 0:
                length = _content_length(raw[:head_end])
                if length is not None and len(raw) >= head_end + 4 + length:
                    break
    except (ConnectionResetError, TimeoutError):
        pass
    finally:
        sock.close()
    head_end = raw.find(b"\r\n\r\n")
    assert head_end > 0, f"no HTTP answer (got {raw[:200]!r})"
    lines = raw[:head_end].decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    hdrs = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    return RawAnswer(status, hdrs, raw[head_end + 4 :], sent, refused)


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return int(v.strip())
    return None
