# ruff: noqa: E501
"""Table tests of CertificateSigningRequest validation: upstream's field paths and messages."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pyk8s.api import validation
from pyk8s.api.validation import certificates

CERTS = "certificates.k8s.io"
KIND = "CertificateSigningRequest"


def _csr_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jane")]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


PEM = _csr_pem()
REQUEST = base64.b64encode(PEM).decode()


def csr(**spec: Any) -> dict[str, Any]:
    base = {"request": REQUEST, "signerName": "example.com/signer", "usages": ["client auth"]}
    base.update(spec)
    return {"metadata": {"name": "c"}, "spec": {k: v for k, v in base.items() if v is not None}}


def _tampered() -> str:
    # a valid CSR whose signature no longer matches: flip one byte of the signature
    der = bytearray(x509.load_pem_x509_csr(PEM).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01
    body = base64.encodebytes(bytes(der)).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    pem = (
        "-----BEGIN CERTIFICATE REQUEST-----\n"
        + "\n".join(lines)
        + "\n-----END CERTIFICATE REQUEST-----\n"
    )
    return base64.b64encode(pem.encode()).decode()


NOT_PEM = base64.b64encode(b"hi").decode()
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)

CASES = [
    ("valid", csr(expirationSeconds=600), []),
    ("not-a-csr", csr(request=NOT_PEM),
     ["spec.request: Invalid value: []byte{0x68, 0x69}: PEM block type must be CERTIFICATE REQUEST"]),
    ("bad-signature", csr(request=_tampered()), ["x509: ECDSA verification failure"]),
    ("no-usages", csr(usages=None), ["spec.usages: Required value"]),
    ("unknown-and-duplicate-usages", csr(usages=["client auth", "flying", "client auth"]),
     ['spec.usages[1]: Unsupported value: "flying": supported values: "any", "cert sign", "client auth", '
      '"code signing", "content commitment", "crl sign", "data encipherment", "decipher only", '
      '"digital signature", "email protection", "encipher only", "ipsec end system", "ipsec tunnel", '
      '"ipsec user", "key agreement", "key encipherment", "microsoft sgc", "netscape sgc", "ocsp signing", '
      '"s/mime", "server auth", "signing", "timestamping"',
      'spec.usages[2]: Duplicate value: "client auth"']),
    ("no-signer", csr(signerName=None), ["spec.signerName: Required value"]),
    ("legacy-signer", csr(signerName="kubernetes.io/legacy-unknown"),
     ['spec.signerName: Invalid value: "kubernetes.io/legacy-unknown": the legacy signerName is not allowed via this API version']),
    ("signer-without-path", csr(signerName="example.com"),
     ["spec.signerName: Invalid value: \"example.com\": must be a fully qualified domain and path of the form 'example.com/signer-name'"]),
    ("signer-one-label", csr(signerName="Example/x"),
     [f'spec.signerName: Invalid value: "Example": validating label "Example": {LABEL_MSG}',
      'spec.signerName: Invalid value: "Example": should be a domain with at least two segments separated by dots']),
    ("short-expiration", csr(expirationSeconds=599),
     ["spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds (10 minutes)"]),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "want"), [pytest.param(o, w, id=i) for i, o, w in CASES])
def test_create(obj: dict[str, Any], want: list[str]) -> None:
    got = [e.full() for e in validation.validate(CERTS, KIND, obj)]
    if want and want[0].startswith("x509:"):  # the request bytes are long: check the tail only
        assert len(got) == 1 and got[0].startswith("spec.request: Invalid value: []byte{0x2d, 0x2d")
        assert got[0].endswith(": " + want[0])
        return
    assert got == want


def cond(kind: str, status: str = "True") -> dict[str, Any]:
    return {"type": kind, "status": status, "reason": "r"}


def with_status(
    obj: dict[str, Any], *conditions: dict[str, Any], certificate: str = ""
) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": list(conditions)}
    if certificate:
        status["certificate"] = certificate
    return {**obj, "status": status}


def test_conditions_and_certificate_on_status_updates() -> None:
    old = with_status(csr(), cond("Approved"))
    both = with_status(csr(), cond("Approved"), cond("Denied"))
    assert [e.full() for e in certificates.certificate_signing_request(both, old)] == [
        'status.conditions[1].type: Invalid value: "Denied": Approved and Denied conditions are mutually exclusive'
    ]
    bad = with_status(
        csr(), cond("Approved"), cond("Failed", "False"), cond("Failed"), {"status": "True"}
    )
    assert [e.full() for e in certificates.certificate_signing_request(bad, old)] == [
        'status.conditions[1].status: Unsupported value: "False": supported values: "True"',
        'status.conditions[2].type: Duplicate value: "Failed"',
        "status.conditions[3].type: Required value",
    ]
    not_a_cert = base64.b64encode(PEM).decode()
    issued = with_status(csr(), cond("Approved"), certificate=not_a_cert)
    assert [e.full() for e in certificates.certificate_signing_request(issued, old)] == [
        'status.certificate: Invalid value: "<certificate data>": only CERTIFICATE PEM blocks are allowed, found "CERTIFICATE REQUEST"'
    ]


def test_update_rules() -> None:
    old = with_status(csr(), cond("Approved"))
    removed = with_status(csr())
    assert [
        e.full()
        for e in certificates.certificate_signing_request_update(removed, old, approval=True)
    ] == ['status.conditions: Forbidden: updates may not remove a condition of type "Approved"']
    denied = with_status(csr(), cond("Approved"), cond("Denied"))
    assert [e.full() for e in certificates.certificate_signing_request_update(denied, old)] == [
        'status.conditions: Forbidden: updates may not add a condition of type "Denied"'
    ]
    assert certificates.certificate_signing_request_update(denied, old, approval=True) == []
    issued = with_status(csr(), cond("Approved"), certificate="Y2VydA==")
    assert [e.full() for e in certificates.certificate_signing_request_update(issued, old)] == [
        "status.certificate: Forbidden: updates may not set certificate content"
    ]
    assert certificates.certificate_signing_request_update(issued, old, status=True) == []
    reissued = with_status(csr(), cond("Approved"), certificate="b3RoZXI=")
    assert [
        e.full()
        for e in certificates.certificate_signing_request_update(reissued, issued, status=True)
    ] == ["status.certificate: Forbidden: updates may not modify existing certificate content"]


def test_update_tolerates_what_the_stored_object_breaks() -> None:
    legacy = csr(signerName="kubernetes.io/legacy-unknown", usages=["flying", "flying"])
    assert certificates.certificate_signing_request(legacy, legacy) == []
