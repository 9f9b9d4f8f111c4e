"""Request metrics in the Prometheus text format (``/metrics``).

The names and labels of k8s.io/apiserver ``pkg/endpoints/metrics/metrics.go``:
``apiserver_request_total`` (verb, group, version, resource, subresource,
scope, component, code) and ``apiserver_request_duration_seconds`` (a
histogram over the same labels without code; WATCH and CONNECT excluded, as
upstream does).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field

BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8,
           10, 15, 20, 30, 45, 60)  # fmt: skip

Labels = tuple[tuple[str, str], ...]


def clean_scope(verb: str, namespace: str, name: str) -> str:
    """Upstream's ``CleanScope``: one object (or a create) is ``resource``, otherwise the
    collection's scope."""
    if name or verb == "create":
        return "resource"
    return "namespace" if namespace else "cluster"


def canonical_verb(verb: str, method: str, content_type: str = "") -> str:
    """Upstream's ``CanonicalVerb`` and ``cleanVerb``: LIST and WATCH apart from GET, APPLY
    apart from PATCH; POST, PUT ... as methods."""
    if verb == "list":
        return "LIST"
    if verb == "watch":
        return "WATCH"
    if verb == "patch" and content_type.partition(";")[0].strip() == "application/apply-patch+yaml":
        return "APPLY"
    if verb in ("get", "create", "update", "patch", "delete", "deletecollection"):
        return {"get": "GET", "create": "POST", "update": "PUT", "patch": "PATCH",
                "delete": "DELETE", "deletecollection": "DELETE"}[verb]  # fmt: skip
    return method.upper()


@dataclass
class _Histogram:
    """Observations per bucket (not cumulative: ``render`` adds them up)."""

    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: float = 0.0
    n: int = 0


class Registry:
    def __init__(self) -> None:
        self.requests: dict[Labels, int] = defaultdict(int)
        self.durations: dict[Labels, _Histogram] = defaultdict(_Histogram)

    def observe(
        self,
        *,
        verb: str,
        group: str,
        version: str,
        resource: str,
        subresource: str,
        scope: str,
        code: int,
        seconds: float,
    ) -> None:
        base: Labels = (
            ("verb", verb),
            ("dry_run", ""),
            ("group", group),
            ("version", version),
            ("resource", resource),
            ("subresource", subresource),
            ("scope", scope),
            ("component", "apiserver"),
        )
        self.requests[(*base, ("code", str(code)))] += 1
        if verb in ("WATCH", "CONNECT"):
            return
        h = self.durations[base]
        h.n += 1
        h.total += seconds
        i = bisect.bisect_left(BUCKETS, seconds)  # the first bucket it falls in
        if i < len(BUCKETS):
            h.counts[i] += 1

    def render(self) -> str:
        out = [
            "# HELP apiserver_request_total Counter of apiserver requests broken out for each "
            "verb, dry run value, group, version, resource, scope, component, and HTTP "
            "response code.",
            "# TYPE apiserver_request_total counter",
        ]
        for labels, n in sorted(self.requests.items()):
            out.append(f"apiserver_request_total{{{_fmt(labels)}}} {n}")
        out += [
            "# HELP apiserver_request_duration_seconds Response latency distribution in seconds "
            "for each verb, dry run value, group, version, resource, subresource, scope and "
            "component.",
            "# TYPE apiserver_request_duration_seconds histogram",
        ]
        for labels, h in sorted(self.durations.items()):
            c = 0
            for b, in_bucket in zip(BUCKETS, h.counts, strict=True):
                c += in_bucket  # buckets are cumulative: le is "at most"
                le = (*labels, ("le", _num(b)))
                out.append(f"apiserver_request_duration_seconds_bucket{{{_fmt(le)}}} {c}")
            inf = (*labels, ("le", "+Inf"))
            out.append(f"apiserver_request_duration_seconds_bucket{{{_fmt(inf)}}} {h.n}")
            out.append(f"apiserver_request_duration_seconds_sum{{{_fmt(labels)}}} {h.total}")
            out.append(f"apiserver_request_duration_seconds_count{{{_fmt(labels)}}} {h.n}")
        return "\n".join(out) + "\n"


def _num(b: float) -> str:
    return str(int(b)) if float(b).is_integer() else str(b)


def _fmt(labels: Labels) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return ",".join(f'{k}="{esc(v)}"' for k, v in labels)
