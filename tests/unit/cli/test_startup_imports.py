"""``pyk8s server`` starts fast (issue 12: a fresh server per conformance function): what the
API server needs to answer is all it imports before it is ready. The components, the client,
PyYAML, the protobuf runtime and kubernetes-validate load later, or when first used."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import pyk8s.cli
args = pyk8s.cli.build_parser(["server"]).parse_args(["server", "--data-dir", "/nonexistent"])
from pyk8s.cluster import settings
settings.ClusterSettings.from_args(args)
import pyk8s.cluster.server
import pyk8s.apiserver.server
print("\\n".join(sorted(sys.modules)))
"""

LATER = (
    "pyk8s.client",
    "pyk8s.scheduler",
    "pyk8s.dns",
    "pyk8s.controllers.manager",
    "pyk8s.kubelet.kubelet",
    "pyk8s.kubelet.network",
    "pyk8s.images.airgap",
    "pyk8s.proxy.server",
    "yaml",
    "google.protobuf",
    "kubernetes_validate",
    "jsonschema",
)


def test_server_start_imports_only_the_api_server() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], check=True, capture_output=True, text=True, timeout=60
    ).stdout.split()
    early = sorted(m for m in out if m.startswith(LATER))
    assert early == [], f"imported before the API server is ready: {early}"
