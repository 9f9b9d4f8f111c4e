"""Host-local IPAM: round-robin reservations on disk, release, reclaiming dead owners."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyk8s.kubelet.network.hostlocal import HostLocal, RangeFullError


def test_allocates_after_gateway_and_is_idempotent(tmp_path: Path) -> None:
    ipam = HostLocal(tmp_path, "10.42.3.0/24")
    a = ipam.allocate("a")
    b = ipam.allocate("b")
    assert (str(a), str(b)) == ("10.42.3.2", "10.42.3.3")
    assert ipam.allocate("a") == a
    assert ipam.reserved() == {"10.42.3.2": "a", "10.42.3.3": "b"}


def test_survives_a_new_instance_and_goes_round_robin(tmp_path: Path) -> None:
    HostLocal(tmp_path, "10.42.3.0/24").allocate("a")
    again = HostLocal(tmp_path, "10.42.3.0/24")
    assert str(again.allocate("a")) == "10.42.3.2"
    assert again.release("a") == ["10.42.3.2"]
    assert again.reserved() == {}
    # The freed address is not handed out at once: the next one after the last reserved is.
    assert str(again.allocate("b")) == "10.42.3.3"


def test_full_range_reclaims_dead_owners_only(tmp_path: Path) -> None:
    ipam = HostLocal(tmp_path, "10.42.3.0/29")  # hosts .2 to .6 after the gateway .1
    for owner in "abcde":
        ipam.allocate(owner)
    with pytest.raises(RangeFullError, match=r"10\.42\.3\.0/29"):
        ipam.allocate("f")
    with pytest.raises(RangeFullError):
        ipam.allocate("f", alive=lambda owner: True)
    got = ipam.allocate("f", alive=lambda owner: owner != "c")
    assert str(got) == "10.42.3.4"
    assert "c" not in ipam.reserved().values()


def test_too_small_a_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too small"):
        HostLocal(tmp_path, "10.42.3.0/31")
