"""DNS records of a cluster, from Services, EndpointSlices and Pods (pure), and their lookup.

Follows the Kubernetes DNS specification (kubernetes/dns ``docs/specification.md``) and the
behaviour of CoreDNS' ``kubernetes`` plugin where the specification leaves room
(``plugin/kubernetes/kubernetes.go`` ``Records``/``findServices``, ``plugin/kubernetes/xfr.go``):

- ``<svc>.<ns>.svc.<zone>``: A/AAAA of the ClusterIPs; of every ready endpoint when headless
  (no ready endpoint: the name does not exist, NXDOMAIN); CNAME for ExternalName.
- ``_<port>._<proto>.<svc>.<ns>.svc.<zone>``: SRV per named port (per ready endpoint when
  headless, pointing at ``<hostname>.<svc>.<ns>.svc.<zone>``).
- ``<hostname>.<svc>.<ns>.svc.<zone>``: per ready endpoint of a headless Service; the hostname
  is the endpoint's ``hostname`` (a pod's ``spec.hostname`` when its ``spec.subdomain`` names the
  Service, as StatefulSet pods have), else its address with dashes.
- ``<a>-<b>-<c>-<d>.<ns>.pod.<zone>``: A of that address (``pods: verified`` checks that such a
  pod exists in that namespace; ``disabled`` serves none).
- PTR for ClusterIPs and headless endpoints; ``dns-version.<zone>`` TXT; SOA and NS at the apex.

A name that exists with no record of the asked type is NODATA (NOERROR, empty answer); so is
a name with records below it (an empty non-terminal such as ``<ns>.svc.<zone>``). Any other
name in the zone is NXDOMAIN. Names outside the zone, and reverse names we do not know, are
not ours: ``Zone.lookup`` returns None and the server forwards them.
"""

from __future__ import annotations

import functools
import ipaddress
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = "1.1.0"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

RRType = Literal["A", "AAAA", "CNAME", "NS", "PTR", "SOA", "SRV", "TXT"]
SRVData = tuple[int, int, int, str]  # priority, weight, port, target
SOAData = tuple[str, str, int, int, int, int, int]  # mname, rname, serial, refresh, ...


@dataclass(frozen=True)
class Record:
    name: str  # lower case, no trailing dot
    type: RRType
    data: str | SRVData | SOAData

    def __str__(self) -> str:
        if isinstance(self.data, tuple):
            parts = [f"{x}." if isinstance(x, str) else str(x) for x in self.data]
            data = " ".join(parts)
        elif self.type in ("CNAME", "NS", "PTR"):
            data = f"{self.data}."
        elif self.type == "TXT":
            data = f'"{self.data}"'
        else:
            data = self.data
        return f"{self.name}. IN {self.type} {data}"


@dataclass(frozen=True)
class Answer:
    rcode: Literal["NOERROR", "NXDOMAIN"]
    answers: tuple[Record, ...] = ()
    authority: tuple[Record, ...] = ()
    additional: tuple[Record, ...] = ()
    # A CNAME whose target is outside the zone: the server may resolve it upstream.
    chase: str | None = None


@dataclass(frozen=True)
class DNSConfig:
    domain: str = "cluster.local"
    ttl: int = 5
    pods: Literal["insecure", "verified", "disabled"] = "insecure"
    dns_ip: str = ""  # the kube-dns Service address, served as ns.dns.<zone>

    def __post_init__(self) -> None:
        if not self.domain or self.domain != self.domain.strip(".").lower():
            raise ValueError(f"cluster domain {self.domain!r}: want lower case, no dots around")
        if self.ttl < 0:
            raise ValueError(f"ttl {self.ttl} is negative")
        if self.pods not in ("insecure", "verified", "disabled"):
            raise ValueError(f"pods mode {self.pods!r}: want insecure, verified or disabled")


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


