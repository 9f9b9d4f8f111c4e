"""GET of one object (``handlers/get.go`` ``GetResource``)."""

from __future__ import annotations

from aiohttp import web

from pyk8s.apiserver import negotiation
from pyk8s.apiserver.handlers.scope import Scope


async def get(scope: Scope) -> web.Response:
    if (
        not scope.info.subresource
        and not scope.query.get("resourceVersion")
        and scope.target().output is negotiation.Output.JSON
    ):
        body = await scope.store.get_json(scope.namespace, scope.info.name)
        if body is not None:
            return web.Response(body=body, content_type="application/json")
    obj = await scope.store.get(
        scope.namespace, scope.info.name, resource_version=scope.query.get("resourceVersion", "")
    )
    return scope.render(obj)
