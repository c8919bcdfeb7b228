"""``argus serve`` as a subprocess for a load test: start it on a free port, wait until it is
healthy, stop its whole process group; wait until it is idle; read its logged errors."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from .cpu import NCPU, cpu_snapshot


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _argus_command() -> list[str]:
    exe = Path(sys.executable).with_name("argus")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "argus.cli.main"]


@dataclass
class Server:
    base_url: str
    pid: int
    workers: int
    log: Path


@contextlib.contextmanager
def run_server(
    url: str, workers: int, jwt_secret: str, tmp: Path, env_extra: dict[str, str] | None = None
) -> Iterator[Server]:
    port = _free_port()
    log = tmp / f"server-{workers}w.log"
    env = os.environ | {
        "ARGUS_JWT_SECRET": jwt_secret,
        "ARGUS_COMPUTE_INTERVAL_S": "0",
        "ARGUS_VAR_DIR": str(tmp / "var"),
        **(env_extra or {}),
    }
    env.pop("ARGUS_BROKER_URL", None)
    cmd = [
        *_argus_command(),
        "--database-url",
        url,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-scheduler",
        "--workers",
        str(workers),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"argus serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{base}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"argus serve not healthy after 90 s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.2)
        yield Server(base, proc.pid, workers, log)
    finally:
        if proc.poll() is None:
            os.killpg(
                proc.pid, signal.SIGTERM
            )  # the session started above: the server and its workers
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_quiet(pid: int, max_other_s: float) -> float:
    """Wait until the server uses < 10% of a core over 0.5 s (its work is done), then up to
    ``max_other_s`` more for the rest of the machine to use < 25% of it (other users)."""
    t0 = time.perf_counter()
    prev = cpu_snapshot(pid)
    server_idle_at = None
    while True:
        time.sleep(0.5)
        cur = cpu_snapshot(pid)
        server = cur.server - prev.server
        rest = cur.system - prev.system - server - (cur.client - prev.client)
        now = time.perf_counter()
        if server < 0.05 and server_idle_at is None:
            server_idle_at = now
        if server_idle_at is not None and (
            rest < 0.25 * NCPU * 0.5 or now - server_idle_at > max_other_s
        ):
            break
        if now - t0 > 120 + max_other_s:
            break
        prev = cur
    return time.perf_counter() - t0


def login(base: str, username: str, password: str) -> str:
    """A bearer token from the server's login endpoint."""
    r = httpx.post(
        f"{base}/api/auth/login", data={"username": username, "password": password}, timeout=30
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def server_errors(log: Path) -> Counter[str]:
    """The server's unhandled errors (its JSON log lines), by message."""
    out: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if '"unhandled_error"' not in line:
            continue
        try:
            out[str(json.loads(line).get("error", "?"))[:160]] += 1
        except ValueError:
            out[line[:160]] += 1
    return out
