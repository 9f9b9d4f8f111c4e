"""``pyk8s registry``: the distribution API v2 served from the image store, on aiohttp.

Push (chunked, monolithic and cross-repository mounts), pull (with ranges), catalog and tags
with ``n``/``last`` paging, deletes of manifests, tags and blobs. A repository path maps to
store names as docker normalises it: ``nginx`` and ``library/nginx`` are both the store's
``docker.io/library/nginx``, ``team/app`` is ``docker.io/team/app``, ``quay.io/x/y`` stays
itself; so a node whose ``registries.yaml`` mirrors ``docker.io`` to this server pulls the
images a user imported, built or pushed. Manifests pushed by digest are kept as
``name@digest`` references. Optional basic auth from a ``user:password`` file.

Mirrors distribution ``registry/handlers/{app,manifests,blob,blobupload,catalog,tags}.go`` and
the error codes of ``registry/api/errcode`` and ``registry/api/v2/errors.go``.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import re
import ssl
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from pyk8s.images import blobs, manifest, reference
from pyk8s.images import store as store_mod

API_HEADER = {"Docker-Distribution-Api-Version": "registry/2.0"}
_NAME = (
    r"{name:[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*}"
)
_DIGEST = r"{digest:sha256:[a-f0-9]{64}}"
FLUSH = 1 << 20

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A distribution error: HTTP status + ``{"errors": [{"code", "message", "detail"}]}``."""

    def __init__(self, status: int, code: str, message: str, detail: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.headers: dict[str, str] = {}

    def response(self) -> web.Response:
        body = {"errors": [{"code": self.code, "message": self.message, "detail": self.detail}]}
        return web.Response(
            status=self.status,
            body=orjson.dumps(body),
            content_type="application/json",
            headers={**API_HEADER, **self.headers},
        )


def _unknown(kind: str, detail: Any = None) -> ApiError:
    codes = {
        "manifest": ("MANIFEST_UNKNOWN", "manifest unknown"),
        "blob": ("BLOB_UNKNOWN", "blob unknown to registry"),
        "name": ("NAME_UNKNOWN", "repository name not known to registry"),
        "upload": ("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry"),
    }
    code, message = codes[kind]
    return ApiError(404, code, message, detail)


@dataclass
class _Upload:
    repo: str
    writer: blobs.BlobWriter
    buffered: bytearray = field(default_factory=bytearray)


def store_name(repo: str) -> str:
    """The store's repository name for a registry repository path."""
    try:
        return reference.parse(repo, default_tag=False).name
    except reference.InvalidReference:
        raise ApiError(400, "NAME_INVALID", "invalid repository name", repo) from None


def repo_path(name: str) -> str:
    """The catalog's path for a store name (docker's familiar form)."""
    return reference.parse(name, default_tag=False).familiar_name()


class Registry:
    def __init__(self, store: store_mod.Store, users: dict[str, str] | None = None) -> None:
        self.store = store
        self.users = users or {}
        self.uploads: dict[str, _Upload] = {}

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=0)
        r = app.router
        r.add_get("/v2/", self.base)
        r.add_get("/v2/_catalog", self.catalog)
        r.add_get(f"/v2/{_NAME}/tags/list", self.tags)
        r.add_route("*", f"/v2/{_NAME}/manifests/{{ref}}", self.manifests)
        r.add_post(f"/v2/{_NAME}/blobs/uploads/", self.start_upload)
        r.add_route("*", f"/v2/{_NAME}/blobs/uploads/{{uuid}}", self.upload)
        r.add_route("*", f"/v2/{_NAME}/blobs/{_DIGEST}", self.blob)
        app.on_shutdown.append(self._abort_uploads)
        return app

    async def _abort_uploads(self, _: web.Application) -> None:
        for up in list(self.uploads.values()):
            await asyncio.to_thread(up.writer.abort)
        self.uploads.clear()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if self.users and not self._authorized(request.headers.get("Authorization", "")):
                raise _unauthorized()
            try:
                resp = await handler(request)
            except web.HTTPNotFound:
                raise ApiError(404, "NOT_FOUND", "not found", request.path) from None
            except web.HTTPMethodNotAllowed:
                raise ApiError(405, "UNSUPPORTED", "The operation is unsupported.") from None
        except ApiError as e:
            return e.response()
        resp.headers.update(API_HEADER)
        return resp

    def _authorized(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        want = self.users.get(user)
        return want is not None and hmac.compare_digest(want, password)

    # -- base, catalog, tags ----------------------------------------------------------------

    async def base(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({})

    async def catalog(self, request: web.Request) -> web.StreamResponse:
        refs = await asyncio.to_thread(self.store.refs)
        repos = sorted({repo_path(reference.parse(n).name) for n in refs})
        return self._page(request, "repositories", repos, "/v2/_catalog", {})

    async def tags(self, request: web.Request) -> web.StreamResponse:
        repo = request.match_info["name"]
        name = store_name(repo)
        refs = await asyncio.to_thread(self.store.refs)
        parsed = [reference.parse(n) for n in refs]
        if not any(p.name == name for p in parsed):
            raise _unknown("name", {"name": repo})
        tags = sorted(p.tag for p in parsed if p.name == name and p.tag)
        return self._page(request, "tags", tags, f"/v2/{repo}/tags/list", {"name": repo})

    def _page(
        self, request: web.Request, key: str, items: list[str], path: str, extra: dict[str, Any]
    ) -> web.StreamResponse:
        last = request.query.get("last", "")
        if last:
            items = [i for i in items if i > last]
        headers = {}
        n = request.query.get("n", "")
        if n:
            try:
                count = int(n)
            except ValueError:
                raise ApiError(
                    400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested"
                ) from None
            if count < 0:
                raise ApiError(
                    400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested"
                )
            if len(items) > count:
                items = items[:count]
                if items:
                    headers["Link"] = f'<{path}?n={count}&last={items[-1]}>; rel="next"'
        return web.json_response({**extra, key: items}, headers=headers)

    # -- manifests -----------------------------------------------------------------------

    async def manifests(self, request: web.Request) -> web.StreamResponse:
        repo, ref = request.match_info["name"], request.match_info["ref"]
        name = store_name(repo)
        if request.method in ("GET", "HEAD"):
            return await self._get_manifest(request, name, ref)
        if request.method == "PUT":
            return await self._put_manifest(request, repo, name, ref)
        if request.method == "DELETE":
            return await self._delete_manifest(name, ref)
        raise ApiError(405, "UNSUPPORTED", "method not allowed")

    def _target(self, name: str, ref: str, refs: dict[str, dict[str, Any]]) -> str:
        if reference.is_digest(ref):
            for key, r in refs.items():
                if reference.parse(key).name != name:
                    continue
                if r["digest"] == ref:
                    return ref
                try:
                    doc = manifest.parse(self.store.blobs.read(r["digest"]))
                except (LookupError, manifest.ManifestError):
                    continue
                if isinstance(doc, manifest.Index) and any(m.digest == ref for m in doc.manifests):
                    return ref
            raise _unknown("manifest", {"name": name, "revision": ref})
        if not re.fullmatch(r"[\w][\w.-]{0,127}", ref):
            raise ApiError(400, "TAG_INVALID", "manifest tag did not match URI", ref)
        entry = refs.get(f"{name}:{ref}")
        if entry is None:
            raise _unknown("manifest", {"name": name, "tag": ref})
        return str(entry["digest"])

    async def _get_manifest(self, request: web.Request, name: str, ref: str) -> web.StreamResponse:
        def read() -> tuple[str, bytes]:
            refs = self.store.refs()
            digest = self._target(name, ref, refs)
            try:
                return digest, self.store.blobs.read(digest)
            except blobs.BlobNotFound:
                raise _unknown("manifest", {"name": name, "revision": digest}) from None

        digest, data = await asyncio.to_thread(read)
        media_type = manifest.media_type_of(data)
        headers = {"Docker-Content-Digest": digest, "Etag": f'"{digest}"'}
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(data))
            headers["Content-Type"] = media_type
            return web.Response(status=200, headers=headers)
        return web.Response(body=data, content_type=media_type, headers=headers)

    async def _put_manifest(
        self, request: web.Request, repo: str, name: str, ref: str
    ) -> web.StreamResponse:
        data = await request.read()
        if len(data) > 4 << 20:
            raise ApiError(400, "MANIFEST_INVALID", "manifest too large")
        hint = request.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            doc = manifest.parse(
                data, hint if hint in manifest.MANIFEST_TYPES | manifest.INDEX_TYPES else ""
            )
        except manifest.ManifestError as e:
            raise ApiError(400, "MANIFEST_INVALID", "manifest invalid", str(e)) from None

        def store() -> str:
            digest = self.store.blobs.put(data)
            if reference.is_digest(ref) and ref != digest:
                raise ApiError(
                    400, "DIGEST_INVALID", "provided digest did not match uploaded content"
                )
            missing = self.store.missing(digest)
            if missing:
                code = (
                    "MANIFEST_UNKNOWN"
                    if isinstance(doc, manifest.Index)
                    else "MANIFEST_BLOB_UNKNOWN"
                )
                raise ApiError(400, code, "blob unknown to registry", {"digest": missing[0]})
            key = f"{name}@{digest}" if reference.is_digest(ref) else f"{name}:{ref}"
            self.store.set_refs([key], digest, doc.media_type, any_platform=True)
            return digest

        if not reference.is_digest(ref) and not re.fullmatch(r"[\w][\w.-]{0,127}", ref):
            raise ApiError(400, "TAG_INVALID", "manifest tag did not match URI", ref)
        digest = await asyncio.to_thread(store)
        return web.Response(
            status=201,
            headers={"Location": f"/v2/{repo}/manifests/{digest}", "Docker-Content-Digest": digest},
        )

    async def _delete_manifest(self, name: str, ref: str) -> web.StreamResponse:
        def delete() -> None:
            refs = self.store.refs()
            if reference.is_digest(ref):
                victims = [
                    k
                    for k, r in refs.items()
                    if reference.parse(k).name == name and r["digest"] == ref
                ]
            else:
                victims = [f"{name}:{ref}"] if f"{name}:{ref}" in refs else []
            if not victims:
                raise _unknown("manifest", {"name": name, "revision": ref})
            self.store.remove_refs(victims)

        await asyncio.to_thread(delete)
        return web.Response(status=202)

    # -- blobs ---------------------------------------------------------------------------

    async def blob(self, request: web.Request) -> web.StreamResponse:
        digest = request.match_info["digest"]
        store_name(request.match_info["name"])
        path = self.store.blobs.path(digest)
        if request.method in ("GET", "HEAD"):
            try:
                size = (await asyncio.to_thread(path.stat)).st_size
            except FileNotFoundError:
                raise _unknown("blob", digest) from None
            headers = {
                "Docker-Content-Digest": digest,
                "Etag": f'"{digest}"',
                "Cache-Control": "max-age=31536000",
            }
            if request.method == "HEAD":
                headers["Content-Length"] = str(size)
                headers["Content-Type"] = "application/octet-stream"
                return web.Response(status=200, headers=headers)
            resp = web.FileResponse(path, headers=headers)
            resp.content_type = "application/octet-stream"
            return resp
        if request.method == "DELETE":
            return await self._delete_blob(digest)
        raise ApiError(405, "UNSUPPORTED", "method not allowed")

    async def _delete_blob(self, digest: str) -> web.StreamResponse:
        def delete() -> bool:
            if not self.store.blobs.has(digest):
                return False
            # Content other images use stays; only what no reference reaches goes.
            if digest not in self.store.reachable():
                self.store.blobs.delete(digest)
            return True

        if not await asyncio.to_thread(delete):
            raise _unknown("blob", digest)
        return web.Response(status=202)

    # -- uploads -------------------------------------------------------------------------

    async def start_upload(self, request: web.Request) -> web.StreamResponse:
        repo = request.match_info["name"]
        store_name(repo)
        mount, digest = request.query.get("mount", ""), request.query.get("digest", "")
        if (
            mount
            and reference.is_digest(mount)
            and await asyncio.to_thread(self.store.blobs.has, mount)
        ):
            await asyncio.to_thread(self.store.pin, mount)
            return web.Response(
                status=201,
                headers={
                    "Location": f"/v2/{repo}/blobs/{mount}",
                    "Docker-Content-Digest": mount,
                },
            )
        writer = await asyncio.to_thread(self.store.blobs.writer)
        up = _Upload(repo, writer)
        if digest:  # monolithic POST
            await self._receive(request, up)
            return await self._complete(repo, up, digest)
        ident = str(uuid.uuid4())
        self.uploads[ident] = up
        return self._progress(repo, ident, up, 202)

    def _progress(self, repo: str, ident: str, up: _Upload, status: int) -> web.Response:
        end = up.writer.size + len(up.buffered) - 1
        return web.Response(
            status=status,
            headers={
                "Location": f"/v2/{repo}/blobs/uploads/{ident}",
                "Range": f"0-{max(end, 0)}",
                "Docker-Upload-UUID": ident,
            },
        )

    async def _receive(self, request: web.Request, up: _Upload) -> None:
        async for chunk in request.content.iter_chunked(256 * 1024):
            up.buffered.extend(chunk)
            if len(up.buffered) >= FLUSH:
                data = bytes(up.buffered)
                up.buffered.clear()
                await asyncio.to_thread(up.writer.write, data)
        if up.buffered:
            data = bytes(up.buffered)
            up.buffered.clear()
            await asyncio.to_thread(up.writer.write, data)

    async def _complete(self, repo: str, up: _Upload, digest: str) -> web.Response:
        if not reference.is_digest(digest):
            await asyncio.to_thread(up.writer.abort)
            raise ApiError(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
        up.writer.expected = digest
        try:
            await asyncio.to_thread(up.writer.commit)
            await asyncio.to_thread(self.store.pin, digest)
        except blobs.DigestMismatch as e:
            raise ApiError(
                400, "DIGEST_INVALID", "provided digest did not match uploaded content", str(e)
            ) from None
        return web.Response(
            status=201,
            headers={
                "Location": f"/v2/{repo}/blobs/{digest}",
                "Docker-Content-Digest": digest,
                "Content-Length": "0",
            },
        )

    async def upload(self, request: web.Request) -> web.StreamResponse:
        repo, ident = request.match_info["name"], request.match_info["uuid"]
        up = self.uploads.get(ident)
        if up is None or up.repo != repo:
            raise _unknown("upload", ident)
        if request.method == "GET":
            return self._progress(repo, ident, up, 204)
        if request.method == "DELETE":
            self.uploads.pop(ident, None)
            await asyncio.to_thread(up.writer.abort)
            return web.Response(status=204)
        if request.method == "PATCH":
            content_range = request.headers.get("Content-Range", "")
            if content_range:
                m = re.fullmatch(r"(\d+)-(\d+)", content_range.strip())
                if not m or int(m.group(1)) != up.writer.size:
                    return web.Response(
                        status=416, headers={"Range": f"0-{max(up.writer.size - 1, 0)}"}
                    )
            await self._receive(request, up)
            return self._progress(repo, ident, up, 202)
        if request.method == "PUT":
            self.uploads.pop(ident, None)
            await self._receive(request, up)
            return await self._complete(repo, up, request.query.get("digest", ""))
        raise ApiError(405, "UNSUPPORTED", "method not allowed")


def _unauthorized() -> ApiError:
    err = ApiError(401, "UNAUTHORIZED", "authentication required")
    err.headers["WWW-Authenticate"] = 'Basic realm="pyk8s-registry"'
    return err


def load_users(path: Path) -> dict[str, str]:
    """``user:password`` per line (``#`` comments), as the registry's basic auth accepts."""
    users = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            user, sep, password = line.partition(":")
            if not sep or not user:
                raise ValueError(f"{path}: want user:password lines")
            users[user] = password
    return users


async def serve(
    store: store_mod.Store,
    host: str,
    port: int,
    *,
    users: dict[str, str] | None = None,
    ready: asyncio.Event | None = None,
    tls: tuple[Path, Path] | None = None,
) -> None:
    """Serve until cancelled; HTTPS with ``tls`` (certificate file, key file)."""
    ctx = None
    if tls is not None:

        def make() -> ssl.SSLContext:
            c = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            c.load_cert_chain(str(tls[0]), str(tls[1]))
            return c

        ctx = await asyncio.to_thread(make)
    runner = web.AppRunner(Registry(store, users).app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ctx)
        await site.start()
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
