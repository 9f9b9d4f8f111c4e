"""GET of a collection (``handlers/get.go`` ``ListResource``): selectors, paging,
resourceVersion semantics; ``?watch=true`` goes to ``watch.py``."""

from __future__ import annotations

from aiohttp import web

from pyk8s.apiserver import negotiation
from pyk8s.apiserver.handlers.scope import Scope
from pyk8s.apiserver.registry.generic import store as generic

READ_ONLY = (negotiation.Output.TABLE, negotiation.Output.PARTIAL)


async def list_(scope: Scope) -> web.Response:
    opts = scope.list_options()
    output = scope.target().output
    if output is negotiation.Output.JSON:
        body = await scope.store.list_json(scope.namespace, opts)
        if body is not None:
            return web.Response(body=body, content_type="application/json")
    if output in READ_ONLY and type(scope.store).list is generic.Store.list:
        # Table and PartialObjectMetadata only read the items: decoded ones are shared.
        listing = await scope.store.list(scope.namespace, opts, shared=True)
        return scope.render(listing, is_list=True)
    listing = await scope.store.list(scope.namespace, opts)
    return scope.render(listing, is_list=True)
