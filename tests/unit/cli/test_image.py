"""``pyk8s image ...`` in-process on hand-made archives: output shaped like docker's."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from pyk8s import cli
from tests import imagekit


def pyk8s(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(list(argv))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.fixture
def data(tmp_path: Path) -> str:
    return str(tmp_path / "data")


@pytest.fixture
def app_tar(tmp_path: Path) -> tuple[Path, imagekit.Built]:
    built = imagekit.build_image([{"a/": "", "a/x": "x" * 2000}, {"b": "b"}])
    path = tmp_path / "app.tar"
    imagekit.write_docker_archive(path, built, ["app:v1"])
    return path, built


def test_import_list_inspect_history(
    capsys: pytest.CaptureFixture[str], data: str, app_tar: tuple[Path, imagekit.Built]
) -> None:
    path, built = app_tar
    code, out, _ = pyk8s(capsys, "image", "import", "--data-dir", data, str(path))
    assert (code, out) == (0, "Loaded image: app:v1\n")
    code, out, _ = pyk8s(capsys, "image", "list", "--data-dir", data)
    header, row = out.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    short = built.config.removeprefix("sha256:")[:12]
    cols = row.split()
    assert cols[:3] == ["app", "v1", short]
    assert cols[-1] == f"{sum(len(r) for r in built.raw_layers) / 1000:.3g}kB"
    assert header.index("IMAGE ID") == row.index(short)

    code, out, _ = pyk8s(capsys, "image", "inspect", "--data-dir", data, "app:v1")
    [doc] = json.loads(out)
    assert doc["Id"] == built.config
    assert doc["RepoTags"] == ["app:v1"]
    assert doc["RootFS"] == {"Type": "layers", "Layers": built.diff_ids}
    assert doc["Config"]["Cmd"] == ["sh"]
    assert len(doc["GraphDriver"]["Data"]["LowerDir"].split(":")) == 2

    code, out, _ = pyk8s(capsys, "image", "history", "--data-dir", data, "app:v1")
    lines = out.splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].startswith(short) and "layer 1" in lines[1]
    assert lines[2].startswith("<missing>") and "layer 0" in lines[2]


def test_tag_rm_prune(
    capsys: pytest.CaptureFixture[str], data: str, app_tar: tuple[Path, imagekit.Built]
) -> None:
    path, built = app_tar
    pyk8s(capsys, "image", "import", "--data-dir", data, str(path))
    assert (
        pyk8s(capsys, "image", "tag", "--data-dir", data, "app:v1", "localhost:5000/team/app:v2")[0]
        == 0
    )
    code, out, _ = pyk8s(capsys, "image", "ls", "-q", "--data-dir", data)
    assert out.split() == [built.config.removeprefix("sha256:")[:12]]
    code, out, _ = pyk8s(capsys, "image", "ls", "--data-dir", data, "localhost:5000/team/app")
    assert out.splitlines()[1].split()[:2] == ["localhost:5000/team/app", "v2"]

    short = built.config.removeprefix("sha256:")[:12]
    code, _, err = pyk8s(capsys, "image", "rm", "--data-dir", data, short)
    assert code == 1 and "referenced in multiple repositories" in err
    code, out, _ = pyk8s(capsys, "image", "rm", "--data-dir", data, "app:v1")
    assert (code, out) == (0, "Untagged: app:v1\n")
    code, out, _ = pyk8s(capsys, "image", "rmi", "--data-dir", data, "localhost:5000/team/app:v2")
    assert out == f"Untagged: localhost:5000/team/app:v2\nDeleted: {built.config}\n"
    code, out, _ = pyk8s(capsys, "image", "ls", "--data-dir", data)
    assert len(out.splitlines()) == 1
    code, out, _ = pyk8s(capsys, "image", "prune", "--data-dir", data)
    assert out == "Total reclaimed space: 0B\n"
    code, out, _ = pyk8s(capsys, "image", "df", "--data-dir", data)
    assert out.splitlines()[2].split()[:2] == ["Blobs", "0"]


def test_export_then_import_elsewhere(
    capsys: pytest.CaptureFixture[str],
    data: str,
    tmp_path: Path,
    app_tar: tuple[Path, imagekit.Built],
) -> None:
    path, built = app_tar
    pyk8s(capsys, "image", "import", "--data-dir", data, str(path))
    out_tar = tmp_path / "out.tar"
    assert (
        pyk8s(capsys, "image", "export", "--data-dir", data, "app:v1", "-o", str(out_tar))[0] == 0
    )
    with tarfile.open(out_tar) as tar:
        entries = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert entries[0]["RepoTags"] == ["app:v1"]
    other = str(tmp_path / "other")
    code, out, _ = pyk8s(capsys, "image", "import", "--data-dir", other, str(out_tar))
    assert (code, out) == (0, "Loaded image: app:v1\n")
    _, out, _ = pyk8s(capsys, "image", "inspect", "--data-dir", other, "app:v1")
    assert json.loads(out)[0]["Id"] == built.config


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["inspect", "nope:1"], "image 'nope:1' not found in the image store at", id="missing"
        ),
        pytest.param(["tag", "nope", "x"], "not found", id="tag-missing"),
        pytest.param(["import", "/nonexistent.tar"], "cannot read /nonexistent.tar", id="no-file"),
        pytest.param(["inspect", "UPPER:1"], "not found", id="upper-is-no-ref"),
        pytest.param(["export", "nope", "-o", "/tmp/x.tar"], "not found", id="export-missing"),
    ],
)
def test_errors(
    capsys: pytest.CaptureFixture[str], data: str, argv: list[str], message: str
) -> None:
    code, out, err = pyk8s(capsys, "image", argv[0], "--data-dir", data, *argv[1:])
    assert code == 1 and out == ""
    assert err.startswith("error: ") and message in err


def test_save_to_stdout_and_load_from_stdin(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    app_tar: tuple[Path, imagekit.Built],
) -> None:
    """``pyk8s image save NAME > file`` and ``pyk8s image load < file``, as docker's."""
    import io

    path, built = app_tar
    data, other = str(tmp_path / "data"), str(tmp_path / "other")
    assert pyk8s(capsys, "image", "load", "--data-dir", data, "-i", str(path))[0] == 0
    out = io.BytesIO()
    wrapper = io.TextIOWrapper(out)
    with monkeypatch.context() as m:
        m.setattr("sys.stdout", wrapper)
        with pytest.raises(SystemExit) as exc:
            cli.main(["image", "save", "--data-dir", data, "app:v1"])
    assert exc.value.code == 0
    saved = out.getvalue()
    assert saved[257:262] == b"ustar"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(saved)))
    code, printed, _ = pyk8s(capsys, "image", "load", "--data-dir", other)
    assert (code, printed) == (0, "Loaded image: app:v1\n")
    _, printed, _ = pyk8s(capsys, "image", "inspect", "--data-dir", other, "app:v1")
    assert json.loads(printed)[0]["Id"] == built.config
