"""Golden tests of render_rules: tests/golden/proxy/*.input.yaml -> *.output.txt."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pyk8s.proxy.config import ProxyConfig
from pyk8s.proxy.iptables import rules
from tests.golden import compare

GOLDEN = Path(__file__).parents[3] / "golden" / "proxy"
CASES = sorted(GOLDEN.glob("*.input.yaml"))


@pytest.mark.parametrize("path", [pytest.param(p, id=p.name.split(".")[0]) for p in CASES])
def test_golden(path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    cfg = case["config"]
    config = ProxyConfig(**{**cfg, "node_ips": tuple(cfg.get("node_ips", ()))})
    current = rules.parse_save(case.get("current", ""), config.chain_prefix)
    rendered = rules.render_rules(case["services"], case["endpointSlices"], config, current)
    compare.check(rendered, path.with_name(path.name.replace(".input.yaml", ".output.txt")))


def test_cases_exist() -> None:
    assert len(CASES) >= 9
