"""An in-memory client for unit tests of components (client-go's fake clientset).

Mirrors k8s.io/client-go/testing: ``fixture.go`` (``ObjectTracker``: objects by
resource, namespace and name; resourceVersions; watches), ``actions.go`` (every
call is recorded as an :class:`Action`) and ``fake.go`` (reactors that can answer
a call instead of the tracker). It implements :class:`pyk8s.client.rest.Interface`,
so informers, the workqueue-driven controllers, leader election and the event
recorder run on it unchanged; tests seed objects with :meth:`Client.add` and
assert on :attr:`Client.actions`, as ``replica_set_test.go`` does.

It behaves like an API server where tests tend to depend on it (uid,
resourceVersion, generation, generateName, AlreadyExists/NotFound/Conflict,
finalizers holding a deletion, watch with synthetic initial ADDED events and
bookmarks, the pods/binding subresource) and no further: no validation,
defaulting or admission; strategic merge and apply patches are treated as JSON
merge patches; versions of a group share one store.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import itertools
import random
import string
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyk8s.api import errors, selectors
from pyk8s.client import clock as clock_
from pyk8s.client import rest

Object = dict[str, Any]


@dataclass(frozen=True)
class Action:
    """One call made to the fake client."""

    verb: str
    """get, list, watch, create, update, patch, delete or delete-collection."""
    resource: rest.ResourceRef
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    object: Object | None = None
    patch: Any = None
    patch_type: rest.PatchType | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, verb: str, plural: str) -> bool:
        return (verb in ("*", self.verb)) and (plural in ("*", self.resource.plural))


Reactor = Callable[[Action], tuple[bool, Any]]
"""Returns ``(handled, result)``; may raise an ``ApiError`` to fail the call."""


_Key = tuple[str, str]  # (group, plural)


class Client:
    def __init__(self, *, namespace: str = "default", clock: clock_.Clock | None = None) -> None:
        self.namespace = namespace
        self.clock: clock_.Clock = clock or clock_.RealClock()
        self.actions: list[Action] = []
        self.compacted_rv = 0
        self._objects: dict[_Key, dict[tuple[str, str], Object]] = {}
        self._events: list[tuple[int, _Key, str, Object]] = []
        self._rv = itertools.count(1)
        self._last_rv = 0
        self._reactors: list[tuple[str, str, Reactor]] = []
        self._changed = asyncio.Event()
        self._closed = False

    # -- test helpers -----------------------------------------------------------------

    def add(self, ref: rest.ResourceRef, obj: Mapping[str, Any]) -> Object:
        """Put ``obj`` in the tracker without recording an action; returns the stored copy."""
        body = copy.deepcopy(dict(obj))
        meta = body.setdefault("metadata", {})
        if ref.namespaced:
            meta.setdefault("namespace", self.namespace)
        return copy.deepcopy(self._store_new(ref, body))

    def prepend_reactor(self, verb: str, plural: str, reactor: Reactor) -> None:
        """Answer matching calls (``"*"`` matches any) with ``reactor`` before the tracker."""
        self._reactors.insert(0, (verb, plural, reactor))

    def actions_of(self, verb: str, plural: str = "*") -> builtins.list[Action]:
        return [a for a in self.actions if a.matches(verb, plural)]

    def clear_actions(self) -> None:
        self.actions.clear()

    def bookmark(self, ref: rest.ResourceRef) -> None:
        """Send a BOOKMARK at the current resourceVersion to watchers that allow them."""
        self._emit(ref, "BOOKMARK", {"metadata": {"resourceVersion": str(self._last_rv)}})

    def end_watches(self) -> None:
        self._closed = True
        self._wake()

    def objects(self, ref: rest.ResourceRef) -> builtins.list[Object]:
        """Every stored object of ``ref`` (copies), for assertions."""
        return [copy.deepcopy(o) for o in self._bucket(ref).values()]

    # -- rest.Interface -----------------------------------------------------------------

    async def get(
        self,
        ref: rest.ResourceRef,
        name: str,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        resource_version: str | None = None,
    ) -> Object:
        ns = self._ns(ref, namespace)
        action = Action("get", ref, ns, name, subresource or "")
        return await self._react(action, lambda: copy.deepcopy(self._existing(ref, ns, name)))

    async def list(
        self,
        ref: rest.ResourceRef,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
        timeout: float | None = None,
    ) -> Object:
        ns = namespace if ref.namespaced and namespace else ""
        opts = {"label_selector": label_selector, "field_selector": field_selector}
        action = Action("list", ref, ns, options=opts)

        def answer() -> Object:
            items = self._select(ref, ns, label_selector, field_selector)
            start = int(continue_ or 0)
            page = items[start : start + limit] if limit else items[start:]
            meta: Object = {"resourceVersion": str(self._last_rv)}
            if limit and start + limit < len(items):
                meta["continue"] = str(start + limit)
                meta["remainingItemCount"] = len(items) - start - limit
            return {
                "apiVersion": ref.api_version,
                "kind": f"{ref.kind or 'Object'}List",
                "metadata": meta,
                "items": [copy.deepcopy(o) for o in page],
            }

        return await self._react(action, answer)

    async def create(
        self,
        ref: rest.ResourceRef,
        body: Mapping[str, Any],
        namespace: str | None = None,
        *,
        name: str | None = None,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str | None = None,
    ) -> Object:
        obj = copy.deepcopy(dict(body))
        ns = self._ns(ref, namespace or (obj.get("metadata") or {}).get("namespace"))
        action = Action("create", ref, ns, name or "", subresource or "", obj)

        def answer() -> Object:
            if subresource:
                return self._create_subresource(ref, ns, name or "", subresource, obj)
            meta = obj.setdefault("metadata", {})
            if ref.namespaced:
                meta["namespace"] = ns
            if not meta.get("name") and meta.get("generateName"):
                suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
                meta["name"] = meta["generateName"] + suffix
            if not meta.get("name"):
                raise errors.Invalid(f"{ref.kind or ref.plural}: metadata.name: Required value")
            if (ns, meta["name"]) in self._bucket(ref):
                raise errors.AlreadyExists(f'{ref.qualified} "{meta["name"]}" already exists')
            if dry_run:
                return obj
            return copy.deepcopy(self._store_new(ref, obj))

        return await self._react(action, answer)

    async def update(
        self,
        ref: rest.ResourceRef,
        body: Mapping[str, Any],
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str | None = None,
    ) -> Object:
        obj = copy.deepcopy(dict(body))
        meta = obj.get("metadata") or {}
        ns = self._ns(ref, namespace or meta.get("namespace"))
        name = meta.get("name", "")
        action = Action("update", ref, ns, name, subresource or "", obj)

        def answer() -> Object:
            old = self._existing(ref, ns, name)
            rv = meta.get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise _conflict(ref, name)
            if subresource == "status":
                new = {**copy.deepcopy(old), "status": obj.get("status")}
            else:
                new = obj
            return copy.deepcopy(self._store_update(ref, old, new, dry_run))

        return await self._react(action, answer)

    async def patch(
        self,
        ref: rest.ResourceRef,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: rest.PatchType = rest.PatchType.MERGE,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> Object:
        ns = self._ns(ref, namespace)
        action = Action(
            "patch",
            ref,
            ns,
            name,
            subresource or "",
            patch=copy.deepcopy(patch),
            patch_type=patch_type,
        )

        def answer() -> Object:
            old = self._existing(ref, ns, name)
            if patch_type is rest.PatchType.JSON:
                new = json_patch(old, patch)
            else:
                new = merge_patch(old, patch)
            rv = (new.get("metadata") or {}).get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise _conflict(ref, name)
            return copy.deepcopy(self._store_update(ref, old, new, dry_run))

        return await self._react(action, answer)

    async def delete(
        self,
        ref: rest.ResourceRef,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> Object:
        ns = self._ns(ref, namespace)
        opts = {
            "propagation_policy": propagation_policy,
            "grace_period_seconds": grace_period_seconds,
            "preconditions": dict(preconditions or {}),
        }
        action = Action("delete", ref, ns, name, options=opts)
        return await self._react(
            action, lambda: self._delete(ref, ns, name, preconditions or {}, dry_run)
        )

    async def delete_collection(
        self,
        ref: rest.ResourceRef,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        propagation_policy: str | None = None,
    ) -> Object:
        ns = namespace if ref.namespaced and namespace else ""
        opts = {"label_selector": label_selector, "field_selector": field_selector}
        action = Action("delete-collection", ref, ns, options=opts)

        def answer() -> Object:
            for obj in self._select(ref, ns, label_selector, field_selector):
                meta = obj["metadata"]
                self._delete(ref, meta.get("namespace", ""), meta["name"], {}, False)
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}

        return await self._react(action, answer)

    async def watch(
        self,
        ref: rest.ResourceRef,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        allow_bookmarks: bool = True,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        send_initial_events: bool | None = None,
    ) -> AsyncGenerator[rest.WatchEvent, None]:
        """Synthetic ADDED events for ``resource_version`` unset or "0", then changes."""
        ns = namespace if ref.namespaced and namespace else ""
        opts = {"resource_version": resource_version, "label_selector": label_selector}
        action = Action("watch", ref, ns, options=opts)
        self.actions.append(action)
        for verb, plural, reactor in self._reactors:
            if action.matches(verb, plural):
                handled, _ = reactor(action)
                if handled:
                    return
        key = (ref.group, ref.plural)
        if resource_version and resource_version != "0":
            start = int(resource_version)
            if start < self.compacted_rv:
                raise errors.Gone(f"too old resource version: {start} ({self.compacted_rv})")
        else:
            start = self._last_rv
            for obj in self._select(ref, ns, label_selector, field_selector):
                yield rest.WatchEvent("ADDED", copy.deepcopy(obj))
        pos = next((i for i, e in enumerate(self._events) if e[0] > start), len(self._events))
        while not self._closed:
            waiter = self._changed
            while pos < len(self._events):
                _, ekey, kind, obj = self._events[pos]
                pos += 1
                if ekey != key:
                    continue
                if kind == "BOOKMARK":
                    if allow_bookmarks:
                        yield rest.WatchEvent(kind, copy.deepcopy(obj))
                    continue
                meta = obj["metadata"]
                if ns and meta.get("namespace") != ns:
                    continue
                if not _labels_match(label_selector, meta.get("labels") or {}):
                    continue
                if not _fields_match(field_selector, obj):
                    continue
                yield rest.WatchEvent(kind, copy.deepcopy(obj))
            await waiter.wait()

    # -- the tracker ------------------------------------------------------------------

    async def _react(self, action: Action, default: Callable[[], Object]) -> Object:
        self.actions.append(action)
        for verb, plural, reactor in self._reactors:
            if action.matches(verb, plural):
                handled, result = reactor(action)
                if handled:
                    return result  # type: ignore[no-any-return]
        return default()

    def _ns(self, ref: rest.ResourceRef, namespace: str | None) -> str:
        if not ref.namespaced:
            return ""
        return namespace or self.namespace

    def _bucket(self, ref: rest.ResourceRef) -> dict[tuple[str, str], Object]:
        return self._objects.setdefault((ref.group, ref.plural), {})

    def _existing(self, ref: rest.ResourceRef, ns: str, name: str) -> Object:
        obj = self._bucket(ref).get((ns, name))
        if obj is None:
            raise errors.NotFound.for_object(ref.plural, ref.group, name)
        return obj

    def _next_rv(self) -> str:
        self._last_rv = next(self._rv)
        return str(self._last_rv)

    def _store_new(self, ref: rest.ResourceRef, obj: Object) -> Object:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _timestamp(self.clock))
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = self._next_rv()
        obj.setdefault("apiVersion", ref.api_version)
        if ref.kind:
            obj.setdefault("kind", ref.kind)
        self._bucket(ref)[(meta.get("namespace", "") if ref.namespaced else "", meta["name"])] = obj
        self._emit(ref, "ADDED", obj)
        return obj

    def _store_update(
        self, ref: rest.ResourceRef, old: Object, new: Object, dry_run: bool
    ) -> Object:
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        for keep in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp"):
            if keep in old_meta:
                meta[keep] = old_meta[keep]
        meta["generation"] = old_meta.get("generation", 1)
        if new.get("spec") != old.get("spec"):
            meta["generation"] += 1
        if dry_run:
            return new
        key = (old_meta.get("namespace", ""), old_meta["name"])
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            del self._bucket(ref)[key]
            meta["resourceVersion"] = self._next_rv()
            self._emit(ref, "DELETED", new)
            return new
        meta["resourceVersion"] = self._next_rv()
        self._bucket(ref)[key] = new
        self._emit(ref, "MODIFIED", new)
        return new

    def _delete(
        self,
        ref: rest.ResourceRef,
        ns: str,
        name: str,
        preconditions: Mapping[str, str],
        dry_run: bool,
    ) -> Object:
        obj = self._existing(ref, ns, name)
        meta = obj["metadata"]
        for field_name in ("uid", "resourceVersion"):
            want = preconditions.get(field_name)
            if want and want != meta.get(field_name):
                raise errors.Conflict(
                    f'Operation cannot be fulfilled on {ref.qualified} "{name}": Precondition'
                    f" failed: {field_name}"
                )
        if dry_run:
            return copy.deepcopy(obj)
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                updated = copy.deepcopy(obj)
                updated["metadata"]["deletionTimestamp"] = _timestamp(self.clock)
                updated["metadata"]["deletionGracePeriodSeconds"] = 0
                return copy.deepcopy(self._store_update(ref, obj, updated, False))
            return copy.deepcopy(obj)
        del self._bucket(ref)[(ns, name)]
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = self._next_rv()
        self._emit(ref, "DELETED", gone)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": name,
                "group": ref.group,
                "kind": ref.plural,
                "uid": meta.get("uid"),
            },
        }

    def _create_subresource(
        self, ref: rest.ResourceRef, ns: str, name: str, subresource: str, body: Object
    ) -> Object:
        if ref.plural == "pods" and subresource == "binding":
            pod = self._existing(ref, ns, name)
            if (pod.get("spec") or {}).get("nodeName"):
                raise errors.Conflict(
                    f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} is'
                    f' already assigned to node "{pod["spec"]["nodeName"]}"'
                )
            bound = copy.deepcopy(pod)
            bound.setdefault("spec", {})["nodeName"] = (body.get("target") or {}).get("name", "")
            self._store_update(ref, pod, bound, False)
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
        if ref.plural == "pods" and subresource == "eviction":
            self._delete(ref, ns, name, {}, False)
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
        return body

    def _select(
        self, ref: rest.ResourceRef, ns: str, label_selector: str | None, field_selector: str | None
    ) -> builtins.list[Object]:
        out = []
        for (obj_ns, _), obj in sorted(self._bucket(ref).items()):
            if ns and obj_ns != ns:
                continue
            if not _labels_match(label_selector, obj["metadata"].get("labels") or {}):
                continue
            if not _fields_match(field_selector, obj):
                continue
            out.append(obj)
        return out

    def _emit(self, ref: rest.ResourceRef, kind: str, obj: Object) -> None:
        self._events.append((self._last_rv, (ref.group, ref.plural), kind, copy.deepcopy(obj)))
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


def _implements_interface(client: Client) -> rest.Interface:
    return client  # mypy checks here that the fake satisfies rest.Interface


def _timestamp(clock: clock_.Clock) -> str:
    return clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")


def _conflict(ref: rest.ResourceRef, name: str) -> errors.Conflict:
    return errors.Conflict(
        f'Operation cannot be fulfilled on {ref.qualified} "{name}": the object has been'
        " modified; please apply your changes to the latest version and try again"
    )


# -- patches --------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (returns a new value)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def json_patch(target: Object, ops: Any) -> Object:
    """RFC 6902 add/remove/replace/test (enough for controllers' patches)."""
    doc = copy.deepcopy(target)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent: Any = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, builtins.list) else parent[p]
        last = parts[-1]
        kind = op["op"]
        try:
            if isinstance(parent, builtins.list):
                index = len(parent) if last == "-" else int(last)
                if kind == "add":
                    parent.insert(index, op["value"])
                elif kind == "remove":
                    del parent[index]
                elif kind == "replace":
                    parent[index] = op["value"]
                elif kind == "test" and parent[index] != op["value"]:
                    raise errors.Invalid(f"test operation failed at {op['path']}")
            elif kind in ("add", "replace"):
                if kind == "replace" and last not in parent:
                    raise KeyError(last)
                parent[last] = op["value"]
            elif kind == "remove":
                del parent[last]
            elif kind == "test" and parent.get(last) != op["value"]:
                raise errors.Invalid(f"test operation failed at {op['path']}")
        except (KeyError, IndexError, ValueError) as e:
            raise errors.Invalid(f"the server rejected our request: {op['path']}: {e}") from e
    return doc


# -- selectors ----------------------------------------------------------------------


def _labels_match(selector: str | None, labels: Mapping[str, str]) -> bool:
    if not selector:
        return True
    try:
        return selectors.parse_labels(selector).matches(labels)
    except selectors.SelectorError as e:
        raise errors.BadRequest(str(e)) from e


def _fields_match(selector: str | None, obj: Mapping[str, Any]) -> bool:
    if not selector:
        return True
    try:
        parsed = selectors.parse_fields(selector)
    except selectors.SelectorError as e:
        raise errors.BadRequest(str(e)) from e
    fields = {r.field: selectors.field_value(obj, r.field) for r in parsed.requirements}
    return parsed.matches(fields)
