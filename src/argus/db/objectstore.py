"""The object store: raw IQ, FITS frames and cutouts, kept by key.

One interface over fsspec (https://filesystem-spec.readthedocs.io): a local folder by default
(``<ARGUS_VAR_DIR>/objects``), any S3-compatible store with ``ARGUS_OBJECT_STORE=s3://bucket/prefix``
(s3fs; ``ARGUS_S3_ENDPOINT_URL`` for MinIO or moto, credentials from the usual AWS variables or
instance role — never from code). Keys are relative paths (``rf/2026/12/07/<uuid>.sigmf-data``).

Writes are atomic from a reader's point of view: a local object is written to a temporary name
and renamed; an S3 PUT is atomic by itself. Every write returns the object's size and sha512 so
the caller can keep them next to the row that names the object (docs/operations.md: "no
orphans"). The store knows nothing about rows: reconciling store and table is the domain
service's sweeper, which lists keys here and compares them with its table.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import fsspec

from argus.config import Settings

#: Allowed key characters; no leading slash, no ``..`` segment, no empty segment.
_KEY = re.compile(r"^[A-Za-z0-9._=-]+(/[A-Za-z0-9._=-]+)*$")
_CHUNK = 1 << 20


class ObjectStoreError(RuntimeError):
    """The store cannot be reached or refused an operation (the message says which and why)."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    url: str
    size_bytes: int
    sha512: str


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size_bytes: int
    modified: datetime | None


def check_key(key: str) -> str:
    """``key`` if it is a safe relative object key, else ValueError naming the problem."""
    if not isinstance(key, str) or not key or len(key) > 1024:
        raise ValueError(f"object key: must be 1..1024 characters, got {key!r}")
    if not _KEY.match(key) or any(part in {".", ".."} for part in key.split("/")):
        raise ValueError(
            f"object key {key!r}: only letters, digits, '._=-' and '/' between non-empty "
            "segments, no '.' or '..' segment, no leading '/'"
        )
    return key


class ObjectStore:
    """Objects under one root URL (``file:///abs/folder``, ``/abs/folder`` or ``s3://bucket/prefix``)."""

    def __init__(self, root: str, *, storage_options: dict[str, Any] | None = None) -> None:
        root = str(root).rstrip("/")
        protocol, _, rest = root.partition("://")
        if not rest:  # a plain path
            protocol, rest = "file", str(Path(root).expanduser().resolve())
        if protocol not in {"file", "s3", "memory"}:
            raise ValueError(
                f"ARGUS_OBJECT_STORE: scheme {protocol!r} is not supported "
                "(a folder path, file://…, s3://bucket/prefix)"
            )
        if protocol == "s3" and not rest.split("/")[0]:
            raise ValueError("ARGUS_OBJECT_STORE: s3:// needs a bucket (s3://bucket/prefix)")
        self.protocol = protocol
        self.root = rest.rstrip("/") if protocol != "file" else rest
        self.fs = fsspec.filesystem(protocol, **(storage_options or {}))
        if protocol == "file":
            Path(self.root).mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> ObjectStore:
        """The store the settings name: ``ARGUS_OBJECT_STORE`` or ``<var_dir>/objects``."""
        if not settings.object_store:
            return cls(str(Path(settings.var_dir) / "objects"))
        options: dict[str, Any] = {}
        if settings.object_store.startswith("s3://") and settings.s3_endpoint_url:
            options["client_kwargs"] = {"endpoint_url": settings.s3_endpoint_url}
        return cls(settings.object_store, storage_options=options)

    # ---- paths -------------------------------------------------------------------------------

    def _path(self, key: str) -> str:
        return f"{self.root}/{check_key(key)}"

    def url(self, key: str) -> str:
        """The object's full URL (``file:///…`` or ``s3://…``)."""
        return f"{self.protocol}://{self._path(key)}"

    def key_of(self, path: str) -> str:
        """The key of a path the filesystem returned (inverse of ``_path``)."""
        path = path.split("://", 1)[-1]
        root = self.root.lstrip("/") if not path.startswith("/") else self.root
        if not path.startswith(root + "/"):
            raise ValueError(f"{path!r} is not under the store root {self.root!r}")
        return path[len(root) + 1 :]

    # ---- writes ------------------------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        """Store ``data`` under ``key`` (replacing it) and return its size and sha512."""
        digest = hashlib.sha512(data).hexdigest()
        self._write(key, [data])
        return StoredObject(key, self.url(key), len(data), digest)

    def put_file(self, key: str, source: str | os.PathLike[str]) -> StoredObject:
        """Copy a local file into the store, hashing it on the way (constant memory)."""
        digest = hashlib.sha512()
        size = 0

        def chunks() -> Iterator[bytes]:
            nonlocal size
            with open(source, "rb") as fh:
                while block := fh.read(_CHUNK):
                    digest.update(block)
                    size += len(block)
                    yield block

        self._write(key, chunks())
        return StoredObject(key, self.url(key), size, digest.hexdigest())

    def _write(self, key: str, blocks: Any) -> None:
        path = self._path(key)
        try:
            if self.protocol == "file":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                tmp = f"{path}.tmp-{uuid.uuid4().hex}"
                try:
                    with open(tmp, "wb") as fh:
                        for block in blocks:
                            fh.write(block)
                        fh.flush()
                        os.fsync(fh.fileno())
                    os.replace(tmp, path)
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
            else:
                with self.fs.open(path, "wb") as fh:
                    for block in blocks:
                        fh.write(block)
        except OSError as exc:
            raise ObjectStoreError(f"object store: cannot write {self.url(key)}: {exc}") from exc

    # ---- reads -------------------------------------------------------------------------------

    def open(self, key: str) -> IO[bytes]:
        """A binary file object for reading ``key`` (FileNotFoundError names the key)."""
        path = self._path(key)
        try:
            return self.fs.open(path, "rb")
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                f"object {key!r} is not in {self.protocol}://{self.root}"
            ) from exc

    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as fh:
            return fh.read()

    def sha512(self, key: str) -> str:
        """The sha512 of the stored bytes (read back in chunks)."""
        digest = hashlib.sha512()
        with self.open(key) as fh:
            while block := fh.read(_CHUNK):
                digest.update(block)
        return digest.hexdigest()

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._path(key)))

    def list_objects(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object whose key starts with the folder ``prefix`` (recursive), sorted by key."""
        base = self._path(prefix.rstrip("/")) if prefix else self.root
        try:
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return []
        out = []
        for path, info in found.items():
            key = self.key_of(path)
            if ".tmp-" in key.rsplit("/", 1)[-1]:
                continue  # a local write in progress
            modified = info.get("mtime") or info.get("LastModified") or info.get("created")
            if isinstance(modified, int | float):
                modified = datetime.fromtimestamp(modified, UTC)
            out.append(ObjectInfo(key, int(info.get("size") or 0), modified))
        return sorted(out, key=lambda o: o.key)

    # ---- deletes -----------------------------------------------------------------------------

    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it existed."""
        path = self._path(key)
        if not self.fs.exists(path):
            return False
        self.fs.rm(path)
        return True

    def delete_many(self, keys: list[str]) -> int:
        """Remove every key that exists (one request per batch on S3); the number removed."""
        paths = [self._path(k) for k in keys]
        present = [p for p in paths if self.fs.exists(p)]
        if present:
            self.fs.rm(present)
        return len(present)
