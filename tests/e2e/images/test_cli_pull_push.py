"""``pyk8s image push`` and ``pull`` from the command line against docker-registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyk8s import cli
from tests.e2e.images.registry_fixture import PASSWORD, USER, Registry, docker_registry

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    with docker_registry(tmp_path / "registry") as r:
        yield r


def pyk8s(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(list(argv))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_push_and_pull_commands(
    registry: Registry,
    image_tarball: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, dest = str(tmp_path / "src"), str(tmp_path / "dest")
    assert (
        pyk8s(capsys, "image", "import", "--data-dir", src, str(image_tarball("busybox")))[0] == 0
    )
    name = f"{registry.host}/lib/busybox:1.37"
    code, out, err = pyk8s(
        capsys, "image", "push", "--data-dir", src, "--creds", f"{USER}:{PASSWORD}", "busybox", name
    )
    assert code == 0, err
    assert out.startswith(f"{name}: digest: sha256:")
    digest = out.split()[-1]

    code, _, err = pyk8s(capsys, "image", "pull", "--data-dir", dest, name)
    assert code == 1 and "wants a username and password" in err

    conf = tmp_path / "registries.yaml"
    conf.write_text(
        f'configs:\n  "{registry.host}":\n    auth: {{username: {USER}, password: {PASSWORD}}}\n'
    )
    code, out, err = pyk8s(
        capsys, "image", "pull", "--data-dir", dest, "--registry-config", str(conf), name
    )
    assert code == 0, err
    assert out == f"Digest: {digest}\nStatus: Downloaded newer image for {name}\n"
    code, out, _ = pyk8s(capsys, "image", "ls", "--data-dir", dest)
    assert out.splitlines()[1].split()[:2] == [f"{registry.host}/lib/busybox", "1.37"]


def test_login_pull_logout(
    registry: Registry,
    image_tarball: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    src, dest = str(tmp_path / "src"), str(tmp_path / "dest")
    pyk8s(capsys, "image", "import", "--data-dir", src, str(image_tarball("busybox")))
    code, _, err = pyk8s(capsys, "image", "login", "-u", USER, "-p", "wrong", registry.host)
    assert code == 1 and f"login to {registry.host} failed" in err
    code, out, err = pyk8s(capsys, "image", "login", "-u", USER, "-p", PASSWORD, registry.host)
    assert (code, out) == (0, "Login Succeeded\n"), err
    config = json.loads((tmp_path / "docker/config.json").read_text())
    assert list(config["auths"]) == [registry.host]
    assert (tmp_path / "docker/config.json").stat().st_mode & 0o777 == 0o600
    name = f"{registry.host}/team/bb:1"
    assert pyk8s(capsys, "image", "push", "--data-dir", src, "busybox", name)[0] == 0
    assert pyk8s(capsys, "image", "pull", "--data-dir", dest, name)[0] == 0
    code, out, _ = pyk8s(capsys, "image", "logout", registry.host)
    assert out == f"Removing login credentials for {registry.host}\n"
    code, _, err = pyk8s(capsys, "image", "pull", "--data-dir", dest, name)
    assert code == 1 and "wants a username and password" in err
