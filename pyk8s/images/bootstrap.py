"""``pyk8s image bootstrap``: real base images made from Debian's packages, no registry needed.

- ``busybox``: ``busybox-static`` from Debian trixie (1.37; bookworm's 1.35 crashes on
  ``wget -T``), fetched with ``apt-get download`` in a private apt state directory (the
  machine's apt sources are never touched), every applet hard-linked in ``/bin`` as the
  official image has them.
- ``debian`` (``debian:bookworm``) and ``debian-slim`` (``debian:bookworm-slim``):
  ``debootstrap --variant=minbase``, cleaned as the official images are (no apt lists, no
  device nodes; slim without docs, man pages and locales).
- ``nginx`` and ``python``: Debian's ``nginx`` / ``python3`` installed with apt-get on the
  debian image, in an overlayfs mounted inside a private mount namespace (``unshare``), so
  every mount goes away with the process; the overlay's upper dir becomes the new layer.

Needs root (debootstrap, mknod, chroot) and Debian's mirror. Everything here blocks: call it
from a thread.
"""

from __future__ import annotations

import os
import platform as _platform
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyk8s.images import commit, layers, reference
from pyk8s.images import store as store_mod

MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
SUITE = "bookworm"

Log = Callable[[str], None]


class BootstrapError(RuntimeError):
    pass


def _run(cmd: list[str], log: Log, **kw: Any) -> str:
    log("$ " + shlex.join(cmd))
    p: subprocess.CompletedProcess[str] = subprocess.run(
        cmd, capture_output=True, text=True, check=False, **kw
    )
    if p.returncode != 0:
        tail = "\n".join((p.stdout + p.stderr).strip().splitlines()[-20:])
        raise BootstrapError(f"{shlex.join(cmd[:3])}... failed (exit {p.returncode}):\n{tail}")
    return p.stdout


def deb_arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "armhf", "i686": "i386"}.get(
        _platform.machine(), _platform.machine()
    )


class PrivateApt:
    """apt-get with its own sources, lists and cache under ``root``; the system's untouched."""

    def __init__(self, root: Path, suite: str) -> None:
        self.root = root
        for d in ("etc/sources.list.d", "etc/preferences.d", "state/lists/partial"):
            (root / d).mkdir(parents=True, exist_ok=True)
        (root / "cache/archives/partial").mkdir(parents=True, exist_ok=True)
        (root / "etc/sources.list").write_text(f"deb [signed-by={KEYRING}] {MIRROR} {suite} main\n")
        self.opts = [
            f"-oDir::Etc={root}/etc",
            f"-oDir::Etc::SourceList={root}/etc/sources.list",
            f"-oDir::Etc::SourceParts={root}/etc/sources.list.d",
            f"-oDir::Etc::Preferences={root}/etc/preferences",
            f"-oDir::Etc::PreferencesParts={root}/etc/preferences.d",
            f"-oDir::State={root}/state",
            "-oDir::State::status=/dev/null",
            f"-oDir::Cache={root}/cache",
            f"-oAPT::Architecture={deb_arch()}",
            "-oAPT::Sandbox::User=root",
            "-oDebug::NoLocking=1",
            "-q",
        ]

    def update(self, log: Log) -> None:
        _run(["apt-get", *self.opts, "update"], log)

    def download(self, package: str, dest: Path, log: Log) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        _run(["apt-get", *self.opts, "download", package], log, cwd=dest)
        debs = sorted(dest.glob(f"{package}_*.deb"))
        if not debs:
            raise BootstrapError(f"apt-get download {package} produced no .deb")
        return debs[-1]


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def _layer_from_tree(store: store_mod.Store, tree: Path, *, upper: bool = False) -> commit.NewLayer:
    digest, diff_id, size, _ = layers.write_layer(tree, store.blobs, upper=upper)
    return commit.NewLayer(digest, diff_id, size)


