"""The serviceaccount controller: every active namespace has a ``default`` ServiceAccount.

Mirrors ``pkg/controller/serviceaccount/serviceaccounts_controller.go``
(``serviceAccountDeleted`` and ``namespaceAdded``/``namespaceUpdated`` enqueue the
namespace; ``syncNamespace`` creates the missing accounts, skipping namespaces
that are not Active; AlreadyExists is success).
"""

from __future__ import annotations

from pyk8s.api import errors
from pyk8s.client import rest
from pyk8s.controllers import base
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import NAMESPACES, SERVICEACCOUNTS

DEFAULT_ACCOUNTS = ("default",)


class ServiceAccountsController(base.Controller):
    name = "serviceaccount-controller"
    workers = 2

    def __init__(
        self, ctx: manager_.ControllerContext, accounts: tuple[str, ...] = DEFAULT_ACCOUNTS
    ) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.accounts = accounts
        namespaces = ctx.informers.for_resource(NAMESPACES)
        accounts_inf = ctx.informers.for_resource(SERVICEACCOUNTS)
        self.namespaces = ctx.informers.lister(NAMESPACES)
        self.service_accounts = ctx.informers.lister(SERVICEACCOUNTS)
        self.watch(namespaces, add=self.enqueue, update=lambda old, new: self.enqueue(new))
        self.watch(accounts_inf, delete=self._account_deleted)

    def _account_deleted(self, sa: base.Object) -> None:
        if sa["metadata"].get("name") in self.accounts:
            self.queue.add(sa["metadata"]["namespace"])

    async def reconcile(self, key: str) -> None:
        try:
            ns = self.namespaces.get(key)
        except errors.NotFound:
            return
        if (ns.get("status") or {}).get("phase", "Active") != "Active":
            return
        if ns["metadata"].get("deletionTimestamp"):
            return
        present = self.service_accounts.namespace(key)
        for name in self.accounts:
            try:
                present.get(name)
                continue
            except errors.NotFound:
                pass
            body = {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": key},
            }
            try:
                await self.client.create(SERVICEACCOUNTS, body, key)
            except errors.AlreadyExists:
                pass
            except errors.Forbidden:
                # The namespace started terminating; nothing to do.
                return


def new(ctx: manager_.ControllerContext) -> ServiceAccountsController:
    return ServiceAccountsController(ctx)
