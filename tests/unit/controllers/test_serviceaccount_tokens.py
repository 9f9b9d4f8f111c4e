from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from pyk8s.api.serviceaccount import jwt
from pyk8s.controllers import serviceaccount_tokens
from pyk8s.controllers.resources import SECRETS, SERVICEACCOUNTS
from tests.unit.controllers.conftest import Harness, obj

ANN = "kubernetes.io/service-account.name"


def _secret(name: str, sa: str) -> dict[str, object]:
    return obj(
        "Secret", name, "team", type=serviceaccount_tokens.SECRET_TYPE,
        metadata={"annotations": {ANN: sa}},
    )  # fmt: skip


async def test_fills_token_ca_and_namespace(harness: Harness, tmp_path: Path) -> None:
    key = await asyncio.to_thread(jwt.ensure_keys, tmp_path / "sa.key", tmp_path / "sa.pub")
    harness.config.service_account_private_key_file = tmp_path / "sa.key"
    harness.client.add(SERVICEACCOUNTS, obj("ServiceAccount", "robot", "team",
                                            metadata={"uid": "u1"}))  # fmt: skip
    harness.client.add(SECRETS, _secret("tok", "robot"))
    ctl = await harness.start(serviceaccount_tokens.new)
    await ctl.reconcile("team/tok")
    assert harness.verbs() == [("update", "secrets")]
    s = harness.client.objects(SECRETS)[0]
    assert s["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == "u1"
    assert base64.b64decode(s["data"]["ca.crt"]) == b"CA-PEM"
    assert base64.b64decode(s["data"]["namespace"]) == b"team"
    token = base64.b64decode(s["data"]["token"]).decode()
    c = jwt.verify(token, [key.public_key()])
    assert c["sub"] == "system:serviceaccount:team:robot"
    assert c["kubernetes.io/serviceaccount/secret.name"] == "tok"


async def test_secret_of_missing_account_is_deleted(harness: Harness, tmp_path: Path) -> None:
    await asyncio.to_thread(jwt.ensure_keys, tmp_path / "sa.key", tmp_path / "sa.pub")
    harness.config.service_account_private_key_file = tmp_path / "sa.key"
    harness.client.add(SECRETS, _secret("tok", "ghost"))
    ctl = await harness.start(serviceaccount_tokens.new)
    await ctl.reconcile("team/tok")
    assert harness.verbs() == [("delete", "secrets")]
