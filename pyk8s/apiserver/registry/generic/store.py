"""The generic store: CRUD, list and watch of one resource over ``storage.Interface``.

Mirrors k8s.io/apiserver ``pkg/registry/generic/registry/store.go`` (``Store``:
``Create``, ``Update``, ``Get``, ``List``, ``Delete``, ``DeleteCollection``,
``Watch``; graceful deletion and finalizers in ``updateForGracefulDeletionAndFinalizers``;
``shouldDeleteDuringUpdate``) and ``pkg/storage/etcd3/store.go`` (the stored
value carries no resourceVersion; it is the key's ``mod_revision``).

The strategy hooks run in upstream's order (see ``strategy.py``); admission
runs between them and storage. Every object handed out is a fresh dict.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pyk8s.api import errors, gojson, jsoncopy, meta, quantities, scheme, selectors
from pyk8s.apiserver import fieldmanager
from pyk8s.apiserver.registry.generic.strategy import Obj, Strategy
from pyk8s.storage import interface as storage

Release = Callable[[], Awaitable[None]]
"""Undoes an allocation (service IPs, node ports) when the write that needed it fails."""

Admit = Callable[[str, Obj, Obj | None], Awaitable[None]]
"""An admission step: (operation, new object, old object) -> None or raise ApiError."""


@dataclass
class ListOptions:
    label_selector: selectors.LabelSelector = field(default_factory=selectors.LabelSelector)
    field_selector: selectors.FieldSelector = field(default_factory=selectors.FieldSelector)
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    subresource: str = ""
    user: Any = None
    """The authenticated user (``authn.User``) making the request, when known."""
    managed_fields: builtins.list[Any] | None = None
    """Exactly these managedFields (server-side apply computed them); None: track updates."""
    schema: Any = None
    """The kind's ``strategicpatch.Schema``: list types for managedFields (None: lists atomic)."""


@dataclass
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str = ""
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False


@dataclass
class WatchEvent:
    type: str  # ADDED MODIFIED DELETED BOOKMARK ERROR
    object: Obj
    revision: int = 0
    progress: Callable[[], int] | None = None
    """On BOOKMARK_INITIAL: how far the storage stream has been read (``Watch.progress``)."""


def encode(obj: Obj) -> bytes:
    """The stored form: no resourceVersion (it is the key's revision), and the keys
    ``apiVersion``, ``kind``, ``metadata`` first, which lets lists splice items (below)."""
    md = obj.get("metadata")
    if isinstance(md, dict) and "resourceVersion" in md:
        md = {k: v for k, v in md.items() if k != "resourceVersion"}
    ordered: Obj = {}
    for k in ("apiVersion", "kind"):
        if k in obj:
            ordered[k] = obj[k]
    if md is not None:
        ordered["metadata"] = md
    for k, v in obj.items():
        if k not in ordered:
            ordered[k] = v
    return orjson.dumps(ordered)


def splice_list_item(value: bytes, prefix: bytes, revision: int) -> bytes | None:
    """A stored value as a list item (no apiVersion/kind, resourceVersion set) without
    decoding it, when it starts with ``prefix`` (``{"apiVersion":..,"kind":..,"metadata":{``);
    None when it does not (then the caller decodes)."""
    if not value.startswith(prefix):
        return None
    rest = value[len(prefix) :]
    rv = b'"resourceVersion":"' + str(revision).encode() + b'"'
    if rest.startswith(b"}"):
        return b'{"metadata":{' + rv + rest
    return b'{"metadata":{' + rv + b"," + rest


def decode(kv: storage.KeyValue, *, revision: int | None = None) -> Obj:
    obj: Obj = orjson.loads(kv.value)
    meta.metadata(obj)["resourceVersion"] = str(revision or kv.mod_revision)
    return obj


EVENT_OBJECTS_MAX = 4096
"""Recent watch events' decoded objects a store keeps, shared by its watchers."""
SHARED_DECODED_MAX = 20_000
"""Decoded objects a store keeps for read-only lists, at most (the oldest go first)."""


