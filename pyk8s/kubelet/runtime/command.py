"""Run a host command (runc, ip, mount, unshare) without blocking the event loop."""

from __future__ import annotations

import asyncio
import os

from pyk8s.kubelet.runtime.interface import ContainerRuntimeError


class CommandError(ContainerRuntimeError):
    def __init__(self, argv: tuple[str, ...], code: int, stderr: str) -> None:
        self.argv = argv
        self.code = code
        self.stderr = stderr
        super().__init__(f"{' '.join(argv)}: exit {code}: {stderr.strip()}")


async def run(
    *argv: str, input: bytes | None = None, check: bool = True, cwd: str | None = None
) -> str:
    """Run ``argv``; return its stdout; raise :class:`CommandError` on a non-zero exit."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "LC_ALL": "C"},
        cwd=cwd,
    )
    out, err = await proc.communicate(input)
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode or 0, err.decode(errors="replace"))
    return out.decode(errors="replace")
