"""The served custom resources, kept in step with the CustomResourceDefinitions.

Mirrors ``apiextensions-apiserver/pkg/apiserver/customresource_handler.go``
(``crdHandler``: one storage per served version of every Established CRD,
rebuilt when the CRD changes, creates refused while it terminates) and runs,
in the API server's process as upstream's apiextensions server does, the
CRD controllers: naming and establishing (``names.py``) and the finalizer
(``pkg/controller/finalizer/crd_finalizer.go``: a deleted CRD's instances are
deleted, then its ``customresourcecleanup`` finalizer goes).

Version order in discovery is upstream's ``version.CompareKubeAwareVersionStrings``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyk8s.api import errors, scheme
from pyk8s.apiserver.admission.namespace_lifecycle import NamespaceLifecycle
from pyk8s.apiserver.apiextensions import crd as crd_
from pyk8s.apiserver.apiextensions import customresource, names, tableconvertor
from pyk8s.apiserver.apiextensions import openapi as cr_openapi
from pyk8s.apiserver.registry.generic import store as generic
from pyk8s.apiserver.registry.generic.strategy import Obj, Strategy
from pyk8s.apiserver.registry.rest import REST
from pyk8s.storage import interface as storage

log = logging.getLogger(__name__)

GROUP = "apiextensions.k8s.io"
CRDS = (GROUP, "v1", "customresourcedefinitions")
_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
FINALIZER_POLL = 0.2


def version_priority(v: str) -> tuple[int, int, int, str]:
    """Sort key: GA before beta before alpha, higher first; others last, alphabetical."""
    m = _KUBE_VERSION.match(v)
    if m is None:
        return (3, 0, 0, v)
    major = int(m.group(1))
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor, "")


@dataclass
class Served:
    crd_name: str
    resource: scheme.Resource
    rest: REST
    version: customresource.Version
    terminating: bool = False


def _signature(crd: Obj) -> tuple[Any, ...]:
    """What the stores of a CRD depend on (other changes keep them)."""
    status = crd.get("status") or {}
    return (
        repr(crd.get("spec")),
        repr(status.get("acceptedNames")),
        names.is_true(crd, names.ESTABLISHED),
        names.is_true(crd, names.TERMINATING),
    )


class CustomResources:
    """The CRD-driven part of the server's resource table and REST storage."""

    def __init__(
        self,
        backend: storage.Interface,
        crd_store: generic.Store,
        *,
        builtin: scheme.Scheme,
        merge_defs: Any = None,
        disabled_admission: frozenset[str] = frozenset(),
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.backend = backend
        self.crd_store = crd_store
        self.builtin = builtin
        self.merge_defs = merge_defs
        self.disabled_admission = disabled_admission
        self.on_change = on_change
        self.crds: dict[str, Obj] = {}
        self.served: dict[tuple[str, str, str], Served] = {}
        self._by_crd: dict[str, tuple[tuple[Any, ...], list[Served]]] = {}
        self._finalizing: dict[str, asyncio.Task[None]] = {}
        self._synced = asyncio.Event()
        self.revision = 0

    # -- the table ---------------------------------------------------------------------

    @property
    def resources(self) -> tuple[scheme.Resource, ...]:
        return tuple(s.resource for s in self.served.values())

    def lookup(self, group: str, version: str, plural: str) -> Served | None:
        return self.served.get((group, version, plural))

    def openapi_definitions(self) -> Obj:
        out: Obj = {}
        for s in self.served.values():
            v = s.version
            out.update(cr_openapi.definitions(v.group, v.version, v.kind, v.list_kind, v.schema))
        return out

    def _build(self, crd: Obj) -> list[Served]:
        spec = crd.get("spec") or {}
        accepted = (crd.get("status") or {}).get("acceptedNames") or {}
        group = spec.get("group", "")
        plural = accepted.get("plural") or ""
        kind = accepted.get("kind") or ""
        if not plural or not kind:
            return []
        namespaced = spec.get("scope") == "Namespaced"
        name = crd["metadata"]["name"]
        stored_in = crd_.storage_version(crd)
        versions = [v for v in spec.get("versions") or [] if v.get("served")]
        versions.sort(key=lambda v: version_priority(str(v.get("name", ""))))
        terminating = names.is_true(crd, names.TERMINATING) or bool(
            crd["metadata"].get("deletionTimestamp")
        )
        out: list[Served] = []
        for i, v in enumerate(versions):
            vname = str(v.get("name", ""))
            if self.builtin.lookup(group, vname, plural) is not None:
                continue
            subs_spec = v.get("subresources") or {}
            subs: list[scheme.Subresource] = []
            has_scale = isinstance(subs_spec.get("scale"), dict)
            if has_scale:
                subs.append(
                    scheme.Subresource("scale", "Scale", scheme.READ_WRITE_SUB, "autoscaling", "v1")
                )
            has_status = "status" in subs_spec and subs_spec["status"] is not None
            if has_status:
                subs.append(scheme.Subresource("status", kind, scheme.READ_WRITE_SUB))
            res = scheme.Resource(
                group=group,
                version=vname,
                kind=kind,
                plural=plural,
                singular=accepted.get("singular") or kind.lower(),
                namespaced=namespaced,
                short_names=tuple(accepted.get("shortNames") or ()),
                categories=tuple(accepted.get("categories") or ()),
                subresources=tuple(subs),
                storage_prefix=f"{group}/{plural}",
                preferred=i == 0,
                field_selectors=tuple(
                    str(f.get("jsonPath", "")).lstrip(".")
                    for f in v.get("selectableFields") or []
                    if isinstance(f, dict) and f.get("jsonPath")
                ),
            )
            version = customresource.Version(
                group=group,
                version=vname,
                kind=kind,
                list_kind=accepted.get("listKind") or kind + "List",
                namespaced=namespaced,
                schema=(v.get("schema") or {}).get("openAPIV3Schema"),
                status=has_status,
                scale=customresource.ScalePaths.from_crd(subs_spec.get("scale")),
                printer_columns=list(v.get("additionalPrinterColumns") or []),
                deprecated=bool(v.get("deprecated")),
                deprecation_warning=v.get("deprecationWarning"),
                merge_defs=self.merge_defs,
            )
            backend: storage.Interface = self.backend
            if stored_in and stored_in != vname:
                backend = customresource.StorageVersionCodec(
                    self.backend, res.api_version, f"{group}/{stored_in}"
                )
            admit: list[generic.Admit] = []
            if "NamespaceLifecycle" not in self.disabled_admission:
                admit.append(NamespaceLifecycle(self.backend, res))
            store = customresource.CustomResourceStore(
                res, backend, customresource.CustomResourceStrategy(res, version), admit=admit
            )
            sub_strategies: dict[str, Strategy] = {}
            if has_status:
                sub_strategies["status"] = customresource.CustomResourceStatusStrategy(res, version)
            rest = REST(
                store,
                sub_strategies,
                printer=tableconvertor.printer(version.printer_columns),
                custom=version,
            )
            out.append(Served(name, res, rest, version, terminating))
        return out

    def _apply(self, crd: Obj | None, name: str) -> bool:
        """Update the served stores of CRD ``name``; True when the table changed."""
        if crd is None or not names.is_true(crd, names.ESTABLISHED):
            old = self._by_crd.pop(name, None)
            if old is None:
                return False
            for s in old[1]:
                self.served.pop((s.resource.group, s.resource.version, s.resource.plural), None)
            return True
        sig = _signature(crd)
        old = self._by_crd.get(name)
        if old is not None and old[0] == sig:
            return False
        if old is not None:
            for s in old[1]:
                self.served.pop((s.resource.group, s.resource.version, s.resource.plural), None)
        built = self._build(crd)
        kept: list[Served] = []
        for s in built:
            key = (s.resource.group, s.resource.version, s.resource.plural)
            if key in self.served:
                continue  # another CRD serves it already
            self.served[key] = s
            kept.append(s)
        self._by_crd[name] = (sig, kept)
        return True

    def _changed(self) -> None:
        self.revision += 1
        if self.on_change is not None:
            self.on_change()

    # -- the loop ------------------------------------------------------------------------

    async def wait_synced(self) -> None:
        await self._synced.wait()

    async def run(self) -> None:
        """List and watch CRDs until cancelled; relist when the watch ends."""
        try:
            while True:
                try:
                    await self._list_and_watch()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("custom resource definitions: watch failed; relisting")
                await asyncio.sleep(1.0)
        finally:
            for t in self._finalizing.values():
                t.cancel()
            for t in list(self._finalizing.values()):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def _list_and_watch(self) -> None:
        listing = await self.crd_store.list("", generic.ListOptions())
        fresh = {i["metadata"]["name"]: self.crd_store._with_type(i) for i in listing["items"]}
        changed = False
        for name in list(self.crds):
            if name not in fresh:
                self.crds.pop(name)
                changed |= self._apply(None, name)
        for name, crd in fresh.items():
            self.crds[name] = crd
            changed |= self._apply(crd, name)
        if changed:
            self._changed()
        self._synced.set()
        for name in list(self.crds):
            await self._reconcile(name)
        opts = generic.ListOptions(resource_version=listing["metadata"]["resourceVersion"])
        async for ev in self.crd_store.watch("", opts):
            if ev.type == "ERROR":
                return
            if ev.type not in ("ADDED", "MODIFIED", "DELETED"):
                continue
            crd = copy.deepcopy(ev.object)
            name = (crd.get("metadata") or {}).get("name", "")
            if ev.type == "DELETED":
                self.crds.pop(name, None)
                if self._apply(None, name):
                    self._changed()
                for other in self._group_peers(crd):
                    await self._reconcile(other)
                continue
            self.crds[name] = crd
            if self._apply(crd, name):
                self._changed()
            await self._reconcile(name)

    def _group_peers(self, crd: Obj) -> list[str]:
        group = (crd.get("spec") or {}).get("group")
        return [n for n, c in self.crds.items() if (c.get("spec") or {}).get("group") == group]

    async def _reconcile(self, name: str) -> None:
        crd = self.crds.get(name)
        if crd is None:
            return
        md = crd.get("metadata") or {}
        if md.get("deletionTimestamp"):
            if crd_.CLEANUP_FINALIZER in (md.get("finalizers") or []) and (
                name not in self._finalizing or self._finalizing[name].done()
            ):
                self._finalizing[name] = asyncio.create_task(
                    self._finalize(name), name=f"crd finalizer {name}"
                )
            return
        updated = names.reconcile(crd, [c for n, c in self.crds.items()])
        if updated is None:
            return
        try:
            out = await self._update_status(updated)
        except (errors.Conflict, errors.NotFound):
            return  # changed or gone meanwhile: its event comes next
        except errors.ApiError as e:
            log.warning("custom resource definition %s: status update failed: %s", name, e)
            return
        self.crds[name] = out
        if self._apply(out, name):
            self._changed()
        for peer in self._group_peers(out):
            other = self.crds[peer]
            accepted = (other.get("status") or {}).get("acceptedNames")
            if peer != name and accepted != (other.get("spec") or {}).get("names"):
                await self._reconcile(peer)

    async def _update_status(self, crd: Obj) -> Obj:
        strategy = crd_.CRDStatusStrategy(self.crd_store.resource)
        out, _ = await self.crd_store.update(
            "",
            crd["metadata"]["name"],
            crd,
            generic.WriteOptions(field_manager="kube-apiserver", subresource="status"),
            strategy=strategy,
        )
        return self.crd_store._with_type(out)

    # -- the finalizer -------------------------------------------------------------------

    def _storage_store(self, name: str) -> generic.Store | None:
        entry = self._by_crd.get(name)
        if entry is None or not entry[1]:
            return None
        crd = self.crds.get(name) or {}
        stored_in = crd_.storage_version(crd)
        for s in entry[1]:
            if s.resource.version == stored_in:
                return s.rest.store
        return entry[1][0].rest.store

    async def _set_terminating(self, name: str, reason: str, message: str) -> Obj | None:
        for _ in range(5):
            try:
                current = self.crd_store._with_type(await self.crd_store.get("", name))
            except errors.NotFound:
                return None
            if (
                (c := names.find_condition(current, names.TERMINATING)) is not None
                and c.get("reason") == reason
                and c.get("message") == message
            ):
                return current
            names.set_condition(
                current, {"type": names.TERMINATING, "status": "True", "reason": reason,
                          "message": message}
            )  # fmt: skip
            try:
                return await self._update_status(current)
            except errors.Conflict:
                continue
        return None

    async def _finalize(self, name: str) -> None:
        try:
            await self._delete_instances(name)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("custom resource definition %s: deleting instances failed", name)
            await self._set_terminating(
                name, "InstanceDeletionFailed", f"could not list instances: {e}"
            )
            return

    async def _delete_instances(self, name: str) -> None:
        await self._set_terminating(
            name, "InstanceDeletionInProgress", "CustomResource deletion is in progress"
        )
        store = self._storage_store(name)
        if store is not None:
            listing = await store.list("", generic.ListOptions())
            for item in listing["items"]:
                md = item["metadata"]
                with contextlib.suppress(errors.NotFound, errors.Conflict):
                    await store.delete(md.get("namespace", ""), md["name"], generic.DeleteOptions())
            while True:
                left = await store.list("", generic.ListOptions(limit=1))
                if not left["items"]:
                    break
                await asyncio.sleep(FINALIZER_POLL)
        for _ in range(10):
            crd = await self._set_terminating(
                name, "InstanceDeletionCompleted", "removed all instances"
            )
            if crd is None:
                return
            md = crd["metadata"]
            md["finalizers"] = [
                f for f in md.get("finalizers") or [] if f != crd_.CLEANUP_FINALIZER
            ]
            if not md["finalizers"]:
                del md["finalizers"]
            try:
                await self._update_status(crd)
                return
            except errors.Conflict:
                continue
            except errors.NotFound:
                return

    def terminating(self, group: str, version: str, plural: str) -> bool:
        s = self.served.get((group, version, plural))
        return s is not None and s.terminating
