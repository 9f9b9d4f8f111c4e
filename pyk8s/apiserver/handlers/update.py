"""PUT (``handlers/update.go`` ``UpdateResource``): optimistic concurrency on
``metadata.resourceVersion``; 409 Conflict when it is stale."""

from __future__ import annotations

from aiohttp import web

from pyk8s.api import errors
from pyk8s.apiserver.handlers.scope import Scope


async def update(scope: Scope) -> web.Response:
    body = await scope.body()
    scope.validate_fields(body)
    strategy = None
    if scope.info.subresource:
        strategy = scope.rest.subresources.get(scope.info.subresource)
        if strategy is None:
            raise errors.MethodNotAllowed(
                f"the server does not allow this method on the requested resource "
                f"({scope.resource.plural}/{scope.info.subresource})"
            )
    obj, created = await scope.store.update(
        scope.namespace, scope.info.name, body, scope.write_options(), strategy=strategy
    )
    return scope.render(obj, 201 if created else 200)