def _single_layer_image(
    store: store_mod.Store, tree: Path, names: list[str], created_by: str, cfg: dict[str, Any]
) -> store_mod.Image:
    layer = _layer_from_tree(store, tree)
    config = commit.base_config(None, store.platform)
    config["config"] = cfg
    commit.add_layer(config, layer, created_by)
    return commit.write_image(store, None, config, [layer], names)


def busybox(store: store_mod.Store, work: Path, log: Log) -> store_mod.Image:
    apt = PrivateApt(work / "apt", "trixie")
    apt.update(log)
    deb = apt.download("busybox-static", work / "debs", log)
    version = deb.name.split("_")[1].replace("%3a", ":")
    extracted = work / "deb"
    _run(["dpkg-deb", "-x", str(deb), str(extracted)], log)
    binary = next(
        p for p in (extracted / "usr/bin/busybox", extracted / "bin/busybox") if p.exists()
    )
    root = work / "rootfs"
    for d in ("bin", "dev", "etc", "home", "proc", "sys", "usr/sbin", "var/spool/mail", "var/www"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "root").mkdir(mode=0o700)
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(binary, root / "bin/busybox")
    os.chmod(root / "bin/busybox", 0o755)
    applets = _run([str(root / "bin/busybox"), "--list"], log).split()
    if "sh" not in applets or "wget" not in applets:
        raise BootstrapError(f"busybox {version} lacks sh or wget applets")
    for applet in applets:
        if applet != "busybox":
            os.link(root / "bin/busybox", root / "bin" / applet)
    _write(
        root / "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
        "bin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\n"
        "www-data:x:33:33:www-data:/var/www:/bin/false\n"
        "nobody:x:65534:65534:nobody:/home:/bin/false\n",
    )
    _write(
        root / "etc/group",
        "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nwww-data:x:33:\nnogroup:x:65534:\n",
    )
    _write(root / "etc/shadow", "root:*:10933:0:99999:7:::\n", 0o640)
    upstream = version.split(":")[-1].split("-")[0]
    minor = ".".join(upstream.split(".")[:2])
    names = ["busybox:latest", f"busybox:{upstream}", f"busybox:{minor}"]
    return _single_layer_image(
        store,
        root,
        names,
        f"pyk8s bootstrap busybox (Debian trixie busybox-static {version})",
        {"Env": [f"PATH={commit.DEFAULT_PATH}"], "Cmd": ["sh"]},
    )


def _sources(suite: str) -> str:
    return (
        "Types: deb\n"
        f"URIs: {MIRROR}\n"
        f"Suites: {suite} {suite}-updates\n"
        "Components: main\n"
        f"Signed-By: {KEYRING}\n\n"
        "Types: deb\n"
        f"URIs: {SECURITY_MIRROR}\n"
        f"Suites: {suite}-security\n"
        "Components: main\n"
        f"Signed-By: {KEYRING}\n"
    )


def _clean_rootfs(root: Path) -> None:
    for pattern in (
        "var/lib/apt/lists/*",
        "var/cache/apt/*.bin",
        "var/cache/apt/archives/*.deb",
        "var/cache/debconf/*-old",
        "var/log/*.log",
        "var/log/apt/*",
        "dev/*",
        "tmp/*",
        "root/.bash_history",
        "var/lib/dpkg/*-old",
    ):
        for p in root.glob(pattern):
            if p.is_dir() and not p.is_symlink():
                if p.name != "partial":
                    layers.remove_tree(p)
            else:
                p.unlink()
    for f in ("etc/resolv.conf", "etc/hostname"):
        p = root / f
        if p.exists() or p.is_symlink():
            p.unlink()
        p.write_text("")


