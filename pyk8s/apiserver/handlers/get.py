"""GET of one object (``handlers/get.go`` ``GetResource``)."""

from __future__ import annotations

from aiohttp import web

from pyk8s.apiserver.handlers.scope import Scope


async def get(scope: Scope) -> web.Response:
    obj = await scope.store.get(
        scope.namespace, scope.info.name, resource_version=scope.query.get("resourceVersion", "")
    )
    return scope.render(obj)
