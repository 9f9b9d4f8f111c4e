from __future__ import annotations

from pathlib import Path

import pytest

from pyk8s.images import blobs
from tests.imagekit import sha


def test_put_read_and_verify(tmp_path: Path) -> None:
    store = blobs.BlobStore(tmp_path)
    d = store.put(b"hello")
    assert d == sha(b"hello")
    assert store.read(d) == b"hello"
    assert store.has(d) and store.verify(d) and store.size(d) == 5
    assert list(store.digests()) == [d]


def test_wrong_digest_keeps_nothing(tmp_path: Path) -> None:
    store = blobs.BlobStore(tmp_path)
    with pytest.raises(blobs.DigestMismatch, match="expected"):
        store.put(b"hello", expected=sha(b"other"))
    w = store.writer(expected=sha(b"other"))
    w.write(b"hello")
    with pytest.raises(blobs.DigestMismatch):
        w.commit()
    assert list(store.digests()) == []
    assert list(store.tmp.iterdir()) == []


def test_size_is_checked(tmp_path: Path) -> None:
    store = blobs.BlobStore(tmp_path)
    with store.writer(expected_size=3) as w, pytest.raises(blobs.DigestMismatch, match="larger"):
        w.write(b"hello")
    assert list(store.tmp.iterdir()) == []


def test_interrupted_write_leaves_no_blob(tmp_path: Path) -> None:
    store = blobs.BlobStore(tmp_path)
    with pytest.raises(RuntimeError), store.writer() as w:
        w.write(b"partial")
        raise RuntimeError("connection lost")
    assert list(store.digests()) == []
    assert list(store.tmp.iterdir()) == []


def test_missing_and_bad_digests(tmp_path: Path) -> None:
    store = blobs.BlobStore(tmp_path)
    with pytest.raises(blobs.BlobNotFound, match="not found"):
        store.read(sha(b"x"))
    with pytest.raises(ValueError, match="invalid digest"):
        store.path("sha256:../../etc/passwd")
