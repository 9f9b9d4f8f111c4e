from __future__ import annotations

import pytest

from pyk8s.apiserver import authn


def test_token_file() -> None:
    tf = authn.TokenFile.parse('t1,alice,1,"a,b"\n# comment\nt2,bob,2\n')
    alice = tf.authenticate("t1")
    assert alice is not None and alice.groups == ("a", "b", "system:authenticated")
    bob = tf.authenticate("t2")
    assert bob is not None and bob.groups == ("system:authenticated",)
    assert tf.authenticate("nope") is None
    with pytest.raises(ValueError, match="line 1"):
        authn.TokenFile.parse("onlytoken\n")


async def test_authenticator() -> None:
    a = authn.Authenticator(authn.TokenFile.parse("t,u,1\n"))
    user = await a.authenticate("Bearer t", None)
    assert user is not None and user.name == "u"
    with pytest.raises(authn.AuthenticationError):
        await a.authenticate("Bearer bad", None)
    cert = {"subject": ((("organizationName", "system:masters"),), (("commonName", "admin"),))}
    user = await a.authenticate(None, cert)
    assert user is not None and user.name == "admin" and "system:masters" in user.groups
    assert await a.authenticate(None, None) is None
