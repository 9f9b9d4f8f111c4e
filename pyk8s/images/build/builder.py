"""``pyk8s image build``: a Dockerfile builder on the image store.

Each stage starts from ``scratch``, an image in the store or an earlier stage, and runs its
instructions in order: ``RUN`` in runc on an overlayfs of the layers so far (runner.py),
``COPY``/``ADD`` into a fresh layer tree, ``WORKDIR`` creating its directory, the rest editing
the image config and history. Every step is cached under a key chained from the base image and
the steps before it (plus, for ``RUN``, the build args it sees and, for ``COPY``/``ADD``, the
content of its sources), so a rebuild of an unchanged Dockerfile reuses every layer and
history entry and yields the same image ID, as docker's builder does. Names are written only
when the whole build succeeded. Mirrors moby ``builder/dockerfile/dispatchers.go``,
``internals.go`` (``probeCache``, ``commit``) and ``copy.go``.

Blocks: call it from a thread.
"""

from __future__ import annotations

import contextlib
import copy as copy_mod
import fcntl
import glob
import hashlib
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from pyk8s.images import commit, layers, manifest, reference
from pyk8s.images import store as store_mod
from pyk8s.images.build import dockerfile, dockerignore, runner

CACHE_FILE = "build-cache.json"
DEFAULT_SHELL = ["/bin/sh", "-c"]
Output = Callable[[str], None]


class BuildError(RuntimeError):
    """A build that failed: the message names the Dockerfile line and step."""


@dataclass
class Options:
    context: Path
    dockerfile: Path | None = None
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False


@dataclass
class _Layer:
    media_type: str
    digest: str
    size: int
    diff_id: str


@dataclass
class _State:
    config: dict[str, Any]
    layers: list[_Layer]
    key: str
    args: dict[str, str] = field(default_factory=dict)

    @property
    def cfg(self) -> dict[str, Any]:
        c: dict[str, Any] = self.config.setdefault("config", {})
        return c

    def env(self) -> dict[str, str]:
        out = dict(self.args)
        for kv in self.cfg.get("Env") or []:
            k, _, v = kv.partition("=")
            out[k] = v
        return out


def base_images(df: dockerfile.Dockerfile, build_args: dict[str, str]) -> list[str]:
    """Images the stages start from that are neither ``scratch`` nor an earlier stage."""
    env = _global_args(df, build_args)
    names: set[str] = set()
    out = []
    for stage in df.stages:
        base = dockerfile.expand(stage.base, env, df.escape)
        if base.lower() != "scratch" and base.lower() not in names and base not in out:
            out.append(base)
        if stage.name:
            names.add(stage.name)
    return out


