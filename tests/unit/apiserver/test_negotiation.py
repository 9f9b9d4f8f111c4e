from __future__ import annotations

import pytest

from pyk8s.api import errors
from pyk8s.apiserver import negotiation
from pyk8s.apiserver.negotiation import Output


@pytest.mark.parametrize(
    ("accept", "want"),
    [
        (None, Output.JSON),
        ("*/*", Output.JSON),
        ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json", Output.TABLE),
        ("application/json;as=Table;v=v2;g=meta.k8s.io,application/json", Output.JSON),
        ("application/vnd.kubernetes.protobuf,application/json", Output.JSON),
        ("application/yaml", Output.YAML),
        ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", Output.PARTIAL),
    ],
)
def test_choose(accept: str | None, want: Output) -> None:
    assert negotiation.choose(accept, allow_table=True).output is want


def test_discovery_only_where_asked() -> None:
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    assert negotiation.choose(accept, allow_table=False, discovery=True).output is Output.DISCOVERY
    assert negotiation.choose(accept, allow_table=False).output is Output.JSON


def test_not_acceptable() -> None:
    with pytest.raises(errors.NotAcceptable):
        negotiation.choose("application/vnd.kubernetes.protobuf", allow_table=True)


def test_decode() -> None:
    assert negotiation.decode(b'{"a":1}', "application/json") == {"a": 1}
    assert negotiation.decode(b"a: 1\n", "application/yaml") == {"a": 1}
    with pytest.raises(errors.BadRequest):
        negotiation.decode(b"{", "application/json")
    with pytest.raises(errors.UnsupportedMediaType):
        negotiation.decode(b"x", "text/plain")
