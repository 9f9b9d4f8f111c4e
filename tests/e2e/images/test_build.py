"""``pyk8s image build`` on real images: RUN in runc, COPY/ADD, multi-stage, cache, errors."""

from __future__ import annotations

import http.server
import io
import json
import subprocess
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyk8s import cli
from pyk8s.images import archive, layers
from pyk8s.images import store as store_mod
from pyk8s.images.build import builder, runner
from tests.e2e.images.conftest import run_in_image

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture
def bb_store(image_tarball: Callable[[str], Path], store: store_mod.Store) -> store_mod.Store:
    archive.import_archive(store, image_tarball("busybox"))
    return store


def build(store: store_mod.Store, ctx: Path, **kw: object) -> tuple[store_mod.Image, list[str]]:
    lines: list[str] = []
    b = builder.Builder(store, builder.Options(context=ctx, **kw), lines.append)  # type: ignore[arg-type]
    try:
        return b.build(), lines
    finally:
        b.close()


def no_leftovers(store: store_mod.Store) -> None:
    mounts = Path("/proc/mounts").read_text()
    assert str(store.root) not in mounts
    listed = subprocess.run(
        ["runc", "--root", str(runner.RUNC_ROOT), "list", "-q"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert "pyk8s-build-" not in listed
    assert not [p for p in (store.root / "tmp").iterdir()]


@pytest.fixture
def http_server() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"from the host network\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_everything_in_one_dockerfile(
    bb_store: store_mod.Store, tmp_path: Path, http_server: int
) -> None:
    ctx = tmp_path / "ctx"
    (ctx / "src/sub").mkdir(parents=True)
    (ctx / "src/app.sh").write_text("echo app\n")
    (ctx / "src/sub/data.txt").write_text("data\n")
    (ctx / "src/debug.log").write_text("ignored\n")
    (ctx / ".dockerignore").write_text("**/*.log\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("unpacked/hello.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"hello\n"))
    (ctx / "bundle.tar.gz").write_bytes(buf.getvalue())
    (ctx / "Dockerfile").write_text(
        "ARG VERSION=1\n"
        "FROM busybox AS build\n"
        "ARG VERSION\n"
        "ARG FLAVOUR=plain\n"
        'ENV APP_HOME=/srv/app GREETING="hi there"\n'
        "WORKDIR $APP_HOME\n"
        "COPY --chown=www-data:www-data src/ ./\n"
        "ADD bundle.tar.gz /opt/\n"
        f"ADD http://127.0.0.1:{http_server}/files/remote.txt /opt/\n"
        f"RUN wget -q -O /srv/net.txt http://127.0.0.1:{http_server}/ "
        '&& echo "$VERSION-$FLAVOUR" > version && rm /bin/wget\n'
        "USER nobody\n"
        "RUN id -u > /tmp/uid\n"
        "FROM busybox\n"
        "COPY --from=build /srv /srv\n"
        "COPY --from=build /opt/unpacked/hello.txt /tmp/uid /opt/remote.txt /\n"
        'LABEL org.example.team="images" version=2\n'
        "EXPOSE 80 53/udp\n"
        'VOLUME ["/data"]\n'
        "HEALTHCHECK --interval=5s --retries=2 CMD wget -q -O- http://localhost/ || exit 1\n"
        "STOPSIGNAL SIGQUIT\n"
        'ENTRYPOINT ["/bin/sh", "-c"]\n'
        'CMD ["cat /srv/app/version"]\n'
    )
    image, lines = build(
        bb_store,
        ctx,
        tags=["example.com/team/app:v1"],
        build_args={"FLAVOUR": "fancy", "UNUSED": "x"},
    )
    assert "[Warning] One or more build-args ['UNUSED'] were not consumed" in lines
    cfg = image.config["config"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-c"] and cfg["Cmd"] == ["cat /srv/app/version"]
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert cfg["Volumes"] == {"/data": {}}
    assert cfg["Labels"] == {"org.example.team": "images", "version": "2"}
    assert cfg["Healthcheck"] == {
        "Test": ["CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"],
        "Interval": 5_000_000_000,
        "Retries": 2,
    }
    assert cfg["StopSignal"] == "SIGQUIT"
    assert "GREETING=hi there" not in cfg.get("Env", [])  # ENV of another stage
    assert bb_store.resolve("example.com/team/app:v1").id == image.id

    p = run_in_image(
        bb_store,
        image,
        tmp_path,
        'cd "$ROOT"; cat srv/app/version srv/net.txt hello.txt uid remote.txt; echo $(ls srv/app); '
        "ls -ln srv/app/app.sh | awk '{print $3\":\"$4}'; ls bin/wget 2>&1 || true\n",
    )
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert out[:5] == [
        "1-fancy",
        "from the host network",
        "hello",
        "65534",
        "from the host network",
    ]
    assert sorted(out[5].split()) == ["app.sh", "sub", "version"]  # debug.log ignored
    assert out[6] == "33:33"  # www-data
    assert out[7] == "bin/wget"  # the final stage starts again from busybox

    # The first stage's RUN removed wget: its layer carries an overlayfs whiteout.
    history = [h["created_by"] for h in image.config["history"]]
    assert history[-1] == 'CMD ["cat /srv/app/version"]'
    no_leftovers(bb_store)


def test_cache_and_context_changes(bb_store: store_mod.Store, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "a.txt").write_text("one\n")
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nRUN echo built > /built\nCOPY a.txt /\nRUN cat /a.txt\n"
        'CMD ["cat", "/a.txt"]\n'
    )
    first, _ = build(bb_store, ctx, tags=["cached:1"])
    again, lines = build(bb_store, ctx, tags=["cached:1"])
    assert again.id == first.id
    assert lines.count(" ---> Using cache") == 4
    (ctx / "a.txt").write_text("two\n")
    changed, lines = build(bb_store, ctx, tags=["cached:2"])
    assert changed.id != first.id
    assert lines.count(" ---> Using cache") == 1  # only the first RUN
    assert changed.diff_ids[:2] == first.diff_ids[:2]
    top = bb_store.layer_path(changed.diff_ids[2]) / "fs/a.txt"
    assert top.read_text() == "two\n"
    assert bb_store.resolve("cached:1").id == first.id
    # Pruning keeps what the cache and the images use.
    bb_store.gc()
    assert layers.read_meta(bb_store.layer_path(first.diff_ids[-1])) is not None