def _global_args(df: dockerfile.Dockerfile, build_args: dict[str, str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for ins in df.global_args:
        for name, default in _arg_decls(ins, env, df.escape):
            env[name] = build_args.get(name, default if default is not None else "")
    return env


def _arg_decls(
    ins: dockerfile.Instruction, env: dict[str, str], escape: str
) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for word in dockerfile.words(ins.args, env, escape):
        name, sep, default = word.partition("=")
        out.append((name, default if sep else None))
    return out


class Builder:
    def __init__(self, store: store_mod.Store, opts: Options, output: Output) -> None:
        self.store = store
        self.opts = opts
        self.out = output
        self.file = str(opts.dockerfile or "Dockerfile")
        self.work = Path(tempfile.mkdtemp(prefix="build-", dir=store.blobs.tmp))
        self.ignore = dockerignore.Matcher(dockerignore.read(opts.context))
        self.cache = _Cache(store.root / CACHE_FILE)
        self.used_args: set[str] = set()

    def close(self) -> None:
        layers.remove_tree(self.work)

    # -- driver --------------------------------------------------------------------------

    def build(self) -> store_mod.Image:
        path = self.opts.dockerfile or (self.opts.context / "Dockerfile")
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise BuildError(f"cannot read the Dockerfile: {path} does not exist") from None
        df = dockerfile.parse(text, self.file)
        stages = df.stages
        if self.opts.target:
            idx = [i for i, s in enumerate(stages) if s.name == self.opts.target.lower()]
            if not idx:
                raise BuildError(f"target stage {self.opts.target!r} could not be found")
            stages = stages[: idx[0] + 1]
        total = sum(1 + len(s.instructions) for s in stages)
        global_env = _global_args(df, self.opts.build_args)
        self.used_args.update(
            a for ins in df.global_args for a, _ in _arg_decls(ins, {}, df.escape)
        )
        done: dict[str, _State] = {}
        by_index: list[_State] = []
        step = 0
        state: _State | None = None
        for stage in stages:
            step += 1
            base = dockerfile.expand(stage.base, global_env, df.escape)
            self.out(
                f"Step {step}/{total} : FROM {base}" + (f" AS {stage.name}" if stage.name else "")
            )
            state = self._from(base, done)
            for ins in stage.instructions:
                step += 1
                self.out(f"Step {step}/{total} : {ins.original}")
                try:
                    self._dispatch(state, ins, df, global_env, done, by_index)
                except (ValueError, OSError, manifest.ManifestError, store_mod.ImageNotFound) as e:
                    if isinstance(e, BuildError | dockerfile.DockerfileError):
                        raise
                    raise BuildError(f"{self.file}:{ins.line}: {ins.cmd}: {e}") from None
            by_index.append(state)
            if stage.name:
                done[stage.name] = state
        assert state is not None
        unused = sorted(set(self.opts.build_args) - self.used_args)
        if unused:
            self.out(f"[Warning] One or more build-args {unused} were not consumed")
        image = self._commit(state)
        self.out(f"Successfully built {image.id.removeprefix('sha256:')[:12]}")
        if self.opts.tags:
            names = [str(reference.parse(t)) for t in self.opts.tags]
            self.store.set_refs(names, image.target, manifest.OCI_MANIFEST)
            for t in self.opts.tags:
                self.out(f"Successfully tagged {reference.parse(t).familiar()}")
            image = self.store.load(image.target, tuple(names))
        return image

    def _from(self, base: str, done: dict[str, _State]) -> _State:
        if base.lower() in done:
            prev = done[base.lower()]
            return _State(copy_mod.deepcopy(prev.config), list(prev.layers), prev.key)
        if base.lower() == "scratch":
            config = commit.base_config(None, self.store.platform)
            return _State(config, [], "scratch")
        image = self.store.resolve(base)
        self.store.unpack(image)
        config = commit.base_config(image, self.store.platform)
        config.pop("container_config", None)
        config.pop("container", None)
        base_layers = [
            _Layer(_OCI.get(d.media_type, d.media_type), d.digest, d.size, diff)
            for d, diff in zip(image.manifest.layers, image.diff_ids, strict=True)
        ]
        return _State(config, base_layers, image.manifest_digest)

    def _lowers(self, state: _State) -> list[Path]:
        return [self.store.layer_path(layer.diff_id) / "fs" for layer in state.layers]

    def _dispatch(
        self,
        state: _State,
        ins: dockerfile.Instruction,
        df: dockerfile.Dockerfile,
        global_env: dict[str, str],
        done: dict[str, _State],
        by_index: list[_State],
    ) -> None:
        cmd = ins.cmd
        env = state.env()
        esc = df.escape
        cfg = state.cfg
        if cmd == "ARG":
            for name, default in _arg_decls(ins, env, esc):
                self.used_args.add(name)
                if name in self.opts.build_args:
                    value = self.opts.build_args[name]
                elif default is not None:
                    value = default
                else:
                    value = global_env.get(name, "")
                state.args[name] = value
            self._meta(state, ins, extra=json.dumps(sorted(state.args.items())))
        elif cmd == "ENV":
            pairs = dockerfile.key_values(ins.args, env, esc, "ENV")
            envs = cfg.setdefault("Env", [])
            for k, v in pairs:
                envs[:] = [e for e in envs if e.partition("=")[0] != k] + [f"{k}={v}"]
            self._meta(state, ins)
        elif cmd == "LABEL":
            labels = cfg.get("Labels") or {}
            labels.update(dockerfile.key_values(ins.args, env, esc, "LABEL"))
            cfg["Labels"] = labels
            self._meta(state, ins)
        elif cmd in ("CMD", "ENTRYPOINT"):
            argv: list[str] = ins.json if ins.json is not None else [*self._shell(state), ins.args]
            if ins.json is None and not ins.args:
                argv = []
            if cmd == "ENTRYPOINT":
                cfg["Entrypoint"] = argv or None
                if not state.config.get("_cmd_set"):
                    cfg["Cmd"] = None
            else:
                cfg["Cmd"] = argv
                state.config["_cmd_set"] = True
            self._meta(state, ins)
        elif cmd == "EXPOSE":
            ports = cfg.get("ExposedPorts") or {}
            for p in dockerfile.words(ins.args, env, esc):
                ports.update({k: {} for k in _ports(p)})
            cfg["ExposedPorts"] = ports
            self._meta(state, ins)
        elif cmd == "USER":
            user = dockerfile.expand(ins.args, env, esc)
            if not user:
                raise ValueError("USER requires an argument")
            cfg["User"] = user
            self._meta(state, ins)
        elif cmd == "VOLUME":
            vols = cfg.get("Volumes") or {}
            for v in ins.json if ins.json is not None else dockerfile.words(ins.args, env, esc):
                if not v:
                    raise ValueError("VOLUME specified can not be an empty string")
                vols[v] = {}
            cfg["Volumes"] = vols
            self._meta(state, ins)
        elif cmd == "STOPSIGNAL":
            cfg["StopSignal"] = dockerfile.expand(ins.args, env, esc)
            self._meta(state, ins)
        elif cmd == "SHELL":
            if ins.json is None:
                raise ValueError("SHELL requires the arguments to be in JSON form")
            cfg["Shell"] = ins.json
            self._meta(state, ins)
        elif cmd == "MAINTAINER":
            state.config["author"] = ins.args
            self._meta(state, ins)
        elif cmd == "ONBUILD":
            cfg.setdefault("OnBuild", []).append(ins.args)
            self._meta(state, ins)
        elif cmd == "HEALTHCHECK":
            cfg["Healthcheck"] = _healthcheck(ins)
            self._meta(state, ins)
        elif cmd == "WORKDIR":
            path = dockerfile.expand(ins.args, env, esc)
            path = os.path.normpath(os.path.join(cfg.get("WorkingDir") or "/", path))
            cfg["WorkingDir"] = path
            if layers.lookup(self._lowers(state), path) is None:
                self._layer_step(
                    state,
                    ins,
                    f"mkdir {path}",
                    lambda tree: _mkdirs(tree, path, self._lowers(state)),
                )
            else:
                self._meta(state, ins)
        elif cmd == "RUN":
            self._run(state, ins)
        elif cmd in ("COPY", "ADD"):
            self._copy(state, ins, env, esc, done, by_index)
        else:  # pragma: no cover - the parser knows every instruction
            raise ValueError(f"unsupported instruction {cmd}")

    def _shell(self, state: _State) -> list[str]:
        return list(state.cfg.get("Shell") or DEFAULT_SHELL)

    # -- steps ---------------------------------------------------------------------------

    def _next_key(self, state: _State, ins: dockerfile.Instruction, extra: str) -> str:
        h = hashlib.sha256()
        for part in (state.key, ins.cmd, ins.original, extra):
            h.update(part.encode())
            h.update(b"\0")
        return h.hexdigest()

    def _meta(self, state: _State, ins: dockerfile.Instruction, extra: str = "") -> None:
        key = self._next_key(state, ins, extra)
        entry = None if self.opts.no_cache else self.cache.get(key)
        if entry is None:
            entry = {
                "history": {
                    "created": commit.now(),
                    "created_by": ins.original,
                    "empty_layer": True,
                }
            }
            self.cache.put(key, entry)
        else:
            self.out(" ---> Using cache")
        state.config.setdefault("history", []).append(entry["history"])
        state.config["created"] = entry["history"]["created"]
        state.key = key

    def _layer_step(
        self,
        state: _State,
        ins: dockerfile.Instruction,
        extra: str,
        make: Callable[[Path], None],
        *,
        upper: bool = False,
    ) -> None:
        """A step that adds a layer: ``make(tree)`` fills a fresh tree (or an overlay upper
        dir, when ``upper``), unless the cache has the step."""
        key = self._next_key(state, ins, extra)
        entry = None if self.opts.no_cache else self.cache.get(key)
        if entry is not None and self._cached_layer_ok(entry["layer"]):
            self.out(" ---> Using cache")
        else:
            tree = Path(tempfile.mkdtemp(prefix="tree-", dir=self.work))
            os.chmod(tree, 0o755)
            make(tree)
            digest, diff_id, size, tar_size = layers.write_layer(
                tree, self.store.blobs, upper=upper
            )
            layers.adopt(
                tree,
                self.store.layer_path(diff_id),
                layers.LayerInfo(diff_id, tar_size, "overlay"),
                self.store.blobs.tmp,
            )
            entry = {
                "layer": {
                    "mediaType": manifest.OCI_LAYER_GZIP,
                    "digest": digest,
                    "size": size,
                    "diffID": diff_id,
                },
                "history": {"created": commit.now(), "created_by": ins.original},
            }
            self.cache.put(key, entry)
        lay = entry["layer"]
        state.layers.append(_Layer(lay["mediaType"], lay["digest"], lay["size"], lay["diffID"]))
        state.config["rootfs"]["diff_ids"].append(lay["diffID"])
        state.config.setdefault("history", []).append(entry["history"])
        state.config["created"] = entry["history"]["created"]
        state.key = key
        self.out(f" ---> {lay['diffID'].removeprefix('sha256:')[:12]}")

    def _cached_layer_ok(self, lay: dict[str, Any] | None) -> bool:
        return bool(
            lay
            and self.store.blobs.has(lay["digest"])
            and layers.read_meta(self.store.layer_path(lay["diffID"])) is not None
        )

    def _run(self, state: _State, ins: dockerfile.Instruction) -> None:
        if ins.flags:
            raise ValueError(
                f"RUN flags are not supported: {', '.join('--' + f for f in ins.flags)}"
            )
        argv = ins.json if ins.json is not None else [*self._shell(state), ins.args]
        if not argv:
            raise ValueError("RUN requires at least one argument")
        env = state.env()
        env.setdefault("PATH", commit.DEFAULT_PATH)
        env_list = [f"{k}={v}" for k, v in env.items()]
        args_seen = sorted((k, v) for k, v in state.args.items())
        lowers = self._lowers(state)
        uid, gid, gids = _user(state.cfg.get("User") or "", lowers)
        cwd = state.cfg.get("WorkingDir") or "/"

        def make(tree: Path) -> None:
            work = Path(tempfile.mkdtemp(prefix="run-", dir=self.work))
            self.out(" ---> Running in runc")
            code, upper = runner.run(lowers, work, argv, env_list, cwd, uid, gid, gids, self.out)
            if code != 0:
                shown = json.dumps(argv) if ins.json is not None else " ".join(argv)
                raise BuildError(
                    f"{self.file}:{ins.line}: step `{ins.original}` failed: "
                    f"the command '{shown}' returned a non-zero code: {code}"
                )
            tree.rmdir()
            os.rename(upper, tree)
            layers.remove_tree(work)

        self._layer_step(state, ins, json.dumps(args_seen), make, upper=True)

    def _copy(
        self,
        state: _State,
        ins: dockerfile.Instruction,
        env: dict[str, str],
        esc: str,
        done: dict[str, _State],
        by_index: list[_State],
    ) -> None:
        words = ins.json if ins.json is not None else dockerfile.words(ins.args, env, esc)
        words = [dockerfile.expand(w, env, esc) for w in words] if ins.json is not None else words
        if len(words) < 2:
            raise ValueError(f"{ins.cmd} requires at least two arguments")
        srcs, dest = words[:-1], words[-1]
        workdir = state.cfg.get("WorkingDir") or "/"
        dest_abs = dest if dest.startswith("/") else os.path.join(workdir, dest)
        dest_is_dir = dest.endswith("/") or len(srcs) > 1 or dest in (".", "./")
        lowers = self._lowers(state)
        existing = layers.lookup(lowers, dest_abs)
        if existing is not None and existing.is_dir() and not existing.is_symlink():
            dest_is_dir = True
        chown = ins.flags.get("chown", "")
        uid_gid = _chown(chown, lowers) if chown else None
        chmod = int(ins.flags["chmod"], 8) if "chmod" in ins.flags else None
        from_ = ins.flags.get("from", "")
        with self._source_root(from_, srcs, done, by_index) as (root, use_ignore):
            sources = self._expand_sources(root, srcs, use_ignore, ins.cmd == "ADD" and not from_)
            digest = _hash_sources(sources, root)
            extra = json.dumps([digest, dest_abs, dest_is_dir, chown, ins.flags.get("chmod", "")])

            def make(tree: Path) -> None:
                _mkdirs(tree, os.path.dirname(dest_abs.rstrip("/")) or "/", lowers)
                for src, _rel in sources:
                    if ins.cmd == "ADD" and not from_ and src.is_file() and _is_archive(src):
                        target = tree / dest_abs.lstrip("/")
                        _mkdirs(tree, dest_abs, lowers)
                        _extract(src, target)
                        continue
                    if src.is_dir() and not src.is_symlink():
                        target = tree / dest_abs.lstrip("/")
                        _mkdirs(tree, dest_abs, lowers)
                        _copy_tree(
                            src,
                            target,
                            root,
                            self.ignore if use_ignore else None,
                            uid_gid,
                            chmod,
                            keep=bool(from_),
                        )
                        continue
                    if dest_is_dir:
                        _mkdirs(tree, dest_abs, lowers)
                        target = tree / dest_abs.lstrip("/") / src.name
                    else:
                        target = tree / dest_abs.lstrip("/")
                    _copy_one(src, target, uid_gid, chmod, keep=bool(from_))
                if uid_gid and dest_is_dir:
                    d = tree / dest_abs.lstrip("/")
                    if d.is_dir() and existing is None:
                        os.lchown(d, *uid_gid)

            self._layer_step(state, ins, extra, make)

    @contextlib.contextmanager
    def _source_root(
        self, from_: str, srcs: list[str], done: dict[str, _State], by_index: list[_State]
    ) -> Iterator[tuple[Path, bool]]:
        if not from_:
            yield self.opts.context, True
            return
        if from_.lower() in done:
            src_state = done[from_.lower()]
        elif from_.isdigit() and int(from_) < len(by_index):
            src_state = by_index[int(from_)]
        else:
            src_state = self._from(from_, {})
        lowers = self._lowers(src_state)
        staging = Path(tempfile.mkdtemp(prefix="from-", dir=self.work))
        try:
            _copy_out(lowers, [s.lstrip("/") for s in srcs], staging)
            yield staging, False
        finally:
            layers.remove_tree(staging)

    def _expand_sources(
        self, root: Path, srcs: list[str], use_ignore: bool, allow_url: bool
    ) -> list[tuple[Path, str]]:
        out: list[tuple[Path, str]] = []
        for s in srcs:
            if re.match(r"https?://", s):
                raise ValueError("ADD from a URL is not supported; download it in a RUN step")
            rel = os.path.normpath(s.lstrip("/"))
            if rel.startswith(".."):
                raise ValueError(f"forbidden path outside the build context: {s}")
            if any(c in rel for c in "*?["):
                matches = sorted(glob.glob(str(root / rel)))
            else:
                matches = [str(root / rel)] if os.path.lexists(root / rel) else []
            found = []
            for m in matches:
                r = os.path.relpath(m, root)
                if use_ignore and r != "." and self.ignore.excluded(r):
                    continue
                found.append((Path(m), r))
            if not found:
                raise ValueError(
                    f"file not found in build context or excluded by .dockerignore: stat {s}: "
                    "file does not exist"
                )
            out.extend(found)
        return out

    # -- result --------------------------------------------------------------------------

    def _commit(self, state: _State) -> store_mod.Image:
        config = state.config
        config.pop("_cmd_set", None)
        cfg_bytes = manifest.dumps(config)
        cfg_digest = self.store.blobs.put(cfg_bytes)
        doc = {
            "schemaVersion": 2,
            "mediaType": manifest.OCI_MANIFEST,
            "config": {
                "mediaType": manifest.OCI_CONFIG,
                "digest": cfg_digest,
                "size": len(cfg_bytes),
            },
            "layers": [
                {"mediaType": lay.media_type, "digest": lay.digest, "size": lay.size}
                for lay in state.layers
            ],
        }
        target = self.store.blobs.put(manifest.dumps(doc))
        self.cache.add_image(target)
        return self.store.load(target)


_OCI = {
    manifest.DOCKER_LAYER: manifest.OCI_LAYER,
    manifest.DOCKER_LAYER_GZIP: manifest.OCI_LAYER_GZIP,
}


class _Cache:
    """Step key -> {layer, history}; a GC root for the layers and images it names."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        with open(str(self.path) + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                doc = orjson.loads(self.path.read_bytes())
            except (FileNotFoundError, orjson.JSONDecodeError):
                doc = {"version": 1, "entries": {}, "images": []}
            yield doc
            tmp = self.path.with_suffix(".tmp")
            tmp.write_bytes(orjson.dumps(doc))
            os.replace(tmp, self.path)

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            doc = orjson.loads(self.path.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None
        entry = doc.get("entries", {}).get(key)
        return dict(entry) if entry else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        with self._locked() as doc:
            doc["entries"][key] = {"layer": entry.get("layer"), "history": entry["history"]}

    def add_image(self, target: str) -> None:
        with self._locked() as doc:
            if target not in doc["images"]:
                doc["images"] = [*doc["images"], target][-50:]


# -- helpers -----------------------------------------------------------------------------


def _ports(p: str) -> list[str]:
    port, _, proto = p.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise ValueError(f"invalid proto: {proto}")
    if "-" in port:
        a, b = port.split("-", 1)
        if not (a.isdigit() and b.isdigit()) or int(a) > int(b):
            raise ValueError(f"invalid port range: {port}")
        return [f"{n}/{proto}" for n in range(int(a), int(b) + 1)]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"invalid containerPort: {port}")
    return [f"{int(port)}/{proto}"]


def _duration(text: str) -> int:
    """Go duration (``30s``, ``1m30s``, ``500ms``) in nanoseconds."""
    units = {"ns": 1, "us": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise ValueError(f"invalid duration {text!r}")
    return int(sum(float(a) * units[b] for a, b in parts))


def _healthcheck(ins: dockerfile.Instruction) -> dict[str, Any]:
    word, _, rest = ins.args.partition(" ")
    if word.upper() == "NONE":
        return {"Test": ["NONE"]}
    if word.upper() != "CMD":
        raise ValueError("HEALTHCHECK: want CMD or NONE")
    rest = rest.strip()
    test: list[str]
    if rest.startswith("["):
        try:
            test = ["CMD", *json.loads(rest)]
        except json.JSONDecodeError:
            test = ["CMD-SHELL", rest]
    else:
        test = ["CMD-SHELL", rest]
    hc: dict[str, Any] = {"Test": test}
    durations = (
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start-period", "StartPeriod"),
        ("start-interval", "StartInterval"),
    )
    for flag, key in durations:
        if flag in ins.flags:
            hc[key] = _duration(ins.flags[flag])
    if "retries" in ins.flags:
        hc["Retries"] = int(ins.flags["retries"])
    return hc


def _read_in(lowers: list[Path], rel: str) -> str:
    p = layers.lookup(lowers, rel)
    if p is None or not p.is_file():
        return ""
    return p.read_text(errors="replace")


def _user(spec: str, lowers: list[Path]) -> tuple[int, int, list[int]]:
    """``USER`` as uid, gid and supplementary gids, names looked up in the image."""
    if not spec:
        return 0, 0, []
    user, _, group = spec.partition(":")
    passwd = [line.split(":") for line in _read_in(lowers, "etc/passwd").splitlines()]
    groups = [line.split(":") for line in _read_in(lowers, "etc/group").splitlines()]
    name = user
    if user.isdigit():
        uid = int(user)
        gid = uid
        for e in passwd:
            if len(e) > 3 and e[2] == user:
                gid, name = int(e[3]), e[0]
                break
    else:
        for e in passwd:
            if len(e) > 3 and e[0] == user:
                uid, gid = int(e[2]), int(e[3])
                break
        else:
            raise ValueError(f"unable to find user {user}: no matching entries in passwd file")
    if group:
        gid = _group_id(group, groups)
    extra = [int(e[2]) for e in groups if len(e) > 3 and name in e[3].split(",") and e[2].isdigit()]
    return uid, gid, [g for g in extra if g != gid]


def _group_id(group: str, groups: list[list[str]]) -> int:
    if group.isdigit():
        return int(group)
    for e in groups:
        if len(e) > 2 and e[0] == group:
            return int(e[2])
    raise ValueError(f"unable to find group {group}: no matching entries in group file")


def _chown(spec: str, lowers: list[Path]) -> tuple[int, int]:
    user, _, group = spec.partition(":")
    if user.isdigit() and (not group or group.isdigit()):
        return int(user), int(group or user)
    uid, gid, _ = _user(user, lowers)
    if group:
        groups = [line.split(":") for line in _read_in(lowers, "etc/group").splitlines()]
        gid = _group_id(group, groups)
    return uid, gid


def _mkdirs(tree: Path, path: str, lowers: list[Path]) -> None:
    """Create ``path`` in ``tree`` with each directory's mode and owner as the image has it."""
    cur = tree
    rel = ""
    for part in [p for p in path.strip("/").split("/") if p]:
        cur = cur / part
        rel = f"{rel}/{part}"
        if cur.is_dir() and not cur.is_symlink():
            continue
        existing = layers.lookup(lowers, rel)
        cur.mkdir()
        if existing is not None and existing.is_dir():
            st = existing.stat()
            os.chmod(cur, stat.S_IMODE(st.st_mode))
            os.lchown(cur, st.st_uid, st.st_gid)
            os.utime(cur, ns=(st.st_atime_ns, st.st_mtime_ns))
        else:
            os.chmod(cur, 0o755)


def _copy_one(
    src: Path, target: Path, owner: tuple[int, int] | None, chmod: int | None, keep: bool = False
) -> None:
    """Copy one file or symlink; owner ``owner``, else the source's (``keep``), else root."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir() and not target.is_symlink():
        layers.remove_tree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    if src.is_symlink():
        os.symlink(os.readlink(src), target)
    else:
        shutil.copy2(src, target, follow_symlinks=False)
        if chmod is not None:
            os.chmod(target, chmod)
    if owner is not None:
        os.lchown(target, *owner)
    elif keep:
        st = os.lstat(src)
        os.lchown(target, st.st_uid, st.st_gid)
    else:
        # COPY from the context: files belong to root, as docker makes them.
        os.lchown(target, 0, 0)


def _copy_tree(
    src: Path,
    target: Path,
    root: Path,
    ignore: dockerignore.Matcher | None,
    owner: tuple[int, int] | None,
    chmod: int | None,
    keep: bool = False,
) -> None:
    for dirpath, dirnames, filenames in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        out_dir = target if rel_dir == "." else target / rel_dir
        keep_dirs = []
        for d in sorted(dirnames):
            full = Path(dirpath, d)
            ctx_rel = os.path.relpath(full, root)
            if (
                ignore is not None
                and ignore.excluded(ctx_rel)
                and not ignore.may_contain_included(ctx_rel)
            ):
                continue
            if full.is_symlink():
                _copy_one(full, out_dir / d, owner, None, keep)
                continue
            (out_dir / d).mkdir(parents=True, exist_ok=True)
            st = full.stat()
            os.chmod(out_dir / d, stat.S_IMODE(st.st_mode) if chmod is None else chmod)
            os.lchown(out_dir / d, *(owner or ((st.st_uid, st.st_gid) if keep else (0, 0))))
            keep_dirs.append(d)
        dirnames[:] = keep_dirs
        for f in sorted(filenames):
            full = Path(dirpath, f)
            if ignore is not None and ignore.excluded(os.path.relpath(full, root)):
                continue
            _copy_one(full, out_dir / f, owner, chmod, keep)


def _hash_sources(sources: list[tuple[Path, str]], root: Path) -> str:
    h = hashlib.sha256()
    for src, rel in sources:
        for p in [src] if not src.is_dir() or src.is_symlink() else sorted(_walk(src)):
            st = os.lstat(p)
            h.update(f"{os.path.relpath(p, root)}\0{st.st_mode}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(p).encode())
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
        h.update(rel.encode() + b"\0")
    return h.hexdigest()


def _walk(top: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            yield Path(dirpath, n)


def _is_archive(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def _extract(src: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(src) as tar:
        tar.extractall(target, filter="tar")


def _copy_out(lowers: list[Path], srcs: list[str], staging: Path) -> None:
    """Copy ``srcs`` out of the merged view of ``lowers`` (``COPY --from``) into ``staging``."""
    if not lowers:
        raise ValueError("COPY --from a scratch stage: nothing to copy")
    if len(lowers) == 1:
        script = ""
        root = str(lowers[0])
    else:
        root = str(staging) + ".mnt"
        os.mkdir(root)
        lowerdir = ":".join(str(p) for p in reversed(lowers))
        script = (
            f"mount -t overlay overlay -o ro,lowerdir={shlex.quote(lowerdir)} {shlex.quote(root)}\n"
        )
    for s in srcs:
        src, dst = shlex.quote(s or "."), shlex.quote(str(staging))
        script += f"cd {shlex.quote(root)} && cp -a --parents -- {src} {dst}\n"
    p = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-ec", script],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if root.endswith(".mnt"):
        os.rmdir(root)
    if p.returncode != 0:
        lines = p.stderr.strip().splitlines()
        raise ValueError(f"COPY --from: {lines[-1] if lines else 'copy failed'}")