def _parse_rv(value: str, what: str = "resourceVersion") -> int:
    try:
        rv = int(value)
    except ValueError:
        raise errors.BadRequest(f"invalid {what}: {value!r}") from None
    if rv < 0:
        raise errors.BadRequest(f"invalid {what}: {value!r}")
    return rv


class Store:
    """One resource's REST storage (upstream ``genericregistry.Store``)."""

    def __init__(
        self,
        resource: scheme.Resource,
        backend: storage.Interface,
        strategy: Strategy,
        *,
        admit: list[Admit] | None = None,
    ) -> None:
        self.resource = resource
        self.storage = backend
        self.strategy = strategy
        self.admit = admit or []
        self._shared: dict[str, tuple[int, Obj]] = {}
        self._event_objects: dict[tuple[str, int], Obj] = {}
        """Decoded objects by key, with the revision they were decoded at: read-only lists."""

    # -- helpers

    def _not_found(self, name: str) -> errors.NotFound:
        return errors.NotFound.for_object(self.resource.plural, self.resource.group, name)

    def _conflict(self, name: str, why: str = errors.OPTIMISTIC_LOCK_MESSAGE) -> errors.Conflict:
        return errors.Conflict.for_object(self.resource.plural, self.resource.group, name, why)

    def _invalid(self, name: str, errs: list[errors.FieldError]) -> errors.Invalid:
        return errors.Invalid.for_object(self.resource.kind, self.resource.group, name, errs)

    def _with_type(self, obj: Obj) -> Obj:
        obj["apiVersion"] = self.resource.api_version
        obj["kind"] = self.resource.kind
        return obj

    def _check_body_type(self, obj: Any) -> Obj:
        if not isinstance(obj, dict):
            raise errors.BadRequest("the body of the request must be a JSON object")
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if kind and kind != self.resource.kind:
            raise errors.BadRequest(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({self.resource.api_version})"
                if api_version and api_version != self.resource.api_version
                else f'{kind} in version "{self.resource.version}" cannot be handled as a '
                f'{self.resource.kind}: no kind "{kind}" is registered for version '
                f'"{self.resource.group_version}"'
            )
        if api_version and api_version != self.resource.api_version:
            raise errors.BadRequest(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({self.resource.api_version})"
            )
        if "metadata" in obj and not isinstance(obj["metadata"], dict):
            raise errors.BadRequest("metadata must be an object")
        return obj

    def _set_namespace(self, obj: Obj, namespace: str) -> None:
        md = meta.metadata(obj)
        if not self.resource.namespaced:
            md.pop("namespace", None)
            return
        body_ns = md.get("namespace")
        if body_ns and namespace and body_ns != namespace:
            raise errors.BadRequest(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        if namespace:
            md["namespace"] = namespace

    # -- allocation hooks (service cluster IPs and node ports); the defaults do nothing

    async def allocate(self, obj: Obj, old: Obj | None) -> Release | None:
        """Reserve what ``obj`` needs before it is written; returns how to undo it."""
        return None

    async def after_update(self, obj: Obj, old: Obj) -> None:
        """Release what ``old`` held and ``obj`` no longer does."""

    async def release(self, obj: Obj) -> None:
        """Release everything a deleted object held."""

    async def _run_admission(self, op: str, obj: Obj, old: Obj | None) -> None:
        for step in self.admit:
            await step(op, obj, old)

    # -- reads

    async def get(self, namespace: str, name: str, *, resource_version: str = "") -> Obj:
        revision = 0
        if resource_version not in ("", "0"):
            revision = _parse_rv(resource_version)
        try:
            kv = await self.storage.get(self.resource.key(namespace, name), revision=revision)
        except storage.KeyNotFoundError:
            raise self._not_found(name) from None
        except storage.TooOldError as e:
            raise errors.Gone(f"too old resource version: {e.requested} ({e.compacted})") from e
        except storage.FutureRevisionError as e:
            raise _too_large(e.requested, e.current) from e
        return self._with_type(decode(kv))

    async def get_json(self, namespace: str, name: str) -> bytes | None:
        """The current object as JSON straight from its stored bytes (resourceVersion spliced
        in, nothing decoded), for a plain GET; None when the stored form does not start as
        :func:`encode` writes it (the caller then uses :meth:`get`)."""
        try:
            kv = await self.storage.get(self.resource.key(namespace, name))
        except storage.KeyNotFoundError:
            raise self._not_found(name) from None
        prefix = self._item_prefix()
        if not kv.value.startswith(prefix):
            return None
        rest = kv.value[len(prefix) :]
        rv = b'"resourceVersion":"' + str(kv.mod_revision).encode() + b'"'
        return prefix + rv + (rest if rest.startswith(b"}") else b"," + rest)

    def _item_prefix(self) -> bytes:
        prefix: bytes | None = getattr(self, "_item_prefix_bytes", None)
        if prefix is None:
            prefix = (
                b'{"apiVersion":'
                + orjson.dumps(self.resource.api_version)
                + b',"kind":'
                + orjson.dumps(self.resource.kind)
                + b',"metadata":{'
            )
            self._item_prefix_bytes = prefix
        return prefix

    def _decode_shared(self, kv: storage.KeyValue) -> Obj:
        """``decode(kv)``, reusing the dict decoded for the same key and revision before. The
        result is shared between requests: callers must not change it."""
        hit = self._shared.get(kv.key)
        if hit is not None and hit[0] == kv.mod_revision:
            return hit[1]
        obj = decode(kv)
        if hit is None and len(self._shared) >= SHARED_DECODED_MAX:
            self._shared.pop(next(iter(self._shared)))  # the oldest entry
        self._shared[kv.key] = (kv.mod_revision, obj)
        return obj

    async def list(self, namespace: str, opts: ListOptions, *, shared: bool = False) -> Obj:
        """The list as a dict. ``shared``: the items are read-only objects shared with other
        requests (apiVersion and kind left in them), for output that only reads them (Table,
        PartialObjectMetadata): decoding is what costs, and most objects have not changed."""
        decode_item = self._decode_shared if shared else decode
        prefix = self.resource.prefix(namespace)
        revision = 0
        if opts.continue_token and opts.resource_version not in ("",):
            raise errors.BadRequest(
                "specifying resource version is not allowed when using continue"
            )
        if opts.resource_version not in ("", "0"):
            rv = _parse_rv(opts.resource_version)
            exact = opts.resource_version_match == "Exact" or (
                not opts.resource_version_match and opts.limit > 0
            )
            current = await self.storage.current_revision()
            if rv > current:
                raise _too_large(rv, current)
            if exact:
                revision = rv
        elif opts.resource_version_match == "Exact":
            raise errors.BadRequest(
                "resourceVersionMatch: Exact requires a non-zero resourceVersion"
            )
        name_pin = opts.field_selector.exact("metadata.name")
        items: list[Obj] = []
        token: str | None = opts.continue_token or None
        list_rev = 0
        remaining: int | None = None
        filtering = not (opts.label_selector.empty and opts.field_selector.empty)
        try:
            if name_pin is not None and not token and (not self.resource.namespaced or namespace):
                # One key: no need to scan the prefix.
                key = self.resource.key(namespace, name_pin)
                res = await self.storage.list(key, revision=revision)
                list_rev = res.revision
                for kv in res.items:
                    if kv.key != key:
                        continue
                    obj = decode_item(kv)
                    if self._matches(obj, opts):
                        items.append(obj)
                return self._list_body(items, list_rev, None, None, pop=not shared)
            while True:
                want = opts.limit - len(items) if opts.limit else 0
                res = await self.storage.list(
                    prefix,
                    limit=want if want > 0 and not filtering else opts.limit,
                    continue_token=token,
                    revision=revision if token is None else 0,
                )
                list_rev = res.revision
                remaining = res.remaining
                for i, kv in enumerate(res.items):
                    obj = decode_item(kv)
                    if filtering and not self._matches(obj, opts):
                        continue
                    items.append(obj)
                    if opts.limit and len(items) >= opts.limit and i < len(res.items) - 1:
                        # Cut inside this page: resume right after this key.
                        from pyk8s.storage import continuetoken

                        token = continuetoken.encode(list_rev, prefix, kv.key + "\x00")
                        remaining = None
                        return self._list_body(items, list_rev, token, remaining, pop=not shared)
                token = res.continue_token
                if not token or not opts.limit or len(items) >= opts.limit:
                    break
                revision = 0
        except storage.TooOldError as e:
            if opts.continue_token:
                raise errors.Gone(
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter."
                ) from e
            raise errors.Gone(f"too old resource version: {e.requested} ({e.compacted})") from e
        except storage.InvalidContinueError as e:
            raise errors.BadRequest(f"invalid continue token: {e}") from e
        return self._list_body(items, list_rev, token, remaining if token else None, pop=not shared)

    async def list_json(self, namespace: str, opts: ListOptions) -> bytes | None:
        """The JSON list body built from stored bytes, for a list without selectors;
        None when the fast path does not apply (the caller uses :meth:`list`)."""
        if not (opts.label_selector.empty and opts.field_selector.empty):
            return None
        if opts.resource_version not in ("", "0") or opts.resource_version_match:
            return None
        prefix = self.resource.prefix(namespace)
        try:
            res = await self.storage.list(
                prefix, limit=opts.limit, continue_token=opts.continue_token or None
            )
        except storage.TooOldError as e:
            if opts.continue_token:
                raise errors.Gone(
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter."
                ) from e
            raise errors.Gone(f"too old resource version: {e.requested} ({e.compacted})") from e
        except storage.InvalidContinueError as e:
            raise errors.BadRequest(f"invalid continue token: {e}") from e
        item_prefix = self._item_prefix()
        parts: builtins.list[bytes] = []
        for kv in res.items:
            item = splice_list_item(kv.value, item_prefix, kv.mod_revision)
            if item is None:
                obj = decode(kv)
                obj.pop("apiVersion", None)
                obj.pop("kind", None)
                item = orjson.dumps(obj)
            parts.append(item)
        md: Obj = {"resourceVersion": str(res.revision)}
        if res.continue_token:
            md["continue"] = res.continue_token
            if res.remaining:
                md["remainingItemCount"] = res.remaining
        head = orjson.dumps(
            {
                "kind": self.resource.list_kind,
                "apiVersion": self.resource.api_version,
                "metadata": md,
            }
        )
        return head[:-1] + b',"items":[' + b",".join(parts) + b"]}"

    def _list_body(
        self,
        items: builtins.list[Obj],
        revision: int,
        token: str | None,
        remaining: int | None,
        *,
        pop: bool = True,
    ) -> Obj:
        md: Obj = {"resourceVersion": str(revision)}
        if token:
            md["continue"] = token
            if remaining is not None and remaining > 0:
                md["remainingItemCount"] = remaining
        if pop:
            for obj in items:
                obj.pop("apiVersion", None)
                obj.pop("kind", None)
        return {
            "kind": self.resource.list_kind,
            "apiVersion": self.resource.api_version,
            "metadata": md,
            "items": items,
        }

    def _matches(self, obj: Obj, opts: ListOptions) -> bool:
        md = obj.get("metadata") or {}
        if not opts.label_selector.matches(md.get("labels")):
            return False
        if opts.field_selector.empty:
            return True
        return opts.field_selector.matches(self.strategy.field_set(obj))

    def check_field_selector(self, sel: selectors.FieldSelector) -> None:
        allowed = {"metadata.name", *self.resource.field_selectors}
        if self.resource.namespaced:
            allowed.add("metadata.namespace")
        for r in sel.requirements:
            if r.field not in allowed:
                if self.resource.field_selectors:
                    raise errors.BadRequest(f"field label not supported: {r.field}")
                raise errors.BadRequest(
                    f'"{r.field}" is not a known field selector: only "metadata.name", '
                    '"metadata.namespace"'
                )

    # -- create

    async def create(self, namespace: str, body: Any, opts: WriteOptions) -> Obj:
        obj = self._check_body_type(body)
        obj = jsoncopy.clone(obj)
        gojson.normalize(obj, opts.schema, fill=False)  # what decoding into Go drops
        self._set_namespace(obj, namespace)
        md = meta.metadata(obj)
        if not md.get("name") and md.get("generateName"):
            md["name"] = meta.generate_name(md["generateName"])
        # BeforeCreate: system fields are the server's.
        md["uid"] = meta.new_uid()
        md["creationTimestamp"] = meta.now()
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            md.pop(k, None)
        self.strategy.default(obj)
        quantities.canonicalize(obj, opts.schema)
        # Upstream's handler tracks managedFields before admission and before the registry's
        # PrepareForCreate: what mutating admission adds (a token volume, tolerations,
        # priority) and what the strategy sets (a namespace's finalizer, a Job's generated
        # selector, a CSR's requester) belong to no manager.
        if opts.managed_fields is None:
            fieldmanager.on_create(obj, opts.field_manager, self.resource.api_version, opts.schema)
        # Mutating admission comes before the strategy, as upstream's handler runs it
        # before the registry's BeforeCreate.
        await self._run_admission("CREATE", obj, None)
        self.strategy.prepare_for_create(obj)
        self.strategy.set_requester(obj, opts.user)
        errs = self.strategy.validate(obj)
        if errs:
            raise self._invalid(md.get("name", ""), errs)
        self.strategy.canonicalize(obj)
        self._with_type(obj)
        if opts.managed_fields is not None:
            md.pop("managedFields", None)
            if opts.managed_fields:
                md["managedFields"] = opts.managed_fields
        gojson.normalize(obj, opts.schema)  # stored as Go encodes it
        name = md["name"]
        key = self.resource.key(md.get("namespace", ""), name)
        if opts.dry_run:
            try:
                await self.storage.get(key)
            except storage.KeyNotFoundError:
                # upstream allocates with a dry-run allocator: the answer shows what would be
                # allocated (cluster IP, node ports), and nothing stays reserved
                undo = await self.allocate(obj, None)
                if undo is not None:
                    await undo()
                return obj
            raise errors.AlreadyExists.for_object(self.resource.plural, self.resource.group, name)
        if type(self).allocate is not Store.allocate:
            # Answer AlreadyExists before allocating for an object that cannot be written.
            try:
                await self.storage.get(key)
            except storage.KeyNotFoundError:
                pass
            else:
                raise errors.AlreadyExists.for_object(
                    self.resource.plural, self.resource.group, name
                )
        undo = await self.allocate(obj, None)
        try:
            kv = await self.storage.create(key, encode(obj))
        except storage.KeyExistsError:
            if undo is not None:
                await undo()
            raise errors.AlreadyExists.for_object(
                self.resource.plural, self.resource.group, name
            ) from None
        except BaseException:
            if undo is not None:
                await undo()
            raise
        md["resourceVersion"] = str(kv.mod_revision)
        return obj

    # -- update

    async def update(
        self,
        namespace: str,
        name: str,
        body: Any,
        opts: WriteOptions,
        *,
        strategy: Strategy | None = None,
    ) -> tuple[Obj, bool]:
        """PUT: returns (object, created). ``strategy`` overrides for subresources."""
        strat = strategy or self.strategy
        new = self._check_body_type(body)
        new = jsoncopy.clone(new)
        self._set_namespace(new, namespace)
        md = meta.metadata(new)
        if md.get("name") and md["name"] != name:
            raise errors.BadRequest(
                f"the name of the object ({md['name']}) does not match the name on the URL ({name})"
            )
        md["name"] = name
        key = self.resource.key(namespace, name)
        want_rv = md.get("resourceVersion") or ""
        if want_rv == "0":
            want_rv = ""  # upstream: version 0 is no precondition (an unconditional update)
        if want_rv:
            _parse_rv(want_rv, "resourceVersion")
        created = False
        result: Obj = {}
        old_obj: Obj = {}
        undo: Release | None = None

        async def try_update(current: storage.KeyValue) -> bytes | None:
            nonlocal created, result, old_obj, undo
            if undo is not None:
                await undo()
                undo = None
            if current.mod_revision == 0:
                raise self._not_found(name)
            old = decode(current)
            if want_rv and want_rv != str(current.mod_revision):
                raise self._conflict(name)
            if not want_rv and not strat.allow_unconditional_update:
                raise self._invalid(
                    name,
                    [
                        errors.invalid_value(
                            "metadata.resourceVersion",
                            "",
                            "must be specified for an update",
                        )
                    ],
                )
            obj = jsoncopy.clone(new)
            gojson.normalize(obj, opts.schema, fill=False)
            strat.default(obj)
            quantities.canonicalize(obj, opts.schema)
            await self._run_admission("UPDATE", obj, old)
            omd = meta.metadata(obj)
            old_md = old["metadata"]
            if "generation" in old_md:
                omd["generation"] = old_md["generation"]
            else:
                omd.pop("generation", None)
            strat.prepare_for_update(obj, old)
            omd = meta.metadata(obj)
            omd.setdefault("uid", old_md.get("uid"))
            omd["creationTimestamp"] = old_md.get("creationTimestamp")
            if "deletionTimestamp" in old_md:
                omd["deletionTimestamp"] = old_md["deletionTimestamp"]
            if "deletionGracePeriodSeconds" in old_md:
                omd["deletionGracePeriodSeconds"] = old_md["deletionGracePeriodSeconds"]
            errs = _validate_common_update(obj, old)
            errs += strat.validate_update(obj, old)
            if errs:
                raise self._invalid(name, errs)
            strat.canonicalize(obj)
            self._with_type(obj)
            if opts.managed_fields is not None:
                omd.pop("managedFields", None)
                if opts.managed_fields:
                    omd["managedFields"] = opts.managed_fields
            else:
                fieldmanager.on_update(
                    obj,
                    old,
                    opts.field_manager,
                    self.resource.api_version,
                    opts.subresource,
                    opts.schema,
                )
            gojson.normalize(obj, opts.schema)
            if not opts.dry_run:
                undo = await self.allocate(obj, old)
            omd["resourceVersion"] = str(current.mod_revision)
            result = obj
            old_obj = old
            if _same_stored(obj, old):
                result = old  # no-op update: nothing is written, the version stays
                return None
            if opts.dry_run:
                return None
            return encode(obj)

        try:
            kv = await self.storage.guaranteed_update(key, try_update)
        except storage.KeyNotFoundError:
            if not strat.allow_create_on_update or opts.subresource:
                raise self._not_found(name) from None
            obj = await self.create(namespace, new, opts)
            return obj, True
        except BaseException:
            if undo is not None:
                await undo()
            raise
        if not opts.dry_run and old_obj:
            await self.after_update(result, old_obj)
        result["metadata"]["resourceVersion"] = str(kv.mod_revision)
        if not opts.dry_run and self._should_delete_during_update(result):
            with contextlib.suppress(storage.KeyNotFoundError):
                await self.storage.delete(key)
        return result, created

    @staticmethod
    def _should_delete_during_update(obj: Obj) -> bool:
        md = obj.get("metadata") or {}
        return (
            bool(md.get("deletionTimestamp"))
            and not md.get("finalizers")
            and not md.get("deletionGracePeriodSeconds")
        )

    # -- delete

    async def delete(self, namespace: str, name: str, opts: DeleteOptions) -> tuple[Obj, bool]:
        """Returns (object, deleted now). Not deleted now means graceful or finalizers."""
        key = self.resource.key(namespace, name)
        try:
            current = await self.storage.get(key)
        except storage.KeyNotFoundError:
            raise self._not_found(name) from None
        obj = self._with_type(decode(current))
        md = obj["metadata"]
        # rest.BeforeDelete checks the preconditions early, naming the kind
        if opts.precondition_uid is not None and opts.precondition_uid != md.get("uid"):
            raise errors.Conflict.for_object(
                self.resource.kind,
                self.resource.group,
                name,
                f"the UID in the precondition ({opts.precondition_uid}) does not match the UID "
                f"in record ({md.get('uid', '')}). The object might have been deleted and then "
                "recreated",
            )
        if opts.precondition_rv is not None and opts.precondition_rv != md.get("resourceVersion"):
            raise errors.Conflict.for_object(
                self.resource.kind,
                self.resource.group,
                name,
                f"the ResourceVersion in the precondition ({opts.precondition_rv}) does not match "
                f"the ResourceVersion in record ({md.get('resourceVersion', '')}). The object "
                "might have been modified",
            )
        await self._run_admission("DELETE", obj, obj)
        grace = self.strategy.check_graceful_delete(obj, opts.grace_period_seconds)
        finalizers = list(md.get("finalizers") or [])
        policy = opts.propagation_policy
        if policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if finalizers or grace:
            return await self._mark_deleting(key, name, obj, finalizers, grace, opts)
        if opts.dry_run:
            return obj, True
        return await self._delete_now(key, name, md.get("uid"), obj)

    async def _delete_now(self, key: str, name: str, uid: str | None, obj: Obj) -> tuple[Obj, bool]:
        try:
            kv = await self.storage.delete(key, preconditions=storage.Preconditions(uid=uid))
        except storage.KeyNotFoundError:
            raise self._not_found(name) from None
        except storage.PreconditionError:
            raise self._conflict(name) from None
        out = self._with_type(decode(kv))
        await self.release(out)
        return out, True

    async def _mark_deleting(
        self,
        key: str,
        name: str,
        obj: Obj,
        finalizers: builtins.list[str],
        grace: int | None,
        opts: DeleteOptions,
    ) -> tuple[Obj, bool]:
        """Set deletionTimestamp (now + grace) and the finalizers the policy asks for."""
        result: Obj = {}
        delete_now = False

        async def try_update(current: storage.KeyValue) -> bytes | None:
            nonlocal result, delete_now
            cur = self._with_type(decode(current))
            md = cur["metadata"]
            md["finalizers"] = (
                list(dict.fromkeys([*(md.get("finalizers") or []), *finalizers])) or None
            )
            if md["finalizers"] is None:
                del md["finalizers"]
            period = grace or 0
            existing = md.get("deletionTimestamp")
            if existing is None or period < int(md.get("deletionGracePeriodSeconds") or 0):
                at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=period)
                md["deletionTimestamp"] = meta.format_time(at)
                md["deletionGracePeriodSeconds"] = period
            if not md.get("finalizers") and not md.get("deletionGracePeriodSeconds"):
                delete_now = True
            result = cur
            if opts.dry_run:
                return None
            return encode(cur)

        try:
            kv = await self.storage.guaranteed_update(
                key, try_update, preconditions=storage.Preconditions(uid=obj["metadata"]["uid"])
            )
        except storage.KeyNotFoundError:
            raise self._not_found(name) from None
        except storage.PreconditionError:
            raise self._conflict(name) from None
        result["metadata"]["resourceVersion"] = str(kv.mod_revision)
        if delete_now and not opts.dry_run:
            return await self._delete_now(key, name, obj["metadata"]["uid"], result)
        return result, False

    async def delete_collection(
        self, namespace: str, list_opts: ListOptions, opts: DeleteOptions
    ) -> Obj:
        listing = await self.list(namespace, list_opts)
        deleted: builtins.list[Obj] = []
        for item in listing["items"]:
            md = item["metadata"]
            try:
                obj, _ = await self.delete(md.get("namespace", ""), md["name"], opts)
            except errors.NotFound:
                continue
            obj.pop("apiVersion", None)
            obj.pop("kind", None)
            deleted.append(obj)
        listing["items"] = deleted
        return listing

    # -- watch

    async def watch(
        self, namespace: str, opts: ListOptions, *, send_initial: bool | None = None
    ) -> AsyncIterator[WatchEvent]:
        """Events for ``namespace`` (all when empty) after ``opts.resource_version``.

        Unset or "0": first an ADDED event per existing object, then changes.
        Yields an ERROR event with a 410 Status when the revision was compacted."""
        prefix = self.resource.prefix(namespace)
        rv = opts.resource_version
        initial = send_initial if send_initial is not None else rv in ("", "0")
        start = 0
        pending: builtins.list[WatchEvent] = []
        if initial:
            listing = await self.list(
                namespace,
                ListOptions(label_selector=opts.label_selector, field_selector=opts.field_selector),
            )
            start = int(listing["metadata"]["resourceVersion"])
            for item in listing["items"]:
                pending.append(
                    WatchEvent(
                        "ADDED", self._with_type(item), int(item["metadata"]["resourceVersion"])
                    )
                )
        elif rv in ("", "0"):
            start = await self.storage.current_revision()
        else:
            start = _parse_rv(rv)
            current = await self.storage.current_revision()
            if start > current:
                yield WatchEvent("ERROR", _too_large(start, current).status())
                return
        try:
            w = self.storage.watch(prefix, from_revision=start)
        except storage.TooOldError as e:
            yield _expired_event(e)
            return
        try:
            for ev in pending:
                yield ev
            yield WatchEvent("BOOKMARK_INITIAL", {}, start, progress=w.progress)
            async for sev in w:
                out = self._translate(sev, opts)
                if out is not None:
                    yield out
        except storage.TooOldError as e:
            yield _expired_event(e)
        except storage.WatchClosedError:
            return
        finally:
            await w.close()

    def _event_object(self, sev: storage.Event) -> Obj:
        """The object an event carries, decoded once for every watcher of this store (the
        watch handler only serializes it: it is shared, read-only)."""
        ck = (sev.key, sev.revision)
        obj = self._event_objects.get(ck)
        if obj is None:
            obj = self._with_type(orjson.loads(sev.value))
            meta.metadata(obj)["resourceVersion"] = str(sev.revision)
            if len(self._event_objects) >= EVENT_OBJECTS_MAX:
                self._event_objects.pop(next(iter(self._event_objects)))
            self._event_objects[ck] = obj
        return obj

    def _translate(self, sev: storage.Event, opts: ListOptions) -> WatchEvent | None:
        filtering = not (opts.label_selector.empty and opts.field_selector.empty)
        obj = self._event_object(sev)
        if sev.type is storage.EventType.DELETED:
            if filtering and not self._matches(obj, opts):
                return None
            return WatchEvent("DELETED", obj, sev.revision)
        matches = not filtering or self._matches(obj, opts)
        if sev.type is storage.EventType.ADDED or sev.prev_value is None:
            return WatchEvent("ADDED", obj, sev.revision) if matches else None
        if not filtering:
            return WatchEvent("MODIFIED", obj, sev.revision)
        old = self._with_type(orjson.loads(sev.prev_value))
        old_matches = self._matches(old, opts)
        if matches and old_matches:
            return WatchEvent("MODIFIED", obj, sev.revision)
        if matches:
            return WatchEvent("ADDED", obj, sev.revision)
        if old_matches:
            # It left the selection: the watcher sees it go away.
            meta.metadata(old)["resourceVersion"] = str(sev.revision)
            return WatchEvent("DELETED", old, sev.revision)
        return None


