from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from pyk8s.client import kubeconfig


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def doc(
    *,
    current: str = "main",
    clusters: dict[str, dict[str, Any]] | None = None,
    users: dict[str, dict[str, Any]] | None = None,
    contexts: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current,
        "clusters": [{"name": n, "cluster": c} for n, c in (clusters or {}).items()],
        "users": [{"name": n, "user": u} for n, u in (users or {}).items()],
        "contexts": [{"name": n, "context": c} for n, c in (contexts or {}).items()],
    }


def test_embedded_data_token_and_namespace(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        doc(
            clusters={
                "c": {"server": "https://10.0.0.1:6443/", "certificate-authority-data": b64(b"CA")}
            },
            users={
                "u": {
                    "client-certificate-data": b64(b"CERT"),
                    "client-key-data": b64(b"KEY"),
                    "token": "abc",
                }
            },
            contexts={"main": {"cluster": "c", "user": "u", "namespace": "team"}},
        ),
    )
    cfg = kubeconfig.load_kubeconfig(path)
    assert cfg.server == "https://10.0.0.1:6443"
    assert (cfg.ca_data, cfg.cert_data, cfg.key_data) == (b"CA", b"CERT", b"KEY")
    assert cfg.token == "abc"
    assert cfg.namespace == "team"
    assert cfg.context == "main"


def test_files_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_bytes(b"CAFILE")
    (tmp_path / "pki" / "c.crt").write_bytes(b"CERTFILE")
    (tmp_path / "pki" / "c.key").write_bytes(b"KEYFILE")
    (tmp_path / "tok").write_text("t\n")
    path = write(
        tmp_path / "config",
        doc(
            clusters={
                "c": {
                    "server": "https://h:1",
                    "certificate-authority": "pki/ca.crt",
                    "tls-server-name": "kubernetes",
                    "insecure-skip-tls-verify": True,
                }
            },
            users={
                "u": {
                    "client-certificate": "pki/c.crt",
                    "client-key": "pki/c.key",
                    "tokenFile": "tok",
                }
            },
            contexts={"main": {"cluster": "c", "user": "u"}},
        ),
    )
    cfg = kubeconfig.load_kubeconfig(path)
    assert (cfg.ca_data, cfg.cert_data, cfg.key_data) == (b"CAFILE", b"CERTFILE", b"KEYFILE")
    assert cfg.token_file == str(tmp_path / "tok")
    assert cfg.namespace == "default"
    assert cfg.tls_server_name == "kubernetes"
    assert cfg.insecure_skip_tls_verify


def test_several_files_first_value_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = write(
        tmp_path / "a",
        doc(
            current="ctx-a",
            clusters={"c": {"server": "https://first"}},
            contexts={"ctx-a": {"cluster": "c"}},
        ),
    )
    b = write(
        tmp_path / "b",
        doc(
            current="ctx-b",
            clusters={"c": {"server": "https://second"}, "d": {"server": "https://d"}},
            contexts={"ctx-b": {"cluster": "d"}},
        ),
    )
    monkeypatch.setenv("KUBECONFIG", f"{a}:{tmp_path / 'missing'}:{b}")
    assert kubeconfig.load_sync().server == "https://first"
    assert kubeconfig.load_sync(context="ctx-b").server == "https://d"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(
            lambda d: d.update({"current-context": ""}), "no current-context", id="no-ctx"
        ),
        pytest.param(
            lambda d: d.update({"current-context": "zzz"}),
            'context "zzz" does not exist',
            id="unknown-ctx",
        ),
        pytest.param(
            lambda d: d["contexts"][0]["context"].update(cluster="nope"),
            'cluster "nope" does not exist',
            id="unknown-cluster",
        ),
        pytest.param(
            lambda d: d["contexts"][0]["context"].update(user="nope"),
            'user "nope" does not exist',
            id="unknown-user",
        ),
        pytest.param(
            lambda d: d["clusters"][0]["cluster"].pop("server"), "has no server", id="no-server"
        ),
        pytest.param(
            lambda d: d["users"][0]["user"].update({"client-key-data": None}),
            "needs both cert and key",
            id="cert-without-key",
        ),
        pytest.param(
            lambda d: d["users"][0]["user"].update({"client-key-data": "!!"}),
            "not valid base64",
            id="bad-base64",
        ),
        pytest.param(
            lambda d: d["users"][0]["user"].update(exec={"command": "x"}),
            "exec and auth-provider",
            id="exec",
        ),
        pytest.param(
            lambda d: d["clusters"][0]["cluster"].update(
                {"certificate-authority": "/nonexistent/ca"}
            ),
            "cannot read CA",
            id="missing-ca",
        ),
    ],
)
def test_bad_kubeconfigs_say_what_is_wrong(tmp_path: Path, mutate: Any, message: str) -> None:
    d = doc(
        clusters={"c": {"server": "https://h"}},
        users={"u": {"client-certificate-data": b64(b"C"), "client-key-data": b64(b"K")}},
        contexts={"main": {"cluster": "c", "user": "u"}},
    )
    mutate(d)
    path = write(tmp_path / "config", d)
    with pytest.raises(kubeconfig.ConfigError, match=message):
        kubeconfig.load_kubeconfig(path)


def test_not_yaml(tmp_path: Path) -> None:
    (tmp_path / "config").write_text("{ not: [ yaml")
    with pytest.raises(kubeconfig.ConfigError, match="not valid YAML"):
        kubeconfig.load_kubeconfig(tmp_path / "config")


def test_no_file_at_all(tmp_path: Path) -> None:
    with pytest.raises(kubeconfig.ConfigError, match="no kubeconfig found"):
        kubeconfig.load_kubeconfig([tmp_path / "absent"])


def sa_dir(tmp_path: Path, namespace: str | None = "kube-system") -> Path:
    d = tmp_path / "sa"
    d.mkdir()
    (d / "token").write_text("sa-token")
    (d / "ca.crt").write_bytes(b"SACA")
    if namespace is not None:
        (d / "namespace").write_text(namespace)
    return d


def test_in_cluster(tmp_path: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "10.43.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    cfg = kubeconfig.load_in_cluster(env, sa_dir(tmp_path))
    assert cfg.server == "https://10.43.0.1:443"
    assert cfg.ca_data == b"SACA"
    assert cfg.token_file == str(tmp_path / "sa" / "token")
    assert cfg.token is None
    assert cfg.namespace == "kube-system"


def test_in_cluster_ipv6_and_default_namespace(tmp_path: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}
    cfg = kubeconfig.load_in_cluster(env, sa_dir(tmp_path, namespace=None))
    assert cfg.server == "https://[fd00::1]:6443"
    assert cfg.namespace == "default"


@pytest.mark.parametrize(
    ("env", "make_dir", "message"),
    [
        pytest.param({}, True, "KUBERNETES_SERVICE_HOST", id="no-env"),
        pytest.param(
            {"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "1"},
            False,
            "does not exist",
            id="no-token",
        ),
    ],
)
def test_not_in_cluster(tmp_path: Path, env: dict[str, str], make_dir: bool, message: str) -> None:
    d = sa_dir(tmp_path) if make_dir else tmp_path / "nothing"
    with pytest.raises(kubeconfig.ConfigError, match=message):
        kubeconfig.load_in_cluster(env, d)


async def test_async_load_runs_off_the_loop(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        doc(clusters={"c": {"server": "http://x"}}, contexts={"main": {"cluster": "c"}}),
    )
    cfg = await kubeconfig.load(path)
    assert cfg.server == "http://x"
