"""Leader election on a ``coordination.k8s.io/v1`` Lease.

Mirrors k8s.io/client-go/tools/leaderelection (``leaderelection.go``:
``acquire``, ``renew``, ``release``, ``tryAcquireOrRenew``; ``resourcelock/leaselock.go``).
Several replicas of a component run :meth:`LeaderElector.run`; one holds the
Lease and renews it every ``retry_period``; the others poll it and take over
when it has not been renewed for ``lease_duration`` (measured on their own
monotonic clock from when they last saw it change, never by comparing wall
clocks across machines).

``run`` returns when leadership is lost, when the leader's work returns, or when
it is cancelled; with ``release_on_cancel`` the Lease is handed back on the way
out so a successor does not wait out the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from pyk8s.api import errors
from pyk8s.client import clock as clock_
from pyk8s.client import rest

log = logging.getLogger(__name__)

LEASES = rest.ResourceRef("coordination.k8s.io", "v1", "leases", True, "Lease")
JITTER_FACTOR = 1.2


@dataclass(frozen=True)
class Record:
    """``LeaderElectionRecord``: what the Lease spec says."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    leader_transitions: int = 0

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Record:
        return cls(
            holder_identity=spec.get("holderIdentity") or "",
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            leader_transitions=int(spec.get("leaseTransitions") or 0),
        )

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "leaseTransitions": self.leader_transitions,
        }
        if self.acquire_time:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time:
            spec["renewTime"] = self.renew_time
        return spec


class LeaseLock:
    """The Lease ``namespace/name`` as a lock held by ``identity`` (``resourcelock.LeaseLock``)."""

    def __init__(self, client: rest.Interface, namespace: str, name: str, identity: str) -> None:
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self._lease: dict[str, Any] | None = None

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}"

    async def get(self) -> Record:
        """The current record; raises ``NotFound`` when there is no Lease yet."""
        self._lease = await self.client.get(LEASES, self.name, self.namespace)
        return Record.from_spec(self._lease.get("spec") or {})

    async def create(self, record: Record) -> None:
        self._lease = await self.client.create(
            LEASES,
            {
                "apiVersion": LEASES.api_version,
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": record.to_spec(),
            },
            self.namespace,
        )

    async def update(self, record: Record) -> None:
        """Write ``record`` over the Lease last read; ``Conflict`` if it changed since."""
        if self._lease is None:
            raise RuntimeError("LeaseLock.update before get or create")
        lease = {**self._lease, "spec": record.to_spec()}
        self._lease = await self.client.update(LEASES, lease, self.namespace)


