"""CPU accounting from /proc for a load test: the server's process tree, the PostgreSQL
backends of one database, this process (the load generator) and the rest of the machine."""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


def _proc_stats() -> dict[int, tuple[str, int, float]]:
    """pid -> (comm, ppid, CPU seconds) for every process we can read."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        rest = text[text.rindex(")") + 2 :].split()
        out[int(entry.name)] = (comm, int(rest[1]), (int(rest[11]) + int(rest[12])) / CLK_TCK)
    return out


def _cpu_of(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def _system_busy_s() -> float:
    with open("/proc/stat", encoding="ascii") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    # user nice system idle iowait irq softirq steal
    return (sum(v) - v[3] - v[4]) / CLK_TCK


def _postmaster_pid() -> int | None:
    procs = _proc_stats()
    for pid, (comm, ppid, _) in procs.items():
        if comm.startswith("postgres") and not procs.get(ppid, ("",))[0].startswith("postgres"):
            return pid
    return None


class PgSampler(threading.Thread):
    """CPU time of the PostgreSQL processes serving one database, while it runs.

    Every 0.1 s it lists the postmaster's children, keeps those whose title names the
    database (``postgres: 15/main: user DB host(port) state``) and reads their CPU time
    from /proc. Other databases on the same server (other users of the machine) are left
    out; a backend that exits loses at most its last 0.1 s.
    """

    def __init__(self, dbname: str) -> None:
        super().__init__(daemon=True)
        self.dbname = dbname
        self.postmaster = _postmaster_pid()
        self.ours: dict[int, bool] = {}
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.done = threading.Event()
        self._sample(initial=True)

    def _sample(self, initial: bool = False) -> None:
        if self.postmaster is None:
            return
        pm = self.postmaster
        try:
            with open(f"/proc/{pm}/task/{pm}/children", encoding="ascii") as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            return
        for pid in kids:
            ours = self.ours.get(pid)
            if ours is None:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        title = f.read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                ours = self.ours[pid] = f" {self.dbname} " in f" {title} "
            if ours:
                cpu = _cpu_of(pid)
                if cpu is not None:
                    self.first.setdefault(pid, cpu if initial else 0.0)
                    self.last[pid] = cpu

    def run(self) -> None:
        while not self.done.wait(0.1):
            self._sample()

    def total(self) -> float:
        self.done.set()
        self.join()
        self._sample()
        return sum(self.last[p] - self.first[p] for p in self.last)


@dataclass
class CpuSnap:
    wall: float
    server: float
    client: float
    system: float


def cpu_snapshot(server_pid: int | None) -> CpuSnap:
    server = 0.0
    if server_pid is not None:
        procs = _proc_stats()
        tree, frontier = {server_pid}, [server_pid]
        children: dict[int, list[int]] = {}
        for pid, (_, ppid, _) in procs.items():
            children.setdefault(ppid, []).append(pid)
        while frontier:
            for c in children.get(frontier.pop(), []):
                if c not in tree:
                    tree.add(c)
                    frontier.append(c)
        server = sum(procs[p][2] for p in tree if p in procs)
    return CpuSnap(time.perf_counter(), server, time.process_time(), _system_busy_s())


@dataclass
class CpuDelta:
    wall: float
    server: float
    postgres: float
    client: float
    system: float

    @property
    def other(self) -> float:
        pg = self.postgres if math.isfinite(self.postgres) else 0.0  # SQLite: in the server
        return max(self.system - self.server - pg - self.client, 0.0)


def cpu_delta(a: CpuSnap, b: CpuSnap, postgres: float) -> CpuDelta:
    return CpuDelta(
        b.wall - a.wall, b.server - a.server, postgres, b.client - a.client, b.system - a.system
    )
