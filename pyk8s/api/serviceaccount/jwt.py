"""Service-account JSON Web Tokens: RS256 signing and verification, key files, key ids.

Mirrors ``pkg/serviceaccount/jwt.go`` (``JWTTokenGenerator``: the ``kid``
header is the base64url SHA-256 of the public key's DER; ``JWTTokenAuthenticator``
checks the signature against every trusted public key) and ``keyutil`` (keys
as PEM files, ``sa.key``/``sa.pub`` as kubeadm names them). Shared by the API
server (TokenRequest, the authenticator) and the token controller (legacy
Secrets), which both sign with the same private key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class TokenError(ValueError):
    """A token that is malformed, not ours, or badly signed."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    pad = "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(text + pad)
    except (ValueError, TypeError) as e:
        raise TokenError("malformed token") from e


def key_id(public: rsa.RSAPublicKey) -> str:
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b64url(hashlib.sha256(der).digest())


def ensure_keys(private_path: Path, public_path: Path) -> rsa.RSAPrivateKey:
    """Load the signing key, making an RSA-2048 pair on first use (blocking: run in a thread)."""
    if private_path.exists():
        key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{private_path}: the service-account key must be an RSA key")
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = private_path.with_suffix(".tmp")
        tmp.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        os.chmod(tmp, 0o600)
        tmp.replace(private_path)
    if not public_path.exists():
        public_path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return key


def load_private(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path}: the service-account key must be an RSA key")
    return key


def sign(claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    header = {"alg": "RS256", "kid": key_id(key.public_key())}
    signing_input = (
        b64url(orjson.dumps(header))
        + "."
        + b64url(orjson.dumps(claims, option=orjson.OPT_SORT_KEYS))
    )
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(signature)


def unverified_claims(token: str) -> dict[str, Any] | None:
    """The payload of something shaped like a JWT, or None (not ours to judge)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = orjson.loads(b64url_decode(parts[1]))
    except (TokenError, orjson.JSONDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def verify(token: str, keys: list[rsa.RSAPublicKey]) -> dict[str, Any]:
    """The claims of ``token`` when one of ``keys`` signed it; TokenError otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("malformed token")
    try:
        header = orjson.loads(b64url_decode(parts[0]))
    except orjson.JSONDecodeError as e:
        raise TokenError("malformed token header") from e
    if not isinstance(header, dict) or header.get("alg") != "RS256":
        raise TokenError("unsupported signing algorithm")
    signing_input = (parts[0] + "." + parts[1]).encode("ascii")
    signature = b64url_decode(parts[2])
    for public in keys:
        try:
            public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            continue
        claims = unverified_claims(token)
        if claims is None:
            raise TokenError("malformed token claims")
        return claims
    raise TokenError("invalid signature")


def jwk(public: rsa.RSAPublicKey) -> dict[str, str]:
    """The public key as a JSON Web Key (``/openid/v1/jwks``)."""
    nums = public.public_numbers()

    def enc(n: int) -> str:
        return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

    return {
        "use": "sig",
        "kty": "RSA",
        "kid": key_id(public),
        "alg": "RS256",
        "n": enc(nums.n),
        "e": enc(nums.e),
    }