class LeaderElector:
    def __init__(
        self,
        lock: LeaseLock,
        on_started_leading: Callable[[], Coroutine[Any, Any, None]],
        *,
        on_stopped_leading: Callable[[], None] | None = None,
        on_new_leader: Callable[[str], None] | None = None,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        release_on_cancel: bool = True,
        clock: clock_.Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if lease_duration <= renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if renew_deadline <= JITTER_FACTOR * retry_period:
            raise ValueError("renew_deadline must be greater than retry_period * 1.2")
        self.lock = lock
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel
        self.clock: clock_.Clock = clock or clock_.RealClock()
        self.rng = rng or random.Random()
        self.observed = Record()
        self.observed_time = 0.0
        self._reported_leader = ""

    @property
    def leader(self) -> str:
        """The identity of the last observed leader ("" if none)."""
        return self.observed.holder_identity

    def is_leader(self) -> bool:
        return self.observed.holder_identity == self.lock.identity

    async def run(self) -> None:
        """Acquire, lead (running ``on_started_leading``) while renewals succeed, release."""
        try:
            await self._acquire()
            work = asyncio.create_task(self.on_started_leading(), name="leader work")
            renew = asyncio.create_task(self._renew(), name="leader renew")
            try:
                done, _ = await asyncio.wait({work, renew}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (work, renew):
                    task.cancel()
                results = await asyncio.gather(work, renew, return_exceptions=True)
                if self.release_on_cancel:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(self._release())
            if work in done and isinstance(results[0], BaseException):
                raise results[0]
        finally:
            if self.on_stopped_leading is not None:
                self.on_stopped_leading()

    async def _acquire(self) -> None:
        log.info("attempting to acquire leader lease %s", self.lock.describe())
        while True:
            acquired = await self._try_acquire_or_renew()
            self._maybe_report_transition()
            if acquired:
                log.info("successfully acquired lease %s", self.lock.describe())
                return
            await self.clock.sleep(self.retry_period * (1 + self.rng.random() * JITTER_FACTOR))

    async def _renew(self) -> None:
        """Renew every ``retry_period``; return once a renewal misses ``renew_deadline``."""
        while True:
            deadline = self.clock.now() + self.renew_deadline
            while True:
                try:
                    renewed = await self._try_acquire_or_renew()
                except Exception:
                    log.exception("renewing %s failed", self.lock.describe())
                    renewed = False
                self._maybe_report_transition()
                if renewed:
                    break
                if self.clock.now() + self.retry_period > deadline:
                    log.warning("failed to renew lease %s: lost it", self.lock.describe())
                    return
                await self.clock.sleep(self.retry_period)
            await self.clock.sleep(self.retry_period)

    def _lease_valid(self) -> bool:
        return self.observed_time + self.observed.lease_duration_seconds > self.clock.now()

    def _observe(self, record: Record) -> None:
        self.observed = record
        self.observed_time = self.clock.now()

    async def _try_acquire_or_renew(self) -> bool:
        now = clock_.micro_time(self.clock.wall())
        desired = Record(
            holder_identity=self.lock.identity,
            lease_duration_seconds=int(self.lease_duration),
            acquire_time=now,
            renew_time=now,
        )
        # 1. The leader renews optimistically against the Lease it last saw.
        if self.is_leader() and self._lease_valid():
            mine = Record(
                self.lock.identity,
                int(self.lease_duration),
                self.observed.acquire_time,
                now,
                self.observed.leader_transitions,
            )
            try:
                await self.lock.update(mine)
            except (errors.ApiError, OSError) as e:
                log.info("optimistic renew of %s failed (%s); re-reading", self.lock.describe(), e)
            else:
                self._observe(mine)
                return True
        # 2. Read (or create) the Lease.
        try:
            current = await self.lock.get()
        except errors.NotFound:
            try:
                await self.lock.create(desired)
            except errors.ApiError as e:
                log.info("creating lease %s failed: %s", self.lock.describe(), e)
                return False
            self._observe(desired)
            return True
        # 3. Someone else's lease still valid? Validity runs from when we saw it change.
        if current != self.observed:
            self._observe(current)
        if current.holder_identity and self._lease_valid() and not self.is_leader():
            return False
        # 4. Take it (or keep it), counting a transition when it changes hands.
        if self.is_leader():
            record = Record(
                self.lock.identity,
                int(self.lease_duration),
                current.acquire_time,
                now,
                current.leader_transitions,
            )
        else:
            record = Record(
                self.lock.identity,
                int(self.lease_duration),
                now,
                now,
                current.leader_transitions + 1,
            )
        try:
            await self.lock.update(record)
        except errors.ApiError as e:
            log.info("updating lease %s failed: %s", self.lock.describe(), e)
            return False
        self._observe(record)
        return True

    async def _release(self) -> None:
        if not self.is_leader():
            return
        now = clock_.micro_time(self.clock.wall())
        record = Record("", 1, now, now, self.observed.leader_transitions)
        try:
            await self.lock.update(record)
        except errors.Conflict:
            # A renewal we cancelled may have landed after all: re-read, release if still ours.
            if (await self.lock.get()).holder_identity != self.lock.identity:
                return
            await self.lock.update(record)
        self._observe(record)
        log.info("released lease %s", self.lock.describe())

    def _maybe_report_transition(self) -> None:
        if self.observed.holder_identity == self._reported_leader:
            return
        self._reported_leader = self.observed.holder_identity
        if self.on_new_leader is not None:
            try:
                self.on_new_leader(self._reported_leader)
            except Exception:
                log.exception("on_new_leader failed")
