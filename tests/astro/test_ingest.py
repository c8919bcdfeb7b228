"""FITS ingest: header keywords → Observation fields, files in the object store with their
sha512, bad batches rejected whole naming file and keyword (FITS files written with astropy)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from astropy.io import fits
from sqlalchemy.orm import Session

from argus.astro import service
from argus.db.models.astro import AuditLog, Observation, Survey
from argus.db.objectstore import ObjectStore
from tests.astro._support import T0, fits_image, write_fits


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(str(tmp_path / "objects"))


def _count(session: Session, model: type) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_folder_ingest_maps_the_header(
    session: Session, store: ObjectStore, tmp_path: Path
) -> None:
    folder = tmp_path / "night"
    folder.mkdir()
    for i in range(3):
        write_fits(
            folder / f"frame{i}.fits",
            ra=150.0 + i * 0.1, dec=-30.0, obsid=f"EXP-{i}", when=T0 + dt.timedelta(minutes=i),
            exptime=45.0, airmass=1.05 + i / 10, seeing=0.9, band="g", seed=i,
        )  # fmt: skip
    (folder / "notes.txt").write_text("not a FITS file, ignored by the folder scan")
    report = service.ingest_folder(session, store, folder)
    assert len(report.stored) == 3 and report.errors == []
    obs = sorted(report.stored, key=lambda o: o.observation_id)
    assert [o.observation_id for o in obs] == ["EXP-0", "EXP-1", "EXP-2"]
    for i, o in enumerate(obs):
        assert o.exposure_time == 45.0 and o.filter_band == "g" and o.seeing == 0.9
        assert o.airmass == pytest.approx(1.05 + i / 10)
        assert o.observation_time == T0 + dt.timedelta(minutes=i)
        # the WCS reference pixel is the image centre, so the centre is CRVAL
        assert o.ra == pytest.approx(150.0 + i * 0.1, abs=1e-9)
        assert o.dec == pytest.approx(-30.0, abs=1e-9)
        assert o.pixel_scale == pytest.approx(1.0)  # from the WCS (no PIXSCALE keyword)
        assert (o.image_height, o.image_width) == (64, 80)
        assert o.healpix == int(service.healpix_ids([o.ra], [o.dec])[0])
        data = (folder / f"frame{i}.fits").read_bytes()
        assert o.fits_sha512 == hashlib.sha512(data).hexdigest()
        assert o.fits_size_bytes == len(data)
        assert store.get_bytes(o.fits_key) == data
        assert o.header["OBSID"] == f"EXP-{i}"
    assert session.scalar(sa.select(Survey.name)) == "TestSurvey"  # from the SURVEY keyword
    assert _count(session, AuditLog) >= 4  # the survey and each observation
    img, hdr = service.read_observation_image(store, obs[0])
    assert img.shape == (64, 80) and hdr["EXPTIME"] == 45.0


def test_bad_batch_is_rejected_whole_naming_file_and_keyword(
    session: Session, store: ObjectStore
) -> None:
    files = [
        ("good.fits", fits_image(obsid="G1")),
        ("noexp.fits", fits_image(obsid="B1", exptime=None)),
        ("badair.fits", fits_image(obsid="B2", airmass="cloudy")),
        ("negair.fits", fits_image(obsid="B3", airmass=-1.0)),
        ("junk.fits", b"SIMPLE  = nonsense" + b" " * 100),
        ("nowcs.fits", fits_image(obsid="B4", wcs=False)),
        ("dup.fits", fits_image(obsid="G1")),
    ]
    with pytest.raises(service.RejectedBatch) as err:
        service.ingest_fits(session, store, files)
    found = {(e.where, e.field) for e in err.value.errors}
    assert found == {
        ("noexp.fits", "EXPTIME"),
        ("badair.fits", "AIRMASS"),
        ("negair.fits", "AIRMASS"),
        ("junk.fits", "SIMPLE"),
        ("nowcs.fits", "CTYPE1"),
        ("dup.fits", "observation_id"),
    }
    assert str(err.value).startswith("EXPTIME: FITS batch rejected, nothing stored: noexp.fits")
    assert _count(session, Observation) == 0 and _count(session, Survey) == 0
    assert store.list_objects() == []

    report = service.ingest_fits(session, store, files, partial=True)
    assert [o.observation_id for o in report.stored] == ["G1"]
    assert len(report.errors) == 6
    assert report.as_dict()["errors"][0] == {
        "file": "noexp.fits",
        "field": "EXPTIME",
        "reason": "missing (looked for EXPTIME, EXPOSURE, ITIME, EXP_TIME)",
    }
    # the same file again is a duplicate of a stored observation
    with pytest.raises(service.RejectedBatch, match="already stored"):
        service.ingest_fits(session, store, [files[0]])


def test_fallback_keywords(session: Session, store: ObjectStore) -> None:
    """No WCS: sexagesimal RA/DEC keywords; a date with TIME-OBS; MJD-OBS; EXPOSURE; the file
    stem as observation id; the survey given by the caller."""
    a = fits_image(
        obsid=None, wcs=False, exptime=None,
        extra={"RA": "10:00:00.0", "DEC": "-05:30:00", "EXPOSURE": 12.5, "PIXSCALE": 0.4},
    )  # fmt: skip
    with fits.open(io.BytesIO(a)) as h:
        h[0].header["DATE-OBS"] = "2026-03-01"
        h[0].header["TIME-OBS"] = "04:30:00"
        buf = io.BytesIO()
        h.writeto(buf)
    b = fits_image(obsid="M1", extra={})
    with fits.open(io.BytesIO(b)) as h:
        del h[0].header["DATE-OBS"]
        h[0].header["MJD-OBS"] = 61100.5
        buf_b = io.BytesIO()
        h.writeto(buf_b)
    report = service.ingest_fits(
        session, store, [("field-7.fits", buf.getvalue()), ("m.fits", buf_b.getvalue())],
        survey="Manual",
    )  # fmt: skip
    o, m = report.stored
    assert o.observation_id == "field-7"
    assert o.ra == pytest.approx(150.0) and o.dec == pytest.approx(-5.5)
    assert o.exposure_time == 12.5 and o.pixel_scale == 0.4
    assert o.observation_time == dt.datetime(2026, 3, 1, 4, 30, tzinfo=dt.UTC)
    assert m.observation_time == dt.datetime(1858, 11, 17, tzinfo=dt.UTC) + dt.timedelta(
        days=61100.5
    )
    assert session.scalar(sa.select(Survey.name)) == "Manual"


def test_an_extension_image_and_the_primary_header(session: Session, store: ObjectStore) -> None:
    """The image in extension 1, exposure and time in the primary header."""
    img = fits.open(io.BytesIO(fits_image(obsid="X1")))[0]
    primary = fits.PrimaryHDU()
    for k in ("DATE-OBS", "EXPTIME", "SURVEY", "OBSID"):
        primary.header[k] = img.header[k]
        del img.header[k]
    ext = fits.ImageHDU(np.asarray(img.data), header=img.header)
    buf = io.BytesIO()
    fits.HDUList([primary, ext]).writeto(buf)
    (o,) = service.ingest_fits(session, store, [("mef.fits", buf.getvalue())]).stored
    assert o.observation_id == "X1" and o.exposure_time == 30.0
    assert o.ra == pytest.approx(150.0) and o.image_width == 80


def test_empty_inputs(session: Session, store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(service.InvalidInput, match=r"^files:"):
        service.ingest_fits(session, store, [])
    with pytest.raises(service.InvalidInput, match=r"^folder:"):
        service.ingest_folder(session, store, tmp_path)
    with pytest.raises(service.InvalidInput, match=r"^folder:"):
        service.ingest_folder(session, store, tmp_path / "missing")


@pytest.mark.s3
def test_ingest_into_s3(sqlite_url: str, s3_endpoint: str, s3_bucket: str) -> None:
    from argus.db.session import make_engine, make_sessionmaker

    store = ObjectStore(
        f"s3://{s3_bucket}/argus", storage_options={"client_kwargs": {"endpoint_url": s3_endpoint}}
    )
    engine = make_engine(sqlite_url)
    try:
        with make_sessionmaker(engine)() as session:
            data = fits_image(obsid="S3-1")
            (o,) = service.ingest_fits(session, store, [("s3.fits", data)]).stored
            session.commit()
            assert o.fits_url.startswith(f"s3://{s3_bucket}/argus/astro/observations/")
            assert store.sha512(o.fits_key) == o.fits_sha512 == hashlib.sha512(data).hexdigest()
    finally:
        engine.dispose()
