"""The ServiceAccount admission plugin: default account, automount choices, the token volume."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from pyk8s.api import errors, scheme
from pyk8s.apiserver.admission import service_account as sa
from pyk8s.storage.memory import MemoryStorage

PODS = next(r for r in scheme.DEFAULT.resources if (r.group, r.plural) == ("", "pods"))


async def plugin(*accounts: dict[str, object]) -> sa.ServiceAccount:
    backend = MemoryStorage()
    for a in accounts:
        md = a["metadata"]
        assert isinstance(md, dict)
        await backend.create(
            f"/registry/serviceaccounts/{md['namespace']}/{md['name']}", orjson.dumps(a)
        )
    return sa.ServiceAccount(backend, PODS)


def account(name: str, **extra: object) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": "ns"}, **extra}


def pod(**spec: object) -> dict[str, object]:
    spec.setdefault("containers", [{"name": "a"}, {"name": "b"}])
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": spec}


async def test_default_account_and_the_token_volume() -> None:
    p = pod(initContainers=[{"name": "i"}])
    await (await plugin(account("default")))("CREATE", p, None)
    spec = p["spec"]
    assert isinstance(spec, dict)
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    (vol,) = spec["volumes"]
    assert vol["name"].startswith("kube-api-access-") and len(vol["name"]) == 21
    assert vol == sa.token_volume(vol["name"])
    sources = vol["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    assert sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == "metadata.namespace"
    for c in spec["containers"] + spec["initContainers"]:
        assert c["volumeMounts"] == [
            {"name": vol["name"], "readOnly": True, "mountPath": sa.MOUNT_PATH}
        ]


@pytest.mark.parametrize(
    ("pod_says", "account_says", "mounted"),
    [
        pytest.param(None, None, True, id="neither"),
        pytest.param(None, False, False, id="account-off"),
        pytest.param(True, False, True, id="pod-wins-on"),
        pytest.param(False, True, False, id="pod-wins-off"),
    ],
)
async def test_automount_choice(
    pod_says: bool | None, account_says: bool | None, mounted: bool
) -> None:
    extra = {} if account_says is None else {"automountServiceAccountToken": account_says}
    spec = {} if pod_says is None else {"automountServiceAccountToken": pod_says}
    p = pod(serviceAccountName="robot", **spec)
    await (await plugin(account("robot", **extra)))("CREATE", p, None)
    assert ("volumes" in p["spec"]) is mounted  # type: ignore[operator]


async def test_missing_named_account_is_forbidden() -> None:
    with pytest.raises(errors.Forbidden) as e:
        await (await plugin())("CREATE", pod(serviceAccountName="ghost"), None)
    assert 'error looking up service account ns/ghost: serviceaccount "ghost" not found' in str(
        e.value
    )


async def test_missing_default_account_is_read_again_then_admitted() -> None:
    started = time.monotonic()
    p = pod()
    await (await plugin())("CREATE", p, None)
    assert time.monotonic() - started >= 0.9  # ten reads, 100-200 ms apart
    assert p["spec"]["volumes"][0]["name"].startswith("kube-api-access-")  # type: ignore[index]


async def test_default_account_made_during_the_retries_is_found() -> None:
    admit = await plugin()

    async def make_it_late() -> None:
        await asyncio.sleep(0.3)
        await admit.storage.create(
            "/registry/serviceaccounts/ns/default", orjson.dumps(account("default"))
        )

    p = pod()
    await asyncio.gather(admit("CREATE", p, None), make_it_late())
    assert p["spec"]["volumes"][0]["name"].startswith("kube-api-access-")  # type: ignore[index]


async def test_own_mount_and_own_volume_are_kept() -> None:
    mine = {"name": "mine", "mountPath": sa.MOUNT_PATH}
    p = pod(containers=[{"name": "a", "volumeMounts": [mine]}, {"name": "b"}],
            volumes=[{"name": "kube-api-access-abcde", "emptyDir": {}}])  # fmt: skip
    await (await plugin(account("default")))("CREATE", p, None)
    spec = p["spec"]
    assert isinstance(spec, dict)
    assert spec["volumes"] == [{"name": "kube-api-access-abcde", "emptyDir": {}}]
    assert spec["containers"][0]["volumeMounts"] == [mine]
    assert spec["containers"][1]["volumeMounts"][0]["name"] == "kube-api-access-abcde"


async def test_mirror_pods_updates_and_other_resources_are_left_alone() -> None:
    p = pod()
    p["metadata"]["annotations"] = {sa.MIRROR_ANNOTATION: "x"}  # type: ignore[index]
    await (await plugin(account("default")))("CREATE", p, None)
    assert "serviceAccountName" not in p["spec"]  # type: ignore[operator]
    p2 = pod()
    await (await plugin(account("default")))("UPDATE", p2, pod())
    assert "volumes" not in p2["spec"]  # type: ignore[operator]
    templates = next(r for r in scheme.DEFAULT.resources if r.plural == "podtemplates")
    t = {"metadata": {"namespace": "ns"}, "spec": {}}
    await sa.ServiceAccount(MemoryStorage(), templates)("CREATE", t, None)
    assert t == {"metadata": {"namespace": "ns"}, "spec": {}}
