"""Locust against the defense API: launches and live reads from a second process on loopback.

Starts ``argus serve --pipeline`` on a fresh SQLite database (or ``--pg-url``) seeded with the
defense demo and a freshly trained classifier, then runs ``benchmarks/locustfile.py`` headless
(``locust`` in its own process) and prints requests/s, the error rate and latency percentiles
per endpoint. The pipeline keeps cycling every 0.5 s under the load (its cycle p99 is read from
``/api/metrics/pipeline`` afterwards).

Usage::

    python benchmarks/bench_locust.py [--users 20] [--seconds 60] [--sqlite | --pg-url URL]
"""

from __future__ import annotations

import csv
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cli, db, report
from _common.server import run_server


def seed(url: str, password: str) -> None:
    from argus.accounts.service import create_user
    from argus.db.session import make_engine, make_sessionmaker, session_scope
    from argus.defense.service.catalog import ensure_defense_demo
    from argus.defense.service.training import train_classifier

    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as s:
            sc = ensure_defense_demo(s)
            create_user(s, "bench", password, "operator")
            train_classifier(s, n_per_class=80, scenario_id=sc.id)
    finally:
        engine.dispose()


def main() -> None:
    ap = cli.parser(__doc__)
    cli.add_database(ap, sqlite=True)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()
    con = report.console(width=140)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        with db.database(args.pg_url, args.sqlite) as url:
            from argus.db import migrate

            migrate.upgrade(url)
            password = secrets.token_urlsafe(16)
            seed(url, password)
            with run_server(
                url, 1, secrets.token_urlsafe(32), tmp, {"ARGUS_PIPELINE": "true"}
            ) as srv:
                env = {"ARGUS_BENCH_USER": "bench", "ARGUS_BENCH_PASSWORD": password}
                cmd = [sys.executable, "-m", "locust", "-f", str(Path(__file__).with_name("locustfile.py")),
                       "--headless", "-u", str(args.users), "-r", str(max(1, args.users // 2)),
                       "-t", f"{args.seconds}s", "--host", srv.base_url, "--csv", str(tmp / "l"),
                       "--only-summary"]  # fmt: skip
                import os

                subprocess.run(cmd, env=os.environ | env, check=False, capture_output=True)
                tok = httpx.post(srv.base_url + "/api/auth/login",
                                 data={"username": "bench", "password": password}).json()["access_token"]  # fmt: skip
                pm = httpx.get(srv.base_url + "/api/metrics/pipeline",
                               headers={"Authorization": f"Bearer {tok}"}).json()["values"]  # fmt: skip
            rows = list(csv.DictReader((tmp / "l_stats.csv").open()))
    table = report.rich_table(
        f"locust: {args.users} users for {args.seconds} s on loopback",
        ["endpoint", "requests", "req/s", "failures", "p50 ms", "p95 ms", "p99 ms"],
    )
    total = None
    for r in rows:
        cells = [r["Name"], r["Request Count"], f"{float(r['Requests/s']):.1f}", r["Failure Count"],
                 r["50%"], r["95%"], r["99%"]]  # fmt: skip
        if r["Name"] == "Aggregated":
            total = r
        table.add_row(*cells)
    con.print(table)
    if total is not None:
        n, fails = int(total["Request Count"]), int(total["Failure Count"])
        con.print(
            f"summary: {float(total['Requests/s']):.0f} req/s, error rate {fails / max(n, 1):.2%}, "
            f"p99 {total['99%']} ms; pipeline cycle p99 {1e3 * (pm.get('cycle_p99_s') or 0):.0f} ms "
            f"over {pm.get('cycles'):.0f} cycles"
        )


if __name__ == "__main__":
    main()
