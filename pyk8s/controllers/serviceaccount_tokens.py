"""The token controller: fills ``kubernetes.io/service-account-token`` Secrets.

Mirrors ``pkg/controller/serviceaccount/tokens_controller.go``: a Secret of that
type names its account in the ``kubernetes.io/service-account.name``
annotation; the controller signs a legacy token for it (``legacy.go`` claims,
the key of ``--service-account-private-key-file``) and writes ``token``,
``ca.crt`` and ``namespace`` into the Secret, and the account's uid into the
``kubernetes.io/service-account.uid`` annotation. A Secret whose account is
gone (or was recreated with another uid) is deleted, and so are an account's
token Secrets when the account is deleted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import logging
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from pyk8s.api import errors
from pyk8s.api.serviceaccount import claims, jwt
from pyk8s.client import rest
from pyk8s.controllers import base
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import SECRETS, SERVICEACCOUNTS

log = logging.getLogger(__name__)

SECRET_TYPE = "kubernetes.io/service-account-token"
NAME_ANNOTATION = "kubernetes.io/service-account.name"
UID_ANNOTATION = "kubernetes.io/service-account.uid"


def _b64(s: str | bytes) -> str:
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode("ascii")


class TokensController(base.Controller):
    name = "serviceaccount-token-controller"
    workers = 2

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.key_file: Path | None = ctx.config.service_account_private_key_file
        self.root_ca = ctx.root_ca or b""
        self._key: rsa.RSAPrivateKey | None = None
        self.secrets = ctx.informers.lister(SECRETS)
        self.accounts = ctx.informers.lister(SERVICEACCOUNTS)
        self.watch(
            ctx.informers.for_resource(SECRETS),
            add=self._secret_changed,
            update=lambda old, new: self._secret_changed(new),
        )
        self.watch(
            ctx.informers.for_resource(SERVICEACCOUNTS),
            delete=self._account_deleted,
        )

    def _secret_changed(self, secret: base.Object) -> None:
        if secret.get("type") == SECRET_TYPE:
            self.enqueue(secret)

    def _account_deleted(self, sa: base.Object) -> None:
        ns = sa["metadata"].get("namespace", "")
        for s in self.secrets.namespace(ns).list():
            annotations = s["metadata"].get("annotations") or {}
            if s.get("type") == SECRET_TYPE and annotations.get(NAME_ANNOTATION) == sa[
                "metadata"
            ].get("name"):
                self.enqueue(s)

    async def _signing_key(self) -> rsa.RSAPrivateKey | None:
        if self._key is None and self.key_file is not None:
            self._key = await asyncio.to_thread(jwt.load_private, self.key_file)
        return self._key

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.partition("/")
        try:
            secret = self.secrets.namespace(ns).get(name)
        except errors.NotFound:
            return
        if secret.get("type") != SECRET_TYPE or secret["metadata"].get("deletionTimestamp"):
            return
        annotations = secret["metadata"].get("annotations") or {}
        sa_name = annotations.get(NAME_ANNOTATION, "")
        try:
            sa = self.accounts.namespace(ns).get(sa_name)
        except errors.NotFound:
            sa = None
        want_uid = annotations.get(UID_ANNOTATION, "")
        if sa is None or (want_uid and sa["metadata"].get("uid") != want_uid):
            with contextlib.suppress(errors.NotFound):
                await self.client.delete(SECRETS, name, ns)
            return
        data = secret.get("data") or {}
        if want_uid and data.get("token") and "ca.crt" in data and data.get("namespace"):
            return
        signing = await self._signing_key()
        if signing is None:
            log.warning(
                "token controller: no --service-account-private-key-file; %s stays empty", key
            )
            return
        uid = sa["metadata"].get("uid", "")
        updated = copy.deepcopy(dict(secret))
        md = updated["metadata"]
        md["annotations"] = {**annotations, UID_ANNOTATION: uid}
        new_data = dict(data)
        if not new_data.get("token"):
            token = jwt.sign(claims.legacy(ns, claims.Ref(sa_name, uid), name), signing)
            new_data["token"] = _b64(token)
        new_data["ca.crt"] = _b64(self.root_ca)
        new_data["namespace"] = _b64(ns)
        updated["data"] = new_data
        try:
            await self.client.update(SECRETS, updated, ns)
        except errors.NotFound:
            return


def new(ctx: manager_.ControllerContext) -> TokensController:
    return TokensController(ctx)
