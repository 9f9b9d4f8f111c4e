"""pid 1 of a pod's shared process namespace (``shareProcessNamespace: true``).

Upstream, the pod's ``pause`` container is pid 1 of the shared namespace and reaps the
zombies re-parented to it (``build/pause/linux/pause.c``). Our sandboxes have no pause
container, so a pod that shares its process namespace gets this small holder instead:
``python -S -m pyk8s.kubelet.runtime.pidns --sandbox ID --pid-file F`` unshares a pid
namespace, forks its pid 1 (which only reaps, and exits on SIGTERM), writes that process's
host pid to ``F`` and returns. Containers of the pod join ``/proc/<pid>/ns/pid``.
Stdlib only, like the shim.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

CLONE_NEWPID = 0x20000000


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[0] != "--sandbox" or argv[2] != "--pid-file":
        print("usage: pidns --sandbox ID --pid-file FILE", file=sys.stderr)
        return 2
    pid_file = argv[3]
    # Inherit nothing but stdio (uvloop leaks the spawner's pipe ends; see shim.main).
    os.closerange(3, 1 << 16)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWPID) != 0:
        print(f"unshare(CLONE_NEWPID): {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 1
    pid = os.fork()  # the child is pid 1 of the new namespace
    if pid:
        with open(pid_file + ".tmp", "w") as f:
            f.write(str(pid))
        os.rename(pid_file + ".tmp", pid_file)
        return 0
    _reap_forever()
    return 0


def _reap_forever() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    signal.signal(signal.SIGTERM, lambda _s, _f: os._exit(0))
    signal.signal(signal.SIGINT, lambda _s, _f: os._exit(0))
    signal.signal(signal.SIGCHLD, lambda _s, _f: None)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            signal.pause()
        except InterruptedError:
            pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