def debian(store: store_mod.Store, work: Path, log: Log, *, slim: bool) -> store_mod.Image:
    root = work / "rootfs"
    full = None
    if slim:
        try:
            full = store.resolve(f"debian:{SUITE}")
        except store_mod.ImageNotFound:
            full = None
    if full is not None and len(full.diff_ids) == 1:
        # The slim image is the full one, trimmed: no second debootstrap.
        [tree] = store.unpack(full)
        _run(["cp", "-a", str(tree), str(root)], log)
    else:
        _run(
            ["debootstrap", "--variant=minbase", f"--keyring={KEYRING}", SUITE, str(root), MIRROR],
            log,
        )
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    _write(root / "etc/apt/sources.list.d/debian.sources", _sources(SUITE))
    _write(
        root / "etc/apt/apt.conf.d/docker-clean",
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n',
    )
    _write(root / "etc/apt/apt.conf.d/docker-no-languages", 'Acquire::Languages "none";\n')
    _clean_rootfs(root)
    version = (root / "etc/debian_version").read_text().strip()
    major = version.split(".")[0]
    tags = [SUITE, major, "latest"]
    if slim:
        _write(
            root / "etc/dpkg/dpkg.cfg.d/docker",
            "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n"
            "path-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\n"
            "path-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n",
        )
        for pattern in ("usr/share/man/*", "usr/share/info/*", "usr/share/locale/*"):
            for p in root.glob(pattern):
                if p.name == "locale.alias":
                    continue
                if p.is_dir() and not p.is_symlink():
                    layers.remove_tree(p)
                else:
                    p.unlink()
        for p in root.glob("usr/share/doc/*"):
            for q in p.iterdir() if p.is_dir() else []:
                if q.name != "copyright":
                    if q.is_dir() and not q.is_symlink():
                        layers.remove_tree(q)
                    else:
                        q.unlink()
        tags = [f"{SUITE}-slim", f"{major}-slim"]
    names = [f"debian:{t}" for t in tags]
    return _single_layer_image(
        store,
        root,
        names,
        f"pyk8s bootstrap debian{'-slim' if slim else ''} "
        f"(debootstrap --variant=minbase {SUITE}, Debian {version})",
        {"Env": [f"PATH={commit.DEFAULT_PATH}"], "Cmd": ["bash"]},
    )


def run_on_image(
    store: store_mod.Store, base: store_mod.Image, work: Path, script: str, log: Log
) -> Path:
    """Run ``script`` (sh) as root in a chroot of ``base`` + a fresh upper dir, with the host's
    network and DNS; returns the upper dir (the changes). Mounts live in a private mount
    namespace and vanish with it."""
    lowers = store.lower_dirs(base)
    upper, workdir, merged = work / "upper", work / "work", work / "merged"
    for d in (upper, workdir, merged):
        d.mkdir(parents=True)
    opts = f"lowerdir={':'.join(map(str, lowers))},upperdir={upper},workdir={workdir}"
    m = shlex.quote(str(merged))
    inner = (
        "set -e\n"
        f"mount -t overlay overlay -o {shlex.quote(opts)} {m}\n"
        f"mount -t proc proc {m}/proc\n"
        f"mount --rbind /dev {m}/dev\n"
        f"mount --bind /etc/resolv.conf {m}/etc/resolv.conf\n"
        f"chroot {m} /bin/sh -ec {shlex.quote(script)}\n"
    )
    _run(
        ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "sh", "-c", inner],
        log,
        env={"PATH": commit.DEFAULT_PATH, "DEBIAN_FRONTEND": "noninteractive", "LANG": "C"},
    )
    layers.remove_tree(workdir)
    return upper


_APT_INSTALL = (
    "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d\n"
    "apt-get update -q\n"
    "apt-get install -y -q --no-install-recommends {packages}\n"
    "rm -f /usr/sbin/policy-rc.d\n"
    "rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old\n"
)


def _on_debian(
    store: store_mod.Store,
    work: Path,
    log: Log,
    name: str,
    packages: str,
    extra: str,
    cfg: dict[str, Any],
    tags: Callable[[store_mod.Image, Path], list[str]],
) -> store_mod.Image:
    base = store.resolve(f"debian:{SUITE}")
    upper = run_on_image(store, base, work, _APT_INSTALL.format(packages=packages) + extra, log)
    layer = _layer_from_tree(store, upper, upper=True)
    config = commit.base_config(base, store.platform)
    config["config"].update(cfg)
    commit.add_layer(config, layer, f"pyk8s bootstrap {name} (apt-get install {packages})")
    names = tags(base, upper)
    return commit.write_image(store, base, config, [layer], names)


