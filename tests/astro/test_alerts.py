"""ZTF-layout alert packets: every field survives fastavro's container and schemaless round
trips, stamps survive gzipped FITS, bad records are refused with the field named."""

from __future__ import annotations

import gzip
import io
import math
from typing import Any

import fastavro
import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from argus.astro import alerts
from argus.astro.alerts import (
    ALERT_SCHEMA,
    CANDIDATE_FIELDS,
    PRV_CANDIDATE_FIELDS,
    alert_packet,
    decode_alert,
    encode_alert,
    gzipped_fits_to_stamp,
    read_alerts,
    stamp_to_gzipped_fits,
    write_alerts,
)

_F32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
_VALUES = {
    "double": st.floats(allow_nan=False),
    "float": _F32,
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "string": st.text(max_size=12),
}


def _record(spec: tuple[tuple[str, str, bool], ...]) -> st.SearchStrategy[dict[str, Any]]:
    fields = {}
    for name, typ, required in spec:
        value = st.sampled_from(["t", "f"]) if name == "isdiffpos" else _VALUES[typ]
        fields[name] = value if required else st.one_of(st.none(), value)
    return st.fixed_dictionaries(fields)


def _same(a: Any, b: Any) -> bool:
    """Deep equality in which NaN equals NaN (the defaults of unknown coordinates)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _stamp(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(100.0, 5.0, (63, 63)).astype(np.float32)


MINIMAL = {
    "jd": 2461000.75,
    "fid": 2,
    "pid": 1234,
    "programid": 1,
    "candid": 987654321,
    "isdiffpos": "t",
    "ra": 150.125,
    "dec": -12.5,
    "magpsf": 19.25,
    "sigmapsf": 0.125,
    "rbversion": "argus-rb-test",
}


def test_schema_has_ztf_layout() -> None:
    parsed = fastavro.parse_schema(ALERT_SCHEMA)
    names = [f["name"] for f in ALERT_SCHEMA["fields"]]
    assert names == [
        "schemavsn", "publisher", "objectId", "candid", "candidate", "prv_candidates",
        "fp_hists", "cutoutScience", "cutoutTemplate", "cutoutDifference",
    ]  # fmt: skip
    assert ALERT_SCHEMA["version"] == "4.02"
    assert len(CANDIDATE_FIELDS) == 103 and len(PRV_CANDIDATE_FIELDS) == 57
    assert parsed["name"] == "ztf.alert"
    cand = {f["name"]: f for f in ALERT_SCHEMA["fields"][4]["type"]["fields"]}
    assert cand["rb"]["type"] == ["null", "float"] and cand["rb"]["default"] is None
    assert cand["jd"]["type"] == "double" and cand["candid"]["type"] == "long"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cand=_record(CANDIDATE_FIELDS), prv=st.lists(_record(PRV_CANDIDATE_FIELDS), max_size=2))
def test_container_and_schemaless_round_trips_keep_every_field(
    cand: dict[str, Any], prv: list[dict[str, Any]]
) -> None:
    packet = alert_packet(
        object_id="ZTF26abcdefg",
        candidate=cand,
        science=_stamp(1),
        template=b"\x1f\x8b raw bytes are passed through",
        difference=None,
        prv_candidates=prv or None,
    )
    buf = io.BytesIO()
    assert write_alerts(buf, [packet, packet], validate=True) == 2
    buf.seek(0)
    back = read_alerts(buf)
    assert back == [packet, packet]
    assert back[0]["candidate"] == cand  # every candidate field, nulls included
    assert decode_alert(encode_alert(packet)) == packet


def test_packet_fields_and_defaults() -> None:
    p = alert_packet(object_id="ARG1", candidate={**MINIMAL, "rb": 0.75, "fwhm": 2.5})
    assert p["schemavsn"] == "4.02" and p["publisher"] == "Argus" and p["candid"] == 987654321
    c = p["candidate"]
    assert c["rb"] == 0.75 and c["fwhm"] == 2.5 and c["elong"] is None and c["ssdistnr"] is None
    assert c["ndethist"] == 0 and math.isnan(c["ranr"]) and c["drbversion"] == ""
    assert p["prv_candidates"] is None and p["cutoutScience"] is None


def test_stamps_in_packets_are_gzipped_fits_astropy_reads() -> None:
    sci = _stamp(2)
    sci[0, :3] = np.nan
    p = alert_packet(object_id="ARG1", candidate=MINIMAL, science=sci, difference=-sci)
    buf = io.BytesIO()
    write_alerts(buf, [p])
    buf.seek(0)
    got = read_alerts(buf)[0]
    cut = got["cutoutScience"]
    assert cut["fileName"] == "candid987654321_sci.fits.gz"
    raw = gzip.decompress(cut["stampData"])
    with fits.open(io.BytesIO(raw)) as hdul:
        np.testing.assert_array_equal(hdul[0].data, sci)
        assert hdul[0].header["BITPIX"] == -32
    arr, _ = gzipped_fits_to_stamp(got["cutoutDifference"]["stampData"])
    np.testing.assert_array_equal(arr, -sci)


def test_stamp_header_cards_round_trip() -> None:
    data = stamp_to_gzipped_fits(
        _stamp(3), {"CANDID": 2**40, "RA": 150.125, "OBJECT": "it's", "ISDIFF": False}
    )
    arr, head = gzipped_fits_to_stamp(data)
    np.testing.assert_array_equal(arr, _stamp(3))
    assert head["CANDID"] == 2**40 and head["RA"] == 150.125
    assert head["OBJECT"] == "it's" and head["ISDIFF"] is False
    assert head["NAXIS1"] == 63 and head["NAXIS2"] == 63
    assert len(gzip.decompress(data)) % 2880 == 0


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"NAXIS1": 5}, "set from the array"),
        ({"TOOLONGKEY": 1}, "not a FITS keyword"),
        ({"RA": float("nan")}, "not a finite number"),
        ({"OBJ": [1]}, "unsupported type"),
    ],
)
def test_bad_stamp_headers_refused(header: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stamp_to_gzipped_fits(_stamp(), header)


def test_bad_stamp_bytes_refused() -> None:
    with pytest.raises(ValueError, match="not gzip"):
        gzipped_fits_to_stamp(b"plain bytes")
    with pytest.raises(ValueError, match="2-D"):
        stamp_to_gzipped_fits(np.zeros(5))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"magpsf": None}, r"missing required field\(s\) \['magpsf'\]"),
        ({"fid": "r"}, r"candidate.fid: expected int"),
        ({"candid": 2**63}, r"candidate.candid: .* does not fit an Avro long"),
        ({"isdiffpos": "yes"}, r"candidate.isdiffpos"),
        ({"magpfs": 19.0}, r"unknown field\(s\) \['magpfs'\]"),
        ({"fid": True}, r"candidate.fid: expected int"),
    ],
)
def test_bad_candidates_refused_with_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        alert_packet(object_id="ARG1", candidate={**MINIMAL, **change})


def test_bad_prv_candidate_names_its_row() -> None:
    prv = [{"jd": 1.0, "fid": 1, "pid": 2, "programid": 1, "rbversion": "v"}, {"jd": 1.0}]
    with pytest.raises(ValueError, match=r"prv_candidates\[1\]: missing"):
        alert_packet(object_id="ARG1", candidate=MINIMAL, prv_candidates=prv)


def test_numpy_scalars_accepted() -> None:
    p = alert_packet(
        object_id="ARG1",
        candidate={**MINIMAL, "ra": np.float64(1.5), "fid": np.int64(1), "rb": np.float32(0.5)},
    )
    assert type(p["candidate"]["fid"]) is int and p["candidate"]["rb"] == 0.5
    back = decode_alert(encode_alert(p))
    assert back["candidate"]["ra"] == 1.5 and _same(back, p)


def test_file_path_round_trip_and_deflate(tmp_path: Any) -> None:
    p = alert_packet(object_id="ARG1", candidate=MINIMAL, science=_stamp())
    path = tmp_path / "alerts.avro"
    write_alerts(path, [p] * 3, codec="deflate")
    assert _same(read_alerts(path), [p] * 3)
    # fastavro's own reader on the file, without our helpers
    with open(path, "rb") as fo:
        reader = fastavro.reader(fo)
        assert reader.writer_schema["name"] == "ztf.alert"
        assert sum(1 for _ in reader) == 3


def test_fast_fits_writer_matches_astropy_bytes_semantics() -> None:
    stamp = _stamp(4)
    ours = gzip.decompress(stamp_to_gzipped_fits(stamp))
    buf = io.BytesIO()
    fits.PrimaryHDU(stamp).writeto(buf)
    theirs = buf.getvalue()
    # same size and identical data block; headers differ only in astropy's EXTEND card
    assert len(ours) == len(theirs)
    assert ours[2880:] == theirs[2880:]


def test_module_exports() -> None:
    assert set(alerts.__all__) >= {"alert_packet", "write_alerts", "read_alerts"}
