"""``kubectl debug``: an ephemeral container added through ``pods/ephemeralcontainers`` and
run by the kubelet in the pod (sharing the target's process namespace), attached to on a
terminal; ``--copy-to``; what the subresource refuses."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.e2e.streaming.conftest import VERSIONS, Streaming, Terminal, wait_for

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("version", ["1.33", "1.32"])
def test_debug_it_with_target_sees_the_targets_processes(
    streaming: Streaming, version: str
) -> None:
    name = f"dbg-{version.replace('.', '')}"
    t = Terminal(streaming.argv(version, "debug", "-it", "web", "--image=busybox",
                                "--target=nginx", f"--container={name}", "--", "sh"))  # fmt: skip
    try:
        t.expect(b"If you don't see a command prompt, try pressing enter.", timeout=60)
        t.send(b"\r")
        t.expect(b"# ")
        t.send(b"ps -o pid,args | grep -c '[n]ginx: master'; stty size\r")
        t.expect(b"40 100")
        t.send(b"exit 0\r")
        assert t.wait() == 0, t.output
    finally:
        t.kill()
    assert b"\r\n1\r\n" in t.output  # nginx's master process, seen from the debug container
    pod = streaming.pod("web")
    (ec,) = [c for c in pod["spec"]["ephemeralContainers"] if c["name"] == name]
    assert (ec["image"], ec["targetContainerName"], ec["stdin"], ec["tty"]) == (
        "busybox", "nginx", True, True)  # fmt: skip

    def terminated() -> bool:
        statuses = streaming.pod("web")["status"].get("ephemeralContainerStatuses") or []
        return any(s["name"] == name and "terminated" in s["state"] for s in statuses)

    wait_for("the debug container's status to say it ended", terminated, timeout=90)
    # the pod itself is untouched
    assert streaming.pod("web")["status"]["containerStatuses"][0]["restartCount"] == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_debug_i_then_attach_keeps_the_containers_stdin_open(
    streaming: Streaming, version: str
) -> None:
    """``kubectl debug -i`` whose input ends at once, then ``kubectl attach -i``: the end of
    a client's input ends its attach, the ephemeral container (stdin without stdinOnce) runs
    on with its stdin open (containerd's attach), so a later attach talks to it."""
    name = f"rd-{version.replace('.', '')}"
    res = streaming.kubectl(version, "debug", "web", "-i", "--image=busybox",
                            f"--container={name}", "--", "sh", "-c",
                            "while read x; do echo got:$x; done", input="")  # fmt: skip
    assert "If you don't see a command prompt" in res.stderr

    def status() -> dict[str, Any]:
        statuses = streaming.pod("web")["status"].get("ephemeralContainerStatuses") or []
        return next((s for s in statuses if s["name"] == name), {})

    wait_for("the debug container to run", lambda: "running" in status().get("state", {}))
    for word in ("one", "two"):
        with subprocess.Popen(streaming.argv(version, "attach", "-i", "web", "-c", name),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) as proc:  # fmt: skip
            try:
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(f"{word}\n".encode())
                proc.stdin.flush()
                line = proc.stdout.readline()
                proc.stdin.close()
                code = proc.wait(30)
            finally:
                proc.kill()
                proc.wait()
            err = proc.stderr.read() if proc.stderr else b""
        assert (line, code) == (f"got:{word}\n".encode(), 0), err
    st = status()
    assert "running" in st["state"]
    # as the kubelet reports them: never ready, and no "started" (set by the prober
    # manager for the regular and init containers only)
    assert (st["ready"], "started" in st) == (False, False)


def test_debug_copy_to(streaming: Streaming) -> None:
    streaming.kubectl("1.33", "debug", "shell", "--copy-to=shell-copy", "--image=busybox",
                      "--share-processes", "--container=helper", "--", "sleep", "300")  # fmt: skip
    pod = streaming.wait_running("shell-copy")
    assert pod["spec"]["shareProcessNamespace"] is True
    assert [c["name"] for c in pod["spec"]["containers"]] == ["sh", "helper"]
    ps = streaming.kubectl("1.33", "exec", "shell-copy", "-c", "helper", "--", "ps", "-o", "args")
    assert "sleep 3600" in ps.stdout and "sleep 300" in ps.stdout
    streaming.kubectl("1.33", "delete", "pod", "shell-copy", "--wait=false")


def test_ephemeralcontainers_subresource_rules(streaming: Streaming) -> None:
    # a pod of its own: the others stay without ephemeral containers (kubectl would say
    # "Defaulted container" when exec'ing into them)
    streaming.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "ephem"},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "sh", "image": "busybox", "command": ["sleep", "3600"]}],
            },
        }
    )
    streaming.wait_running("ephem")

    def patch(body: str, kind: str = "json") -> tuple[int, str]:
        res = streaming.kubectl("1.33", "patch", "pod", "ephem", "--subresource",
                                "ephemeralcontainers", f"--type={kind}", "-p", body,
                                check=False)  # fmt: skip
        return res.returncode, res.stderr.strip()

    add = ('[{"op":"add","path":"/spec/ephemeralContainers","value":[{"name":"e1",'
           '"image":"busybox","command":["sleep","300"]}]}]')  # fmt: skip
    assert patch(add) == (0, "")

    def e1_running() -> bool:
        statuses = streaming.pod("ephem")["status"].get("ephemeralContainerStatuses") or []
        return any("running" in s["state"] for s in statuses)

    wait_for("e1 to run", e1_running)
    assert patch('[{"op":"remove","path":"/spec/ephemeralContainers/0"}]') == (1, (
        'The Pod "ephem" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral '
        'containers "e1" may not be removed'))  # fmt: skip
    changed = '[{"op":"replace","path":"/spec/ephemeralContainers/0/image","value":"nginx"}]'
    code, err = patch(changed)
    assert code == 1 and 'existing ephemeral containers "e1" may not be changed' in err
    with_port = ('[{"op":"add","path":"/spec/ephemeralContainers/-","value":{"name":"e2",'
                 '"image":"busybox","ports":[{"containerPort":80}]}}]')  # fmt: skip
    assert patch(with_port) == (
        1,
        'The Pod "ephem" is invalid: spec.ephemeralContainers[1]'
        ".ports: Forbidden: cannot be set for an Ephemeral Container",
    )
    dup = ('[{"op":"add","path":"/spec/ephemeralContainers/-","value":{"name":"sh",'
           '"image":"busybox","targetContainerName":"nope"}}]')  # fmt: skip
    assert patch(dup) == (1, 'The Pod "ephem" is invalid: \n'
                             '* spec.ephemeralContainers[1].name: Duplicate value: "sh"\n'
                             "* spec.ephemeralContainers[1].targetContainerName: Not found: "
                             '"nope"')  # fmt: skip
    # only spec.ephemeralContainers is taken from the request
    code, _ = patch('{"metadata":{"labels":{"x":"y"}},"spec":{"containers":[{"name":"sh",'
                    '"image":"nginx"}]}}', kind="merge")  # fmt: skip
    pod = streaming.pod("ephem")
    assert code == 0
    assert "x" not in (pod["metadata"].get("labels") or {})
    assert pod["spec"]["containers"][0]["image"] == "busybox"
