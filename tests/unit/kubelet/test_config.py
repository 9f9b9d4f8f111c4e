"""``--kubelet-arg name=value``: known kubelet flags parsed onto KubeletConfig."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyk8s.kubelet.config import KubeletConfig, apply_kubelet_args


def cfg() -> KubeletConfig:
    return KubeletConfig(data_dir=Path("/d"), image_store_root=Path("/d/images"))


def test_defaults_are_upstreams() -> None:
    c = cfg()
    assert (c.container_log_max_size, c.container_log_max_files) == (10 * 2**20, 5)
    assert (c.image_gc_high_threshold_percent, c.image_gc_low_threshold_percent) == (85, 80)


def test_args_are_applied() -> None:
    c = cfg()
    apply_kubelet_args(c, ["container-log-max-size=1Mi", "--container-log-max-files=3",
                           "minimum-image-ttl-duration=2m30s", "image-gc-high-threshold=90",
                           "sync-frequency=15s"])  # fmt: skip
    assert (c.container_log_max_size, c.container_log_max_files) == (2**20, 3)
    assert (c.image_minimum_gc_age, c.image_gc_high_threshold_percent) == (150.0, 90)
    assert c.sync_frequency == 15.0


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        pytest.param("nonsense", "expected name=value", id="no-value"),
        pytest.param("fail-swap-on=false", "name one of", id="unknown"),
        pytest.param("container-log-max-size=ten", "container-log-max-size", id="bad-quantity"),
        pytest.param("container-log-max-files=1", "at least 2", id="too-few-files"),
        pytest.param("image-gc-high-threshold=101", "0-100", id="percent"),
        pytest.param("image-gc-low-threshold=90", "above", id="low-above-high"),
    ],
)
def test_bad_args_are_clear_errors(arg: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply_kubelet_args(cfg(), [arg])