def _ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    return _parse_ip(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=1 << 16)
def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _addr_type(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> RRType:
    return "A" if ip.version == 4 else "AAAA"


def _dashed(ip: str) -> str:
    return ip.replace(".", "-").replace(":", "-")


@dataclass
class Zone:
    """The records of one cluster domain, with the lookup the server asks."""

    config: DNSConfig
    records: dict[str, list[Record]] = field(default_factory=dict)
    pod_ips: frozenset[tuple[str, str]] = frozenset()  # (namespace, ip), for pods: verified
    _names: frozenset[str] = frozenset()
    _digest: int = 0

    def add(self, name: str, type_: RRType, data: str | SRVData | SOAData) -> None:
        rec = Record(_norm(name), type_, data)
        bucket = self.records.setdefault(rec.name, [])
        if rec not in bucket:
            bucket.append(rec)
            # A digest of everything added, in order (inputs are sorted): the SOA serial.
            self._digest = zlib.crc32(f"{rec.name} {type_} {data}\n".encode(), self._digest)

    def seal(self, extra_names: Iterable[str] = ()) -> Zone:
        """Index the empty non-terminals (and ``extra_names``); call once all are added."""
        names: set[str] = set(extra_names)
        suffix = "." + self.config.domain
        for stored in self.records:
            name = stored
            names.add(name)
            while name.endswith(suffix):
                name = name.split(".", 1)[1]
                names.add(name)
        self._names = frozenset(names)
        return self

    @property
    def soa(self) -> Record:
        return self.records[self.config.domain][0]

    def dump(self) -> str:
        """Every stored record in presentation format, sorted (the golden-file form)."""
        return "".join(f"{r}\n" for name in sorted(self.records) for r in self.records[name])

    def lookup(self, qname: str, qtype: str) -> Answer | None:
        name = _norm(qname)
        domain = self.config.domain
        if name.endswith((".in-addr.arpa", ".ip6.arpa")):
            if name not in self.records:
                return None
            return self._answer(name, qtype)
        if name != domain and not name.endswith("." + domain):
            return None
        labels = name[: -len(domain)].rstrip(".").split(".") if name != domain else []
        if len(labels) in (1, 2, 3) and labels[-1] == "pod" and self.config.pods != "disabled":
            return self._pod(labels, qtype)
        return self._answer(name, qtype)

    def _answer(self, name: str, qtype: str) -> Answer:
        rrs = self.records.get(name)
        negative = (self.soa,)
        if rrs is None:
            if name in self._names:
                return Answer("NOERROR", authority=negative)
            return Answer("NXDOMAIN", authority=negative)
        matches = tuple(r for r in rrs if qtype in (r.type, "ANY"))
        if not matches:
            cname = next((r for r in rrs if r.type == "CNAME"), None)
            if cname is None:
                return Answer("NOERROR", authority=negative)
            target = str(cname.data)
            inner = self.lookup(target, qtype)
            if inner is None:
                return Answer("NOERROR", (cname,), chase=target)
            return Answer(inner.rcode, (cname, *inner.answers), inner.authority, inner.additional)
        extra: list[Record] = []
        for r in matches:
            if r.type == "SRV" and isinstance(r.data, tuple):
                target = str(r.data[3])
                extra.extend(x for x in self.records.get(target, []) if x.type in ("A", "AAAA"))
        return Answer("NOERROR", matches, additional=tuple(dict.fromkeys(extra)))

    def _pod(self, labels: list[str], qtype: str) -> Answer:
        negative = (self.soa,)
        if len(labels) < 3:  # pod.<zone>, <ns>.pod.<zone>: empty non-terminals
            return Answer("NOERROR", authority=negative)
        dashed, namespace = labels[0], labels[1]
        ip = _ip(dashed.replace("-", ".")) if dashed.count("-") == 3 else None
        if ip is None and "-" in dashed:
            ip = _ip(dashed.replace("-", ":"))
        if ip is None or _dashed(str(ip)) != dashed:
            return Answer("NXDOMAIN", authority=negative)
        if self.config.pods == "verified" and (namespace, str(ip)) not in self.pod_ips:
            return Answer("NXDOMAIN", authority=negative)
        rtype = _addr_type(ip)
        if qtype not in (rtype, "ANY"):
            return Answer("NOERROR", authority=negative)
        name = ".".join([*labels, self.config.domain])
        return Answer("NOERROR", (Record(name, rtype, str(ip)),))


def build(
    services: Iterable[Mapping[str, Any]],
    endpoint_slices: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    config: DNSConfig,
    namespaces: Iterable[Mapping[str, Any]] = (),
) -> Zone:
    """All records of the cluster domain. Objects with unusable fields are skipped.

    ``<ns>.svc.<zone>`` of a namespace in ``namespaces`` exists (NODATA, not NXDOMAIN) even
    when the namespace has no Service, as CoreDNS answers.
    """
    zone = Zone(config)
    domain = config.domain
    slices_by_svc: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for es in endpoint_slices:
        meta = es.get("metadata") or {}
        svc_name = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if svc_name:
            key = (meta.get("namespace") or "default", svc_name)
            slices_by_svc.setdefault(key, []).append(es)
    pod_index: dict[tuple[str, str], Mapping[str, Any]] = {}
    pod_ips: set[tuple[str, str]] = set()
    for pod in pods:
        meta = pod.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        pod_index[(namespace, meta.get("name") or "")] = pod
        status = pod.get("status") or {}
        ips = [p.get("ip") for p in status.get("podIPs") or []] or [status.get("podIP")]
        pod_ips.update((namespace, str(ip)) for raw in ips if (ip := _ip(raw)) is not None)
    zone.pod_ips = frozenset(pod_ips)

    # SOA first: Zone.soa reads it; the serial changes whenever the content does.
    zone.add(domain, "SOA", ("", "", 0, 0, 0, 0, 0))
    zone.add(domain, "NS", f"ns.dns.{domain}")
    zone.add(f"dns-version.{domain}", "TXT", SCHEMA_VERSION)
    if (dns_ip := _ip(config.dns_ip)) is not None:
        zone.add(f"ns.dns.{domain}", _addr_type(dns_ip), str(dns_ip))

    for svc in sorted(services, key=_meta_key):
        meta = svc.get("metadata") or {}
        namespace, name = meta.get("namespace") or "default", meta.get("name")
        if not name:
            continue
        _add_service(
            zone, svc, namespace, name, slices_by_svc.get((namespace, name), []), pod_index
        )

    soa: SOAData = (
        f"ns.dns.{domain}",
        f"hostmaster.{domain}",
        zone._digest or 1,
        7200,
        1800,
        86400,
        config.ttl,
    )
    zone.records[domain][0] = Record(domain, "SOA", soa)
    names = ((ns.get("metadata") or {}).get("name") for ns in namespaces)
    return zone.seal(f"{name.lower()}.svc.{domain}" for name in names if name)


def _meta_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


def _add_service(
    zone: Zone,
    svc: Mapping[str, Any],
    namespace: str,
    name: str,
    slices: list[Mapping[str, Any]],
    pods: Mapping[tuple[str, str], Mapping[str, Any]],
) -> None:
    spec = svc.get("spec") or {}
    fqdn = f"{name}.{namespace}.svc.{zone.config.domain}"
    if spec.get("type") == "ExternalName":
        target = _norm(spec.get("externalName") or "")
        if target:
            zone.add(fqdn, "CNAME", target)
        return
    ports = spec.get("ports") or []
    cluster_ips = spec.get("clusterIPs") or [spec.get("clusterIP")]
    if cluster_ips and cluster_ips[0] not in (None, "", "None"):
        for raw in cluster_ips:
            if (ip := _ip(raw)) is None:
                continue
            zone.add(fqdn, _addr_type(ip), str(ip))
            zone.add(ip.reverse_pointer, "PTR", fqdn)
        if fqdn not in zone.records:
            return
        for p in ports:
            proto, number = (p.get("protocol") or "TCP").lower(), p.get("port")
            if isinstance(number, int):
                zone.add(fqdn, "SRV", (0, 100, number, fqdn))
                if p.get("name"):
                    zone.add(f"_{p['name']}._{proto}.{fqdn}", "SRV", (0, 100, number, fqdn))
        return
    # Headless: one record per ready endpoint (every endpoint with publishNotReadyAddresses).
    publish_all = bool(spec.get("publishNotReadyAddresses"))
    endpoints: list[tuple[str, str, list[tuple[str, str, int]]]] = []  # host, ip, ports
    for es in sorted(slices, key=_meta_key):
        es_ports = [
            ((p.get("name") or ""), (p.get("protocol") or "TCP").lower(), p.get("port"))
            for p in es.get("ports") or []
            if isinstance(p.get("port"), int)
        ]
        for ep in es.get("endpoints") or []:
            ready = (ep.get("conditions") or {}).get("ready") is not False
            if not (ready or publish_all):
                continue
            for raw in ep.get("addresses") or []:
                if (ip := _ip(raw)) is None:
                    continue
                host = _hostname(ep, namespace, name, pods) or _dashed(str(ip))
                endpoints.append((host, str(ip), es_ports))
    if not endpoints:
        return
    n = len(endpoints)
    for host, ip_text, es_ports in endpoints:
        ip = ipaddress.ip_address(ip_text)
        target = f"{host}.{fqdn}"
        zone.add(fqdn, _addr_type(ip), ip_text)
        zone.add(target, _addr_type(ip), ip_text)
        zone.add(ip.reverse_pointer, "PTR", target)
        for port_name, proto, number in es_ports:
            weight = max(1, 100 // n)
            zone.add(fqdn, "SRV", (0, weight, number, target))
            if port_name:
                zone.add(f"_{port_name}._{proto}.{fqdn}", "SRV", (0, weight, number, target))


def _hostname(
    ep: Mapping[str, Any],
    namespace: str,
    service: str,
    pods: Mapping[tuple[str, str], Mapping[str, Any]],
) -> str:
    if ep.get("hostname"):
        return str(ep["hostname"]).lower()
    ref = ep.get("targetRef") or {}
    if ref.get("kind") == "Pod":
        pod = pods.get((ref.get("namespace") or namespace, ref.get("name") or ""))
        spec = (pod or {}).get("spec") or {}
        if spec.get("hostname") and spec.get("subdomain") == service:
            return str(spec["hostname"]).lower()
    return ""