def _expired_event(e: storage.TooOldError) -> WatchEvent:
    err = errors.Gone(f"too old resource version: {e.requested} ({e.compacted})")
    return WatchEvent("ERROR", err.status())


def _too_large(requested: int, current: int) -> errors.Timeout:
    return errors.Timeout(
        f"Too large resource version: {requested}, current: {current}",
        details={
            "causes": [
                {
                    "reason": "ResourceVersionTooLarge",
                    "message": "Too large resource version",
                }
            ],
            "retryAfterSeconds": 1,
        },
    )


def _validate_common_update(obj: Obj, old: Obj) -> list[errors.FieldError]:
    md = obj.get("metadata") or {}
    old_md = old.get("metadata") or {}
    errs: builtins.list[errors.FieldError] = []
    if md.get("uid") != old_md.get("uid"):
        errs.append(errors.invalid_value("metadata.uid", md.get("uid"), "field is immutable"))
    return errs


def _same_stored(a: Obj, b: Obj) -> bool:
    """Whether two objects store the same, resourceVersion aside (managedFields count:
    the field manager keeps them, timestamps included, as they were on a no-op)."""

    def strip(o: Obj) -> Obj:
        o = dict(o)
        md = dict(o.get("metadata") or {})
        md.pop("resourceVersion", None)
        o["metadata"] = md
        return o

    return strip(a) == strip(b)
