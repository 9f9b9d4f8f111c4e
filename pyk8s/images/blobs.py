"""Content-addressed blobs: ``blobs/sha256/<hex>``, verified before they are kept.

A blob is written to a temporary file under ``tmp/``, hashed as it is written, fsynced, and
renamed into place only when its digest (and size, when known) match. An interrupted write
leaves a temp file that ``gc`` removes, never a wrong blob. Mirrors containerd
``content/local/store.go`` and ``writer.go`` (ingest, ``Commit`` with expected digest).

Everything here blocks: call it from a thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from pyk8s.images import reference

CHUNK = 1 << 20


class BlobNotFound(LookupError):
    def __init__(self, digest: str) -> None:
        super().__init__(f"blob {digest} not found in the image store")
        self.digest = digest


class DigestMismatch(ValueError):
    """Content did not hash to the digest (or size) it was announced with."""


class BlobWriter:
    """Streams one blob into the store; ``commit`` verifies and renames it into place."""

    def __init__(self, store: BlobStore, expected: str = "", expected_size: int = -1) -> None:
        self._store = store
        self.expected = expected
        self.expected_size = expected_size
        fd, name = tempfile.mkstemp(prefix="blob-", dir=store.tmp)
        self.tmp_path = Path(name)
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0
        self._done = False

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self._file.write(data)
        self.size += len(data)
        if 0 <= self.expected_size < self.size:
            raise DigestMismatch(
                f"blob {self.expected or ''} is larger than its announced size {self.expected_size}"
            )

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def commit(self) -> str:
        """Verify and keep the blob; returns its digest."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        digest = self.digest
        try:
            if self.expected and digest != self.expected:
                raise DigestMismatch(f"digest mismatch: expected {self.expected}, got {digest}")
            if self.expected_size >= 0 and self.size != self.expected_size:
                raise DigestMismatch(
                    f"size mismatch for {digest}: expected {self.expected_size}, got {self.size}"
                )
            target = self._store.path(digest)
            os.chmod(self.tmp_path, 0o644)
            os.replace(self.tmp_path, target)
        except BaseException:
            self.tmp_path.unlink(missing_ok=True)
            raise
        finally:
            self._done = True
        return digest

    def abort(self) -> None:
        if not self._done:
            self._file.close()
            self.tmp_path.unlink(missing_ok=True)
            self._done = True

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "blobs" / "sha256"
        self.tmp = root / "tmp"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        reference.validate_digest(digest)
        return self.dir / digest.removeprefix("sha256:")

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    def writer(self, expected: str = "", expected_size: int = -1) -> BlobWriter:
        return BlobWriter(self, expected, expected_size)

    def put(self, data: bytes, expected: str = "") -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if expected and expected != digest:
            raise DigestMismatch(f"digest mismatch: expected {expected}, got {digest}")
        if self.has(digest):
            return digest
        with self.writer(digest, len(data)) as w:
            w.write(data)
            return w.commit()

    def put_file(self, src: Path, expected: str = "") -> str:
        """Copy a file in (hashing it); ``expected`` is checked before anything is kept."""
        with self.writer(expected) as w, src.open("rb") as f:
            while chunk := f.read(CHUNK):
                w.write(chunk)
            if expected and self.has(expected) and w.digest == expected:
                return expected
            return w.commit()

    def read(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    @contextlib.contextmanager
    def open(self, digest: str) -> Iterator[BinaryIO]:
        try:
            f = self.path(digest).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(digest) from None
        with f:
            yield f

    def verify(self, digest: str) -> bool:
        h = hashlib.sha256()
        with self.open(digest) as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
        return "sha256:" + h.hexdigest() == digest

    def digests(self) -> Iterator[str]:
        for p in self.dir.iterdir():
            if len(p.name) == 64:
                yield "sha256:" + p.name

    def delete(self, digest: str) -> int:
        p = self.path(digest)
        try:
            size = p.stat().st_size
            p.unlink()
        except FileNotFoundError:
            return 0
        return size
