"""The per-resource strategy: the hooks the generic store calls in a fixed order.

Mirrors k8s.io/apiserver ``pkg/registry/rest/create.go`` (``RESTCreateStrategy``,
``BeforeCreate``), ``update.go`` (``RESTUpdateStrategy``, ``BeforeUpdate``) and
``delete.go`` (``RESTDeleteStrategy``, ``RESTGracefulDeleteStrategy``), with
upstream's ``pkg/registry/apps/replicaset/strategy.go`` as the model for a
concrete strategy (``rsStrategy``) and its status variant (``rsStatusStrategy``).

Hook order on create: ``prepare_for_create`` -> ``validate`` -> ``warnings_on_create``
-> ``canonicalize``. On update: ``prepare_for_update`` -> ``validate_update`` ->
``warnings_on_update`` -> ``canonicalize``. Strategies are stateless; objects
are dicts and hooks mutate them in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyk8s.api import defaults, jsoncopy, meta, scheme, validation
from pyk8s.api.errors import FieldError

Obj = dict[str, Any]

_SPEC_SKIP = ("apiVersion", "kind", "metadata", "status")


# Resources whose strategy keeps metadata.generation (upstream sets it to 1 on create and
# bumps it when the spec changes); the others leave it unset.
GENERATION_TRACKED = frozenset(
    {
        ("", "pods"),
        ("", "replicationcontrollers"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("policy", "poddisruptionbudgets"),
        ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "networkpolicies"),
        ("discovery.k8s.io", "endpointslices"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        ("flowcontrol.apiserver.k8s.io", "flowschemas"),
        ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"),
    }
)


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in _SPEC_SKIP}


def _nested(obj: Obj, path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


def _go_bool(path: str) -> Callable[[Obj], str]:
    return lambda obj: "true" if _nested(obj, path) is True else "false"


def _go_int(path: str) -> Callable[[Obj], str]:
    def value(obj: Obj) -> str:
        v = _nested(obj, path)
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else "0"

    return value


def _event_source(obj: Obj) -> str:
    component = _nested(obj, "source.component")
    return str(component or obj.get("reportingComponent") or "")


_TYPED_FIELDS: dict[tuple[str, str, str], Callable[[Obj], str]] = {
    # the Go field sets print these from typed fields: an unset bool is "false", an unset
    # count "0" (strconv), whatever the JSON omits; some labels are not their JSON path
    ("", "nodes", "spec.unschedulable"): _go_bool("spec.unschedulable"),
    ("", "pods", "spec.hostNetwork"): _go_bool("spec.hostNetwork"),
    ("", "replicationcontrollers", "status.replicas"): _go_int("status.replicas"),
    ("apps", "replicasets", "status.replicas"): _go_int("status.replicas"),
    ("batch", "jobs", "status.successful"): _go_int("status.succeeded"),
    ("", "events", "source"): _event_source,
}
"""``GetAttrs`` values that are not the plain JSON value at the label's path."""


class Strategy:
    """Defaults that suit most resources; subclasses override what differs."""

    name_validator: meta.NameValidator = staticmethod(meta.dns1123_subdomain)
    allow_create_on_update: bool = False
    allow_unconditional_update: bool = True

    def __init__(self, resource: scheme.Resource) -> None:
        self.resource = resource

    @property
    def namespace_scoped(self) -> bool:
        return self.resource.namespaced

    @property
    def tracks_generation(self) -> bool:
        return (self.resource.group, self.resource.plural) in GENERATION_TRACKED

    def default(self, obj: Obj) -> None:
        """Fill in the kind's defaults (upstream does this when it decodes a body)."""
        defaults.apply(self.resource.group, self.resource.kind, obj)

    # -- create

    def prepare_for_create(self, obj: Obj) -> None:
        """Clear what a client may not set on create (status, when it is a subresource)."""
        if self.resource.has_status and "status" in obj:
            obj["status"] = self.initial_status(obj)
            if obj["status"] is None:
                del obj["status"]
        md = meta.metadata(obj)
        if self.tracks_generation:
            md["generation"] = 1
        else:
            md.pop("generation", None)

    def set_requester(self, obj: Obj, user: Any) -> None:
        """Record the requesting user on create (CertificateSigningRequest does)."""

    def initial_status(self, obj: Obj) -> Any:
        """The status a new object starts with (None: none)."""
        return None

    def validate(self, obj: Obj) -> list[FieldError]:
        errs = meta.validate_object_meta(
            obj, namespaced=self.namespace_scoped, name_validator=type(self).name_validator
        )
        return errs + validation.validate(self.resource.group, self.resource.kind, obj)

    def warnings_on_create(self, obj: Obj) -> list[str]:
        return []

    def canonicalize(self, obj: Obj) -> None:
        pass

    # -- update

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        """Keep the old status (it has its own endpoint); bump generation when the spec moved."""
        if self.resource.has_status:
            if "status" in old:
                obj["status"] = jsoncopy.clone(old["status"])
            else:
                obj.pop("status", None)
        md = meta.metadata(obj)
        if not self.tracks_generation:
            md.pop("generation", None)
        elif _spec_part(obj) != _spec_part(old):
            md["generation"] = int(md.get("generation") or 0) + 1

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs = self.validate_meta_update(obj, old)
        r = self.resource
        return errs + validation.validate_update(r.group, r.kind, obj, old)

    def validate_meta_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs = meta.validate_labels(obj.get("metadata", {}).get("labels"), "metadata.labels")
        errs += meta.validate_annotations(
            obj.get("metadata", {}).get("annotations"), "metadata.annotations"
        )
        return errs

    def warnings_on_update(self, obj: Obj, old: Obj) -> list[str]:
        return []

    # -- delete

    def check_graceful_delete(self, obj: Obj, grace_period: int | None) -> int | None:
        """The grace period to wait before removing ``obj`` (None: delete now)."""
        return None

    # -- reads

    def field_set(self, obj: Obj) -> dict[str, str]:
        """The fields a field selector may test (``GetAttrs``)."""
        md = obj.get("metadata") or {}
        fields = {"metadata.name": md.get("name", "")}
        if self.namespace_scoped:
            fields["metadata.namespace"] = md.get("namespace", "")
        from pyk8s.api.selectors import field_value

        group, plural = self.resource.group, self.resource.plural
        for f in self.resource.field_selectors:
            typed = _TYPED_FIELDS.get((group, plural, f))
            fields[f] = typed(obj) if typed is not None else field_value(obj, f)
        return fields


class StatusStrategy(Strategy):
    """For ``<resource>/status``: the update keeps the old spec and takes the new status."""

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        new_status = obj.get("status")
        keep = jsoncopy.clone(old)
        keep_md = keep.setdefault("metadata", {})
        md = obj.get("metadata") or {}
        # Labels, annotations and finalizers are not changed through status either,
        # except that an update may set them when the old object has none (upstream
        # resets the whole metadata to the old one, bar managedFields).
        if "managedFields" in md:
            keep_md["managedFields"] = md["managedFields"]
        else:
            keep_md.pop("managedFields", None)
        keep_md["resourceVersion"] = md.get("resourceVersion", keep_md.get("resourceVersion"))
        obj.clear()
        obj.update(keep)
        if new_status is None:
            obj.pop("status", None)
        else:
            obj["status"] = new_status

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return []
