"""GET of a collection (``handlers/get.go`` ``ListResource``): selectors, paging,
resourceVersion semantics; ``?watch=true`` goes to ``watch.py``."""

from __future__ import annotations

from aiohttp import web

from pyk8s.apiserver.handlers.scope import Scope


async def list_(scope: Scope) -> web.Response:
    listing = await scope.store.list(scope.namespace, scope.list_options())
    return scope.render(listing, is_list=True)
