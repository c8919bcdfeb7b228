"""No orphans: an acquisition killed between its object writes and its completing commit (a
real process killed with SIGKILL, or an error injected where Python cannot clean up) leaves
nothing behind once the sweeper has run — on a local folder and on S3 (moto's server)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from argus.db.models import RfMeasurement
from argus.db.objectstore import ObjectStore
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.rf import service
from tests.rf._support import FREQ, add_receivers, write_folder

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["north", "east", "south"]


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store_root(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """(store root, extra environment) of a local folder or an S3 bucket."""
    if request.param == "local":
        return str(tmp_path / "objects"), {}
    bucket = request.getfixturevalue("s3_bucket")
    endpoint = request.getfixturevalue("s3_endpoint")
    return f"s3://{bucket}/argus", {"ARGUS_S3_ENDPOINT_URL": endpoint}


def _store(root: str, env: dict[str, str]) -> ObjectStore:
    opts = {"client_kwargs": {"endpoint_url": env["ARGUS_S3_ENDPOINT_URL"]}} if env else None
    return ObjectStore(root, storage_options=opts)


HANG = textwrap.dedent(
    """
    import os, sys, time
    from tests.rf import _engines  # the engine modules or their stand-ins
    from argus.db.objectstore import ObjectStore
    from argus.db.session import make_engine, make_sessionmaker
    from argus.rf import service

    url, root, acq_id = sys.argv[1:4]
    ep = os.environ.get("ARGUS_S3_ENDPOINT_URL")
    store = ObjectStore(root, storage_options={"client_kwargs": {"endpoint_url": ep}} if ep else None)

    def hang(progress, who):  # after the first receiver's objects are in the store
        print("WRITTEN", who, flush=True)
        time.sleep(600)

    service.run_acquisition(
        make_sessionmaker(make_engine(url)), acq_id, source=service.SigmfFolderSource(),
        store=store, progress=hang, localize=False, max_workers=1,
    )
    """
)


def test_killed_acquisition_leaves_no_orphan_after_the_sweeper(
    db_url: str, tmp_path: Path, store_root: tuple[str, dict[str, str]]
) -> None:
    root, extra_env = store_root
    store = _store(root, extra_env)
    folder = tmp_path / "rec"
    write_folder(folder, NAMES)
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        ids = add_receivers(s, folder, NAMES)
        acq_id = service.start_acquisition(s, FREQ, 0.002, ids, source="sigmf").id
    env = {**os.environ, **extra_env, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", HANG, db_url, root, acq_id],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT, text=True,
        start_new_session=True,
    )  # fmt: skip
    seen = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if not line or line.startswith("WRITTEN"):
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert seen[-1].startswith("WRITTEN"), "".join(seen) + (
        proc.stderr.read() if proc.stderr else ""
    )
    written = {o.key for o in store.list_objects("rf")}
    assert len(written) == 2  # one receiver's meta + data, then the kill
    with session_scope(factory) as s:
        acq = service.get_acquisition(s, acq_id)
        assert acq.status == "running"
        assert written <= set(service.storage.capture_keys(acq.captures))  # the row names them
        # in flight (not stale yet): the sweeper leaves the row and its objects alone
        report = service.sweep(s, store, grace_s=0, stale_after_s=3600)
        assert report.failed_acquisitions == [] and report.orphans_deleted == []
    assert {o.key for o in store.list_objects("rf")} == written
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    with session_scope(factory) as s:
        report = service.sweep(s, store, now=later)
    assert report.failed_acquisitions == [acq_id] and sorted(report.orphans_deleted) == sorted(
        written
    )
    assert store.list_objects("rf") == []
    with session_scope(factory) as s:
        acq = service.get_acquisition(s, acq_id)
        assert acq.status == "failed" and "abandoned: running" in (acq.error or "")
        assert acq.error is not None and acq.error.count(".sigmf-") == 4  # the 4 missing objects
        assert s.execute(sa.select(sa.func.count()).select_from(RfMeasurement)).scalar_one() == 0
        assert service.sweep(s, store, now=later).orphans_deleted == []  # nothing left to do
    engine.dispose()


def test_injected_crash_between_objects_and_commit(
    db_url: str,
    tmp_path: Path,
    store_root: tuple[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, extra_env = store_root
    store = _store(root, extra_env)
    folder = tmp_path / "rec"
    write_folder(folder, NAMES)
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        ids = add_receivers(s, folder, NAMES)

    def crash(*_: object, **__: object) -> int:
        raise RuntimeError("power cut before the completing commit")

    # the process dies before its own cleanup can run: no failure recorded, no object removed
    monkeypatch.setattr(service.acquisition, "insert_measurements", crash)
    monkeypatch.setattr(service.acquisition, "_fail", lambda *a, **k: None)
    with pytest.raises(RuntimeError, match="power cut"):
        service.acquire_iq(
            factory, FREQ, 0.002, ids, source=service.SigmfFolderSource(), store=store,
            localize=False,
        )  # fmt: skip
    written = {o.key for o in store.list_objects("rf")}
    assert len(written) == 6
    # plus an object that no row names at all (a crashed writer of another kind), just written
    stray = "rf/2026/12/07/not-an-acquisition/r1.sigmf-data"
    store.put_bytes(stray, b"x")
    with session_scope(factory) as s:
        report = service.sweep(s, store, grace_s=3600, stale_after_s=3600)
        assert report.orphans_kept == 1 and report.orphans_deleted == []  # within grace
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    with session_scope(factory) as s:
        report = service.sweep(s, store, now=later)
        assert len(report.failed_acquisitions) == 1
        assert set(report.orphans_deleted) == written | {stray}
    assert store.list_objects("rf") == []
    engine.dispose()


def test_the_sweeper_reports_complete_acquisitions_with_missing_objects(
    sqlite_url: str, tmp_path: Path
) -> None:
    store = ObjectStore(str(tmp_path / "objects"))
    folder = tmp_path / "rec"
    write_folder(folder, NAMES)
    engine = make_engine(sqlite_url)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        ids = add_receivers(s, folder, NAMES)
    res = service.acquire_iq(
        factory, FREQ, 0.002, ids, source=service.SigmfFolderSource(), store=store, localize=False
    )
    lost = res.object_keys[0]
    store.delete(lost)
    with session_scope(factory) as s:
        report = service.sweep(s, store, grace_s=0, stale_after_s=0)
    assert report.missing_objects == {res.id: [lost]}
    assert report.orphans_deleted == [] and report.failed_acquisitions == []
    assert len(store.list_objects("rf")) == 5  # a complete acquisition's objects are kept
    engine.dispose()
