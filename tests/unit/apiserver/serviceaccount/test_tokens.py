"""TokenRequest, the service-account authenticator and the JWT underneath, in process."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from pyk8s.api import errors
from pyk8s.api.serviceaccount import claims, jwt
from pyk8s.apiserver.authn import AuthenticationError
from pyk8s.apiserver.serviceaccount import authenticator, tokenrequest

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
NOW = 1_800_000_000


class Objects:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(self, plural: str, ns: str, name: str, uid: str, **fields: Any) -> None:
        self.items[(plural, ns, name)] = {"metadata": {"name": name, "uid": uid}, **fields}

    async def get(self, plural: str, ns: str, name: str) -> dict[str, Any]:
        try:
            return self.items[(plural, ns, name)]
        except KeyError:
            raise errors.NotFound.for_object(plural, "", name) from None


@pytest.fixture
def objs() -> Objects:
    o = Objects()
    o.add("serviceaccounts", "ns", "robot", "sa-uid")
    o.add("pods", "ns", "p", "pod-uid", spec={"nodeName": "n1"})
    o.add("nodes", "", "n1", "node-uid")
    return o


def _auth(objs: Objects, now: float = NOW) -> authenticator.ServiceAccountAuthenticator:
    return authenticator.ServiceAccountAuthenticator(
        [KEY.public_key()], (claims.DEFAULT_ISSUER,), (claims.DEFAULT_ISSUER,), objs.get,
        clock=lambda: now,
    )  # fmt: skip


async def _token(objs: Objects, **spec: Any) -> dict[str, Any]:
    issuer = tokenrequest.Issuer(KEY)
    return await tokenrequest.create(issuer, objs.get, "ns", "robot", {"spec": spec}, now=NOW)


def test_sign_verify_and_key_id() -> None:
    tok = jwt.sign({"sub": "x"}, KEY)
    assert jwt.verify(tok, [KEY.public_key()]) == {"sub": "x"}
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(jwt.TokenError):
        jwt.verify(tok, [other.public_key()])
    head, _body, sig = tok.split(".")
    forged = head + "." + jwt.b64url(b'{"sub":"y"}') + "." + sig
    with pytest.raises(jwt.TokenError):
        jwt.verify(forged, [KEY.public_key()])
    assert jwt.jwk(KEY.public_key())["kid"] == jwt.key_id(KEY.public_key())


async def test_token_request_defaults_and_pod_binding(objs: Objects) -> None:
    out = await _token(objs, boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "p"})
    assert out["spec"]["expirationSeconds"] == 3600
    assert out["spec"]["audiences"] == [claims.DEFAULT_ISSUER]
    assert out["status"]["expirationTimestamp"] == "2027-01-15T09:00:00Z"
    c = jwt.verify(out["status"]["token"], [KEY.public_key()])
    assert c["sub"] == "system:serviceaccount:ns:robot"
    assert c["exp"] - c["iat"] == 3600
    assert c["kubernetes.io"] == {
        "namespace": "ns",
        "serviceaccount": {"name": "robot", "uid": "sa-uid"},
        "pod": {"name": "p", "uid": "pod-uid"},
        "node": {"name": "n1", "uid": "node-uid"},
    }


@pytest.mark.parametrize(
    ("spec", "error", "text"),
    [
        pytest.param({"expirationSeconds": 60}, errors.Invalid,
                     "may not specify a duration less than 10 minutes", id="too-short"),
        pytest.param({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p",
                                         "uid": "stale"}}, errors.Conflict,
                     "does not match the UID in record", id="stale-uid"),
        pytest.param({"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "c"}},
                     errors.BadRequest, "cannot bind token for object of type", id="kind"),
        pytest.param({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "gone"}},
                     errors.NotFound, 'pods "gone" not found', id="missing-pod"),
    ],
)  # fmt: skip
async def test_token_request_errors(
    objs: Objects, spec: dict[str, Any], error: type[errors.ApiError], text: str
) -> None:
    with pytest.raises(error, match=text):
        await _token(objs, **spec)


async def test_authenticator_user_and_revocation(objs: Objects) -> None:
    out = await _token(objs, boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "p"})
    token = out["status"]["token"]
    user = await _auth(objs).authenticate(token)
    assert user is not None
    assert user.name == "system:serviceaccount:ns:robot" and user.uid == "sa-uid"
    assert user.groups == (
        "system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"
    )  # fmt: skip
    assert user.extra["authentication.kubernetes.io/pod-name"] == ("p",)
    del objs.items[("pods", "ns", "p")]
    with pytest.raises(AuthenticationError, match="has been deleted"):
        await _auth(objs).authenticate(token)


async def test_authenticator_refuses_expired_foreign_and_passes_on_others(objs: Objects) -> None:
    token = (await _token(objs))["status"]["token"]
    with pytest.raises(AuthenticationError, match="expired"):
        await _auth(objs, now=NOW + 3600 + 120).authenticate(token)
    vault = (await _token(objs, audiences=["vault"]))["status"]["token"]
    with pytest.raises(AuthenticationError, match="audiences"):
        await _auth(objs).authenticate(vault)
    foreign = jwt.sign({"iss": "https://elsewhere", "sub": "x"}, KEY)
    assert await _auth(objs).authenticate(foreign) is None
    assert await _auth(objs).authenticate("not-a-jwt") is None


async def test_legacy_token_must_match_its_secret(objs: Objects) -> None:
    import base64

    token = jwt.sign(claims.legacy("ns", claims.Ref("robot", "sa-uid"), "tok"), KEY)
    objs.add(
        "secrets", "ns", "tok", "s-uid",
        metadata={"name": "tok", "uid": "s-uid",
                  "annotations": {"kubernetes.io/service-account.name": "robot"}},
        data={"token": base64.b64encode(token.encode()).decode()},
    )  # fmt: skip
    user = await _auth(objs).authenticate(token)
    assert user is not None and user.name == "system:serviceaccount:ns:robot"
    objs.items[("secrets", "ns", "tok")]["data"] = {"token": base64.b64encode(b"x").decode()}
    with pytest.raises(AuthenticationError, match="does not match"):
        await _auth(objs).authenticate(token)
