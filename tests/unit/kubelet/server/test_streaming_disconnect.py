"""A client that goes away in the middle of an exec leaves no process and no task behind
(the kubelet's ``streaming.serve`` over WebSocket v5, with a real ``sleep`` as the
session's process)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from pyk8s.kubelet.runtime import sessions
from pyk8s.kubelet.server import streaming


async def test_client_gone_mid_exec_kills_the_process_and_ends_every_task(
    tmp_path: Path,
) -> None:
    procs: list[asyncio.subprocess.Process] = []

    async def start(stdin: bool, tty: bool) -> sessions.PipeExec:
        proc = await asyncio.create_subprocess_exec(
            "sh", "-c", "echo started; exec sleep 1000",
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        procs.append(proc)
        return sessions.PipeExec(proc, tmp_path / "exec.pid", "t")

    async def handler(request: web.Request) -> web.StreamResponse:
        return await streaming.serve(request, start, ["sleep", "1000"])

    app = web.Application()
    app.router.add_get("/exec", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port: Any = runner.addresses[0][1]
    try:
        baseline = len(asyncio.all_tasks())
        async with aiohttp.ClientSession() as http:
            for query in ("stdin=true&stdout=true&stderr=true", "stdout=true"):
                ws = await http.ws_connect(f"http://127.0.0.1:{port}/exec?{query}",
                                           protocols=["v5.channel.k8s.io"])  # fmt: skip
                assert ws.protocol == "v5.channel.k8s.io"
                msg = await ws.receive_bytes(timeout=10)
                assert msg == b"\x01started\n"
                await ws.close()  # the client goes away; the command runs on
                proc = procs[-1]
                await asyncio.wait_for(proc.wait(), 10)
                assert proc.returncode == -9
        for _ in range(100):
            if len(asyncio.all_tasks()) <= baseline:
                break
            await asyncio.sleep(0.05)
        assert len(asyncio.all_tasks()) <= baseline, asyncio.all_tasks()
    finally:
        await runner.cleanup()
