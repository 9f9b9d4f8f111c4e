"""GET of a collection (``handlers/get.go`` ``ListResource``): selectors, paging,
resourceVersion semantics; ``?watch=true`` goes to ``watch.py``."""

from __future__ import annotations

from aiohttp import web

from pyk8s.apiserver import negotiation
from pyk8s.apiserver.handlers.scope import Scope


async def list_(scope: Scope) -> web.Response:
    opts = scope.list_options()
    if scope.target().output is negotiation.Output.JSON:
        body = await scope.store.list_json(scope.namespace, opts)
        if body is not None:
            return web.Response(body=body, content_type="application/json")
    listing = await scope.store.list(scope.namespace, opts)
    return scope.render(listing, is_list=True)
