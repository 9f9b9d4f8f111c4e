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
import email.utils
import glob
import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyk8s.images import commit, layers, manifest, reference
from pyk8s.images import store as store_mod
from pyk8s.images.build import cache, dockerfile, dockerignore, files, metadata, runner, users

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


def platform_args() -> dict[str, str]:
    """BuildKit's predefined platform ARGs (build and target are this machine)."""
    p = manifest.host_platform()
    out = {}
    for kind in ("BUILD", "TARGET"):
        out[f"{kind}PLATFORM"] = str(p)
        out[f"{kind}OS"] = p.os
        out[f"{kind}ARCH"] = p.architecture
        out[f"{kind}VARIANT"] = p.variant
    return out


def _global_args(df: dockerfile.Dockerfile, build_args: dict[str, str]) -> dict[str, str]:
    env: dict[str, str] = platform_args()
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
        self.cache = cache.Cache(store.root / CACHE_FILE)
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
            triggers = self._onbuild(state, stage, base)
            if triggers:
                self.out(f"# Executing {len(triggers)} build trigger(s)")
            for ins in [*triggers, *stage.instructions]:
                if ins in triggers:
                    self.out(f" ---> {ins.original}")
                else:
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

    def _onbuild(
        self, state: _State, stage: dockerfile.Stage, base: str
    ) -> list[dockerfile.Instruction]:
        """The base image's ``ONBUILD`` triggers, run first; the new image does not inherit them."""
        triggers = state.cfg.pop("OnBuild", None) or []
        out = []
        for text in triggers:
            try:
                [ins] = (
                    dockerfile.parse(f"FROM scratch\n{text}\n", f"ONBUILD of {base}")
                    .stages[0]
                    .instructions
                )
            except (dockerfile.DockerfileError, ValueError) as e:
                raise BuildError(
                    f"{self.file}:{stage.line}: ONBUILD trigger of {base}: {e}"
                ) from None
            if ins.cmd in ("FROM", "ONBUILD", "MAINTAINER"):
                raise BuildError(
                    f"{self.file}:{stage.line}: {ins.cmd} isn't allowed as an ONBUILD trigger"
                )
            ins.line = stage.line
            ins.original = f"{ins.original} (ONBUILD of {base})"
            out.append(ins)
        return out

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
                ports.update({k: {} for k in metadata.ports(p)})
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
            cfg["Healthcheck"] = metadata.healthcheck(ins)
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
                    lambda tree: files.mkdirs(tree, path, self._lowers(state)),
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
        argv = ins.json if ins.json is not None else [*self._shell(state), _script(ins)]
        if not argv:
            raise ValueError("RUN requires at least one argument")
        env = state.env()
        env.setdefault("PATH", commit.DEFAULT_PATH)
        env_list = [f"{k}={v}" for k, v in env.items()]
        args_seen = sorted((k, v) for k, v in state.args.items())
        lowers = self._lowers(state)
        uid, gid, gids = users.user(state.cfg.get("User") or "", lowers)
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

        self._layer_step(state, ins, json.dumps([args_seen, ins.heredocs]), make, upper=True)

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
        uid_gid = users.chown(chown, lowers) if chown else None
        chmod = int(ins.flags["chmod"], 8) if "chmod" in ins.flags else None
        from_ = ins.flags.get("from", "")
        docs = dict(ins.heredocs)
        inline = [w for w in srcs if _heredoc_name(w) in docs]
        srcs = [w for w in srcs if w not in inline]
        with self._source_root(from_, srcs, done, by_index) as (root, use_ignore):
            sources = self._expand_sources(root, srcs, use_ignore, ins.cmd == "ADD" and not from_)
            for w in inline:
                d = Path(tempfile.mkdtemp(prefix="heredoc-", dir=self.work))
                name = _heredoc_name(w)
                (d / name).write_text(docs[name])
                os.chmod(d / name, 0o644)
                sources.append((d / name, "heredoc:" + name))
            digest = files.hash_sources(sources, root)
            extra = json.dumps([digest, dest_abs, dest_is_dir, chown, ins.flags.get("chmod", "")])

            def make(tree: Path) -> None:
                files.mkdirs(tree, os.path.dirname(dest_abs.rstrip("/")) or "/", lowers)
                for src, rel in sources:
                    local = not from_ and not rel.startswith(("url:", "heredoc:"))
                    if ins.cmd == "ADD" and local and src.is_file() and files.is_archive(src):
                        target = tree / dest_abs.lstrip("/")
                        files.mkdirs(tree, dest_abs, lowers)
                        files.extract(src, target)
                        continue
                    if src.is_dir() and not src.is_symlink():
                        target = tree / dest_abs.lstrip("/")
                        files.mkdirs(tree, dest_abs, lowers)
                        files.copy_tree(
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
                        files.mkdirs(tree, dest_abs, lowers)
                        target = tree / dest_abs.lstrip("/") / src.name
                    else:
                        target = tree / dest_abs.lstrip("/")
                    files.copy_one(src, target, uid_gid, chmod, keep=bool(from_))
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
            files.copy_out(lowers, [s.lstrip("/") for s in srcs], staging)
            yield staging, False
        finally:
            layers.remove_tree(staging)

    def _expand_sources(
        self, root: Path, srcs: list[str], use_ignore: bool, allow_url: bool
    ) -> list[tuple[Path, str]]:
        out: list[tuple[Path, str]] = []
        for s in srcs:
            if re.match(r"https?://", s):
                if not allow_url:
                    raise ValueError("source can't be a URL for COPY")
                out.append((self._download(s), "url:" + s))
                continue
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

    def _download(self, url: str) -> Path:
        """``ADD URL``: the file, named after the URL's last path segment, mode 0600."""
        name = os.path.basename(urllib.parse.urlsplit(url).path.rstrip("/")) or "index.html"
        d = Path(tempfile.mkdtemp(prefix="url-", dir=self.work))
        target = d / name
        try:
            with urllib.request.urlopen(url, timeout=120) as resp, target.open("wb") as f:
                shutil.copyfileobj(resp, f, 1 << 20)
                modified = resp.headers.get("Last-Modified")
        except (urllib.error.URLError, OSError) as e:
            raise ValueError(f"failed to download {url}: {e}") from None
        os.chmod(target, 0o600)
        if modified:
            with contextlib.suppress(TypeError, ValueError):
                t = email.utils.parsedate_to_datetime(modified).timestamp()
                os.utime(target, (t, t))
        return target

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


def _heredoc_name(word: str) -> str:
    m = re.fullmatch(r"<<-?([\"']?)([A-Za-z_][A-Za-z0-9_]*)\1", word)
    return m.group(2) if m else ""


def _script(ins: dockerfile.Instruction) -> str:
    """The shell script of a shell-form ``RUN``, here-documents included: ``RUN <<EOF`` alone
    runs the document; otherwise the shell gets the documents after the command line."""
    if not ins.heredocs:
        return ins.args
    if len(ins.heredocs) == 1 and _heredoc_name(ins.args.strip()):
        return ins.heredocs[0][1]
    return ins.args + "\n" + "".join(f"{body}{name}\n" for name, body in ins.heredocs)


_OCI = {
    manifest.DOCKER_LAYER: manifest.OCI_LAYER,
    manifest.DOCKER_LAYER_GZIP: manifest.OCI_LAYER_GZIP,
}
