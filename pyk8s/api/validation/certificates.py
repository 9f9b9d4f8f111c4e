"""Semantic validation of certificates.k8s.io/v1 CertificateSigningRequests.

Mirrors ``pkg/apis/certificates/validation/validation.go``
(``validateCertificateSigningRequest``: a PEM ``CERTIFICATE REQUEST`` whose signature
verifies, usages from the known set without repeats, a signer name of the form
``example.com/signer-name`` (``ValidateSignerName`` in ``pkg/apis/core/validation``), an
expiration of at least ten minutes, conditions with a type and a status, Approved and
Denied never together, and only CERTIFICATE blocks in ``status.certificate``) and
``validateCertificateSigningRequestUpdate`` (conditions are never removed; the approval
conditions move only through ``/approval`` and the certificate only through ``/status``,
once). What the stored object already breaks is tolerated on update, as upstream's
``getValidationOptions`` does.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pyk8s.api import meta
from pyk8s.api.errors import FieldError, Raw, forbidden, invalid_value, not_supported, required

Obj = dict[str, Any]

LEGACY_SIGNER = "kubernetes.io/legacy-unknown"
USAGES = sorted(
    ("signing", "digital signature", "content commitment", "key encipherment", "key agreement",
     "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
     "server auth", "client auth", "code signing", "email protection", "s/mime",
     "ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
     "microsoft sgc", "netscape sgc")
)  # fmt: skip
TRUE_ONLY = ("Approved", "Denied", "Failed")
STATUSES = ["False", "True", "Unknown"]
_PEM = re.compile(rb"-----BEGIN ([^-\r\n]+)-----\r?\n(.*?)-----END \1-----", re.S)


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _bytes(value: Any) -> bytes:
    """A ``[]byte`` field: base64 in JSON (undecodable text is kept as it is)."""
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value.encode()


def go_bytes(data: bytes) -> Raw:
    """A ``[]byte`` value as upstream prints it in a field error (``%#v``)."""
    return Raw("[]byte{" + ", ".join(f"0x{b:x}" for b in data) + "}")


def _csr_error(data: bytes) -> str | None:
    """``certificates.ParseCSR`` and ``CheckSignature``: the error text, or None."""
    m = _PEM.search(data)
    if m is None or m.group(1) != b"CERTIFICATE REQUEST":
        return "PEM block type must be CERTIFICATE REQUEST"
    try:
        csr = x509.load_pem_x509_csr(m.group(0))
        public_key = csr.public_key()
    except ValueError:
        return "x509: malformed certificate request"
    if csr.is_signature_valid:
        return None
    if isinstance(public_key, rsa.RSAPublicKey):
        return "crypto/rsa: verification error"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "x509: ECDSA verification failure"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "x509: Ed25519 verification failure"
    return "x509: signature verification failure"


def _certificate_error(data: bytes) -> str | None:
    """``validateCertificate``: only CERTIFICATE blocks, each parsable."""
    if not data:
        return None
    blocks = 0
    for m in _PEM.finditer(data):
        kind = m.group(1).decode(errors="replace")
        if kind != "CERTIFICATE":
            return f'only CERTIFICATE PEM blocks are allowed, found "{kind}"'
        if b":" in m.group(2).split(b"\n", 1)[0]:
            return "no PEM block headers are permitted"
        try:
            x509.load_pem_x509_certificate(m.group(0))
        except ValueError:
            return "x509: malformed certificate"
        blocks += 1
    if blocks == 0:
        return "must contain at least one CERTIFICATE PEM block"
    return None


def signer_name(value: str, path: str) -> list[FieldError]:
    """``ValidateSignerName``: ``<domain>/<path>``, up to 571 characters."""
    if not value:
        return [required(path)]
    segments = value.split("/")
    if len(segments) != 2:
        return [
            invalid_value(
                path,
                value,
                "must be a fully qualified domain and path of the form 'example.com/signer-name'",
            )
        ]
    domain, rest = segments
    errs: list[FieldError] = []
    if len(domain) > meta.DNS1123_SUBDOMAIN_MAX:
        errs.append(
            FieldError(
                "FieldValueTooLong",
                path,
                f"may not be more than {meta.DNS1123_SUBDOMAIN_MAX} bytes",
                show_value=False,
            )
        )
    labels = domain.split(".")
    for label in labels:
        msgs = meta.dns1123_label(label)
        if msgs:
            errs += [invalid_value(path, domain, f'validating label "{label}": {m}') for m in msgs]
            break
    if len(labels) < 2:
        errs.append(
            invalid_value(
                path, domain, "should be a domain with at least two segments separated by dots"
            )
        )
    for label in rest.split("."):
        msgs = meta.dns1123_subdomain(label)
        if msgs:
            errs += [invalid_value(path, rest, f'validating label "{label}": {m}') for m in msgs]
            break
    limit = meta.DNS1123_SUBDOMAIN_MAX * 2 + meta.DNS1123_LABEL_MAX + 2
    if len(value) > limit:
        errs.append(
            FieldError(
                "FieldValueTooLong", path, f"may not be more than {limit} bytes", show_value=False
            )
        )
    return errs


def _conditions(obj: Obj) -> list[Obj]:
    return [_dict(c) for c in _list(_dict(obj.get("status")).get("conditions"))]


def _validate_conditions(obj: Obj, old: Obj | None) -> list[FieldError]:
    olds = _conditions(old) if old is not None else []
    old_types = [c.get("type") for c in olds]
    allow_both = "Approved" in old_types and "Denied" in old_types
    allow_duplicates = len(set(old_types)) != len(old_types)
    allow_empty = any(not t for t in old_types) if old is not None else False
    errs: list[FieldError] = []
    seen: set[Any] = set()
    approved = denied = False
    for i, c in enumerate(_conditions(obj)):
        path = f"status.conditions[{i}]"
        kind = c.get("type") or ""
        if not kind and not allow_empty:
            errs.append(required(f"{path}.type"))
        allowed = ["True"] if kind in TRUE_ONLY else STATUSES
        status = c.get("status") or ""
        if not status:
            errs.append(required(f"{path}.status"))
        elif status not in allowed:
            errs.append(not_supported(f"{path}.status", status, allowed))
        if not allow_both:
            if kind == "Approved":
                approved = True
                if denied:
                    errs.append(
                        invalid_value(
                            f"{path}.type",
                            kind,
                            "Approved and Denied conditions are mutually exclusive",
                        )
                    )
            elif kind == "Denied":
                denied = True
                if approved:
                    errs.append(
                        invalid_value(
                            f"{path}.type",
                            kind,
                            "Approved and Denied conditions are mutually exclusive",
                        )
                    )
        if not allow_duplicates:
            if kind in seen:
                errs.append(FieldError("FieldValueDuplicate", f"{path}.type", "", kind))
            seen.add(kind)
    return errs


def certificate_signing_request(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    """``validateCertificateSigningRequest`` (``old``: the stored object on an update)."""
    spec = _dict(obj.get("spec"))
    old_spec = _dict(old.get("spec")) if old is not None else {}
    errs: list[FieldError] = []
    request = _bytes(spec.get("request"))
    problem = _csr_error(request)
    if problem is not None:
        errs.append(invalid_value("spec.request", go_bytes(request), problem))
    usages = _list(spec.get("usages"))
    if not usages:
        errs.append(required("spec.usages"))
    old_usages = _list(old_spec.get("usages"))
    if not any(u not in USAGES for u in old_usages):
        for i, usage in enumerate(usages):
            if usage not in USAGES:
                errs.append(not_supported(f"spec.usages[{i}]", usage, USAGES))
    if len(set(map(str, old_usages))) == len(old_usages):
        seen: set[str] = set()
        for i, usage in enumerate(usages):
            if str(usage) in seen:
                errs.append(FieldError("FieldValueDuplicate", f"spec.usages[{i}]", "", usage))
            seen.add(str(usage))
    signer = spec.get("signerName") or ""
    if signer == LEGACY_SIGNER and old_spec.get("signerName") != LEGACY_SIGNER:
        errs.append(
            invalid_value(
                "spec.signerName",
                signer,
                "the legacy signerName is not allowed via this API version",
            )
        )
    elif signer != LEGACY_SIGNER:
        errs += signer_name(str(signer), "spec.signerName")
    expiration = spec.get("expirationSeconds")
    if isinstance(expiration, int) and expiration < 600:
        errs.append(
            invalid_value(
                "spec.expirationSeconds",
                expiration,
                "may not specify a duration less than 600 seconds (10 minutes)",
            )
        )
    errs += _validate_conditions(obj, old)
    cert = _bytes(_dict(obj.get("status")).get("certificate"))
    old_cert = _bytes(_dict(old.get("status")).get("certificate")) if old is not None else None
    lenient = old is not None and (
        cert == old_cert or _certificate_error(old_cert or b"") is not None
    )
    if not lenient:
        problem = _certificate_error(cert)
        if problem is not None:
            errs.append(invalid_value("status.certificate", "<certificate data>", problem))
    return errs


def certificate_signing_request_update(
    obj: Obj, old: Obj, *, approval: bool = False, status: bool = False
) -> list[FieldError]:
    """The rules of ``validateCertificateSigningRequestUpdate`` beyond a create's:
    ``approval`` for ``/approval``, ``status`` for ``/status``."""
    errs: list[FieldError] = []
    new_conditions, old_conditions = _conditions(obj), _conditions(old)
    for kind in TRUE_ONLY:
        if len([c for c in new_conditions if c.get("type") == kind]) < len(
            [c for c in old_conditions if c.get("type") == kind]
        ):
            errs.append(
                forbidden(
                    "status.conditions", f'updates may not remove a condition of type "{kind}"'
                )
            )
    if not approval:
        for kind in ("Approved", "Denied"):
            new = [c for c in new_conditions if c.get("type") == kind]
            was = [c for c in old_conditions if c.get("type") == kind]
            if len(new) > len(was):
                errs.append(
                    forbidden(
                        "status.conditions", f'updates may not add a condition of type "{kind}"'
                    )
                )
            elif len(new) == len(was) and new != was:
                errs.append(
                    forbidden(
                        "status.conditions", f'updates may not modify a condition of type "{kind}"'
                    )
                )
    cert = _dict(obj.get("status")).get("certificate") or ""
    old_cert = _dict(old.get("status")).get("certificate") or ""
    if cert != old_cert:
        if not status:
            errs.append(forbidden("status.certificate", "updates may not set certificate content"))
        elif old_cert:
            errs.append(
                forbidden(
                    "status.certificate", "updates may not modify existing certificate content"
                )
            )
    return errs
