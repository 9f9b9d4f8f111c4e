from __future__ import annotations

from pyk8s.api import fieldvalidation
from pyk8s.apiserver.schemas import Schemas


def test_unknown_fields_paths() -> None:
    schemas = Schemas.load()
    assert schemas is not None
    schema = schemas.for_kind("apps", "v1", "Deployment")
    assert schema is not None
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"any": "key"}, "nope": 1},
        "spec": {
            "replicas": 1,
            "foo": 2,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "x",
                            "bogus": True,
                            "resources": {"limits": {"cpu": "1"}},
                        }
                    ]
                }
            },
        },
    }
    assert fieldvalidation.unknown_fields(obj, schema) == [
        "metadata.nope",
        "spec.foo",
        "spec.template.spec.containers[0].bogus",
    ]