def test_failing_run_names_the_step_and_tags_nothing(
    bb_store: store_mod.Store, tmp_path: Path
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\n\nRUN echo before\nRUN echo oops >&2; exit 3\nRUN echo after\n"
    )
    with pytest.raises(builder.BuildError) as e:
        build(bb_store, ctx, tags=["broken:1"])
    msg = str(e.value)
    assert (
        "Dockerfile:4" in msg and "RUN echo oops >&2; exit 3" in msg and "non-zero code: 3" in msg
    )
    with pytest.raises(store_mod.ImageNotFound):
        bb_store.resolve("broken:1")
    no_leftovers(bb_store)


def test_copy_errors(bb_store: store_mod.Store, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "secret.key").write_text("x")
    (ctx / ".dockerignore").write_text("*.key\n")
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY secret.key /\n")
    with pytest.raises(
        builder.BuildError,
        match=r"Dockerfile:2: COPY: file not found in build context or excluded by \.dockerignore",
    ):
        build(bb_store, ctx)
    (ctx / "Dockerfile").write_text("FROM busybox\nUSER nosuchuser\nRUN true\n")
    with pytest.raises(builder.BuildError, match="unable to find user nosuchuser"):
        build(bb_store, ctx)


def test_cli_build(
    bb_store: store_mod.Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        'FROM busybox\nRUN echo hello > /greeting\nCMD ["cat", "/greeting"]\n'
    )
    data = str(bb_store.root.parent)

    def pyk8s(*argv: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exc:
            cli.main(list(argv))
        out, err = capsys.readouterr()
        return int(exc.value.code or 0), out, err

    code, out, err = pyk8s("image", "build", "--data-dir", data, "-t", "dockerapp:v1.0", str(ctx))
    assert code == 0, err
    assert "Successfully tagged dockerapp:v1.0" in out
    code, out, _ = pyk8s("image", "inspect", "--data-dir", data, "dockerapp:v1.0")
    assert json.loads(out)[0]["Config"]["Cmd"] == ["cat", "/greeting"]
    (ctx / "Dockerfile").write_text("FROM busybox\nFROB x\n")
    code, _, err = pyk8s("image", "build", "--data-dir", data, str(ctx))
    assert code == 1 and "Dockerfile:2: unknown instruction: FROB" in err
    (ctx / "Dockerfile").write_text("FROM 127.0.0.1:9/nosuchimage-pyk8s:1\n")
    code, _, err = pyk8s(
        "image", "build", "--data-dir", data, "--registry-config", "/nonexistent", str(ctx)
    )
    assert code == 1 and "nosuchimage-pyk8s" in err


def test_onbuild_triggers_run_in_the_child(bb_store: store_mod.Store, tmp_path: Path) -> None:
    parent, child = tmp_path / "parent", tmp_path / "child"
    parent.mkdir()
    child.mkdir()
    (parent / "Dockerfile").write_text(
        "FROM busybox\nONBUILD COPY app.txt /app/\nONBUILD RUN cat /app/app.txt > /seen\n"
    )
    (child / "app.txt").write_text("child's file\n")
    (child / "Dockerfile").write_text('FROM onbuild-base:1\nCMD ["cat", "/seen"]\n')
    base, _ = build(bb_store, parent, tags=["onbuild-base:1"])
    assert len(base.config["config"]["OnBuild"]) == 2
    image, lines = build(bb_store, child, tags=["onbuild-child:1"])
    assert "# Executing 2 build trigger(s)" in lines
    assert not image.config["config"].get("OnBuild")
    top = bb_store.layer_path(image.diff_ids[-1]) / "fs/seen"
    assert top.read_text() == "child's file\n"


def test_run_resolves_names_and_reaches_debian(
    image_tarball: Callable[[str], Path], store: store_mod.Store, tmp_path: Path
) -> None:
    """RUN has the host's network and DNS, so ``apt-get`` works in a build."""
    archive.import_archive(store, image_tarball("debian"))
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM debian:bookworm\n"
        "RUN getent hosts deb.debian.org > /resolved && apt-get update -q >/dev/null "
        "&& apt-cache policy hello | grep -c Candidate > /candidate "
        "&& rm -rf /var/lib/apt/lists/*\n"
    )
    image, _ = build(store, ctx, tags=["apt-works:1"])
    top = store.layer_path(image.diff_ids[-1]) / "fs"
    assert "deb.debian.org" in (top / "resolved").read_text()
    assert (top / "candidate").read_text().strip() == "1"
    assert not (top / "etc/resolv.conf").exists()  # the bind mount left nothing in the layer
    no_leftovers(store)


def test_heredocs(bb_store: store_mod.Store, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\n"
        "RUN <<EOF\n"
        "echo one > /one\n"
        "echo two >> /one\n"
        "EOF\n"
        "RUN cat > /two <<'END'\n"
        "literal $HOME\n"
        "END\n"
        "COPY <<-CONF /etc/app.conf\n"
        "\tkey=value\n"
        "\tCONF\n"
        'CMD ["cat", "/one"]\n'
    )
    image, _ = build(bb_store, ctx, tags=["heredoc:1"])
    lowers = bb_store.unpack(image)
    assert (lowers[-3] / "one").read_text() == "one\ntwo\n"
    assert (lowers[-2] / "two").read_text() == "literal $HOME\n"
    assert (lowers[-1] / "etc/app.conf").read_text() == "key=value\n"
    assert image.config["config"]["Cmd"] == ["cat", "/one"]