def _dpkg_version(upper: Path, package: str) -> str:
    status = upper / "var/lib/dpkg/status"
    block = ""
    for para in status.read_text().split("\n\n"):
        if para.startswith(f"Package: {package}\n"):
            block = para
    for line in block.splitlines():
        if line.startswith("Version: "):
            return line.split(": ", 1)[1].split(":")[-1].split("-")[0]
    return ""


def nginx(store: store_mod.Store, work: Path, log: Log) -> store_mod.Image:
    extra = (
        "ln -sf /dev/stdout /var/log/nginx/access.log\n"
        "ln -sf /dev/stderr /var/log/nginx/error.log\n"
    )

    def tags(_: store_mod.Image, upper: Path) -> list[str]:
        v = _dpkg_version(upper, "nginx") or _dpkg_version(upper, "nginx-core")
        minor = ".".join(v.split(".")[:2])
        return ["nginx:latest"] + ([f"nginx:{v}", f"nginx:{minor}"] if v else [])

    return _on_debian(
        store,
        work,
        log,
        "nginx",
        "nginx",
        extra,
        {
            "Cmd": ["nginx", "-g", "daemon off;"],
            "ExposedPorts": {"80/tcp": {}},
            "StopSignal": "SIGQUIT",
        },
        tags,
    )


def python(store: store_mod.Store, work: Path, log: Log) -> store_mod.Image:
    extra = "ln -s /usr/bin/python3 /usr/local/bin/python\n"

    def tags(_: store_mod.Image, upper: Path) -> list[str]:
        v = _dpkg_version(upper, "python3")
        minor = ".".join(v.split(".")[:2])
        return ["python:3", "python:latest"] + ([f"python:{minor}"] if minor else [])

    return _on_debian(store, work, log, "python", "python3", extra, {"Cmd": ["python3"]}, tags)


BUILDERS: dict[str, tuple[list[str], Callable[[store_mod.Store, Path, Log], store_mod.Image]]] = {
    "busybox": ([], busybox),
    "debian": ([], lambda s, w, log: debian(s, w, log, slim=False)),
    "debian-slim": (["debian"], lambda s, w, log: debian(s, w, log, slim=True)),
    "nginx": (["debian"], nginx),
    "python": (["debian"], python),
}
PRESENT = {
    "busybox": "busybox:latest",
    "debian": f"debian:{SUITE}",
    "debian-slim": f"debian:{SUITE}-slim",
    "nginx": "nginx:latest",
    "python": "python:3",
}


def canonical(name: str) -> str:
    """Accept ``debian:bookworm-slim``, ``python:3``, ``nginx`` and the like."""
    ref = reference.parse(name)
    short = ref.familiar_name()
    if short == "debian" and ref.tag.endswith("slim"):
        return "debian-slim"
    if short not in BUILDERS:
        raise BootstrapError(f"cannot bootstrap {name!r}: choose one of {', '.join(BUILDERS)}")
    return short


def bootstrap(
    store: store_mod.Store, name: str, log: Log, *, force: bool = False
) -> store_mod.Image:
    """Make image ``name`` (and what it is built on) unless it is already in the store."""
    key = canonical(name)
    deps, build = BUILDERS[key]
    if not force:
        try:
            return store.resolve(PRESENT[key])
        except store_mod.ImageNotFound:
            pass
    if os.geteuid() != 0:
        raise BootstrapError("pyk8s image bootstrap needs root (debootstrap, mknod, chroot)")
    for dep in deps:
        bootstrap(store, dep, log)
    with store.writing():
        work = Path(tempfile.mkdtemp(prefix=f"bootstrap-{key}-", dir=store.blobs.tmp))
        try:
            return build(store, work, log)
        finally:
            layers.remove_tree(work)
