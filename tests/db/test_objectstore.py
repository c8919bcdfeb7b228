"""The object store on a local folder and on a real S3-compatible server (moto standalone)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from argus.config import Settings
from argus.db.objectstore import ObjectStore, check_key


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield ObjectStore(str(tmp_path / "objects"))
        return
    request.applymarker(pytest.mark.s3)
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    settings = Settings(object_store=f"s3://{bucket}/argus", s3_endpoint_url=endpoint)
    yield ObjectStore.from_settings(settings)


def test_put_get_list_delete_round_trip(store: ObjectStore, tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    put = store.put_bytes("rf/2026/a.bin", data)
    assert put.size_bytes == 256_000
    assert put.sha512 == hashlib.sha512(data).hexdigest()
    assert store.get_bytes("rf/2026/a.bin") == data
    assert store.sha512("rf/2026/a.bin") == put.sha512
    src = tmp_path / "f.dat"
    src.write_bytes(b"x" * (3 << 20) + b"tail")  # more than one 1 MiB chunk
    put2 = store.put_file("rf/2026/b.dat", src)
    assert put2.size_bytes == (3 << 20) + 4
    assert put2.sha512 == hashlib.sha512(src.read_bytes()).hexdigest()
    store.put_bytes("astro/c.fits", b"fits")
    assert [o.key for o in store.list_objects("rf")] == ["rf/2026/a.bin", "rf/2026/b.dat"]
    assert [o.size_bytes for o in store.list_objects("rf")] == [256_000, (3 << 20) + 4]
    assert len(store.list_objects()) == 3
    assert store.delete("rf/2026/a.bin") is True
    assert store.delete("rf/2026/a.bin") is False
    assert store.delete_many(["rf/2026/b.dat", "missing/x"]) == 1
    assert [o.key for o in store.list_objects()] == ["astro/c.fits"]
    assert store.exists("astro/c.fits") and not store.exists("rf/2026/b.dat")
    with pytest.raises(FileNotFoundError, match=r"rf/2026/a\.bin"):
        store.get_bytes("rf/2026/a.bin")
    assert store.url("astro/c.fits").endswith("/astro/c.fits")


def test_replacing_an_object_replaces_its_bytes(store: ObjectStore) -> None:
    store.put_bytes("k", b"old")
    store.put_bytes("k", b"new!")
    assert store.get_bytes("k") == b"new!"
    assert [o.size_bytes for o in store.list_objects()] == [4]


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a", "a/", "sp ace", "é"])
def test_unsafe_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="object key"):
        check_key(key)


def test_default_store_is_a_folder_under_var_dir(tmp_path: Path) -> None:
    store = ObjectStore.from_settings(Settings(var_dir=tmp_path))
    store.put_bytes("x/y.bin", b"1")
    assert (tmp_path / "objects" / "x" / "y.bin").read_bytes() == b"1"
    assert store.url("x/y.bin") == f"file://{tmp_path.resolve()}/objects/x/y.bin"


@pytest.mark.parametrize(
    ("value", "named"),
    [("ftp://host/x", "scheme 'ftp'"), ("s3://", "needs a bucket"), ("s3:///p", "needs a bucket")],
)
def test_bad_object_store_settings_are_refused(value: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Settings(object_store=value)
