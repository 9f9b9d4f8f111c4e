"""Progress reporting for long image operations (pull, push, import): a narrow protocol the
CLI implements with ``rich`` progress bars on a terminal; silent by default."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, key: str, description: str, total: int) -> None:
        """A new task (a layer, say) of ``total`` bytes begins."""

    def advance(self, key: str, n: int) -> None:
        """``n`` more bytes of task ``key`` are done."""

    def finish(self, key: str, status: str) -> None:
        """Task ``key`` ended: ``status`` is a short word ("done", "exists", "mounted")."""


class Silent:
    def start(self, key: str, description: str, total: int) -> None:
        pass

    def advance(self, key: str, n: int) -> None:
        pass

    def finish(self, key: str, status: str) -> None:
        pass
