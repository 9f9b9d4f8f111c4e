"""The metrics-server child's command line says what the server's settings say."""

from __future__ import annotations

from pathlib import Path

import pyk8s.cli
from pyk8s.cluster import server
from pyk8s.metrics.config import MetricsServerConfig


def test_child_argv_round_trips_through_the_cli() -> None:
    config = MetricsServerConfig(
        cert_dir=Path("/data/server/metrics-server"),
        secure_port=12345,
        advertise_address="192.0.2.7",
        metric_resolution=7.5,
    )
    child = server.metrics_server_child(Path("/data/kubeconfig.yaml"), config)
    argv = list(child.argv)
    command = argv.index("metrics-server")
    args = pyk8s.cli.build_parser(argv[command:]).parse_args(argv[command:])
    assert args.kubeconfig == "/data/kubeconfig.yaml"
    assert (args.cert_dir, args.secure_port, args.bind_address) == (
        "/data/server/metrics-server", 12345, "0.0.0.0",
    )  # fmt: skip
    assert (args.advertise_address, args.metric_resolution) == ("192.0.2.7", 7.5)
    assert not args.no_register
