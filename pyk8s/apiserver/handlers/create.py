"""POST (``handlers/create.go`` ``CreateResource``): 201 with the stored object."""

from __future__ import annotations

from aiohttp import web

from pyk8s.api import errors
from pyk8s.apiserver.handlers.scope import Scope


async def create(scope: Scope) -> web.Response:
    if scope.info.name:
        raise errors.MethodNotAllowed(
            f"the server does not allow this method on the requested resource "
            f"({scope.resource.plural})"
        )
    body = await scope.body()
    scope.validate_fields(body)
    obj = await scope.store.create(scope.namespace, body, scope.write_options())
    return scope.render(obj, 201)
