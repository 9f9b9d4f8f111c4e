"""Volume payloads swap atomically through ``..data``; removed keys disappear."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyk8s.kubelet.volumes import atomic_writer
from pyk8s.kubelet.volumes.manager import VolumeError, check_host_path

File = atomic_writer.File


def test_write_update_and_remove(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert atomic_writer.write(target, {"a": File(b"1"), "dir/b": File(b"2", 0o600)})
    assert (target / "a").read_text() == "1" and (target / "a").is_symlink()
    assert (target / "dir" / "b").stat().st_mode & 0o777 == 0o600
    assert not atomic_writer.write(target, {"a": File(b"1"), "dir/b": File(b"2", 0o600)})
    first = (target / "..data").readlink()
    assert atomic_writer.write(target, {"a": File(b"changed")})
    assert (target / "a").read_text() == "changed"
    assert not (target / "dir").exists()
    assert not (target / first).exists()  # the old payload is gone


def test_bad_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid file name"):
        atomic_writer.write(tmp_path / "v", {"../escape": File(b"x")})


def test_host_path_types(tmp_path: Path) -> None:
    check_host_path(str(tmp_path / "new"), "DirectoryOrCreate")
    assert (tmp_path / "new").is_dir()
    check_host_path(str(tmp_path / "f"), "FileOrCreate")
    assert (tmp_path / "f").is_file()
    check_host_path(str(tmp_path / "f"), "File")
    with pytest.raises(VolumeError, match="is not a directory"):
        check_host_path(str(tmp_path / "f"), "Directory")
    with pytest.raises(VolumeError, match="does not exist"):
        check_host_path(str(tmp_path / "missing"), "Directory")
