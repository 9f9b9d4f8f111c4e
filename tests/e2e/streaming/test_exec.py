"""``kubectl exec``/``cp``/``run -it``/``attach`` with kubectl 1.33 and 1.32, through a
pseudo-terminal where a person would use one, and the Python client's ``stream()``."""

from __future__ import annotations

import filecmp
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.streaming.conftest import VERSIONS, Streaming, Terminal, kubectl_binary, wait_for

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("version", VERSIONS)
def test_cp_both_ways(streaming: Streaming, version: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("hello\n")
    (src / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    streaming.kubectl(version, "cp", str(src), f"shell:/tmp/cp-{version}")
    listing = streaming.kubectl(version, "exec", "shell", "--", "ls", "-lR", f"/tmp/cp-{version}")
    assert "300000" in listing.stdout and "a.txt" in listing.stdout
    back = tmp_path / "back"
    streaming.kubectl(version, "cp", f"shell:/tmp/cp-{version}", str(back))
    cmp = filecmp.dircmp(src, back)
    assert (cmp.left_only, cmp.right_only, cmp.diff_files) == ([], [], [])
    assert (back / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    # a single file, renamed on the way
    streaming.kubectl(version, "cp", f"shell:/tmp/cp-{version}/a.txt", str(tmp_path / "one"))
    assert (tmp_path / "one").read_text() == "hello\n"


@pytest.mark.parametrize("version", VERSIONS)
def test_cp_missing_paths(streaming: Streaming, version: str, tmp_path: Path) -> None:
    # into a directory the pod lacks: tar's complaint and its exit code
    (tmp_path / "f").write_text("x\n")
    res = streaming.kubectl(version, "cp", str(tmp_path / "f"), "shell:/no/such/dir/f",
                            check=False)  # fmt: skip
    assert (res.returncode, res.stderr) == (1, (
        "tar: can't change directory to '/no/such/dir': No such file or directory\n"
        "command terminated with exit code 1\n"))  # fmt: skip
    # out of a path the pod lacks: kubectl prints tar's complaint (the remote stderr goes to
    # its stdout) and stops reading when the empty archive ends, before tar's exit code
    # comes, so it exits 0 as against a real cluster (kubernetes/kubectl#980). It prints
    # the complaint only if it comes before the archive's end, as tar wrote them; kubectl
    # itself races with it, hence a few tries.
    for _ in range(3):
        res = streaming.kubectl(version, "cp", "shell:/no/such/path", str(tmp_path / "out"),
                                check=False)  # fmt: skip
        assert not (tmp_path / "out").exists()
        if "tar: /no/such/path: No such file or directory" in res.stdout:
            break
    else:
        raise AssertionError(f"tar's complaint not shown: {res}")


@pytest.mark.parametrize("version", VERSIONS)
def test_exec_it_with_a_terminal(streaming: Streaming, version: str) -> None:
    t = Terminal(streaming.argv(version, "exec", "-it", "shell", "--", "sh"), rows=40, cols=100)
    try:
        t.expect(b"# ")
        t.send(b"stty size; tty\r")
        t.expect(b"40 100")
        t.expect(b"/dev/pts/")
        t.resize(50, 120)
        t.send(b"echo typed-$((6*7))\r")  # echoed by the container's terminal
        # echoed, though ash may redraw the line after its cursor query (and clear to its
        # end with ESC [J in the middle of it)
        t.expect(b"$((6*7))")
        t.expect(b"typed-42")
        t.send(b"stty size\r")
        t.expect(b"50 120")
        t.send(b"exit 7\r")
        assert t.wait() == 7, t.output
    finally:
        t.kill()
    assert b"command terminated with exit code 7" in t.output


def test_run_it_rm_and_attach(streaming: Streaming) -> None:
    t = Terminal(streaming.argv("1.33", "run", "-it", "--rm", "--restart=Never", "interactive",
                                "--image=busybox", "--", "sh"))  # fmt: skip
    try:
        t.expect(b"If you don't see a command prompt, try pressing enter.", timeout=60)
        t.send(b"\r")
        t.expect(b"# ")
        t.send(b"stty size; echo in-$((1+2))\r")
        t.expect(b"40 100")
        t.expect(b"in-3")
        t.send(b"exit 0\r")
        assert t.wait() == 0
    finally:
        t.kill()
    assert b"warning" not in t.output.lower()
    wait_for("the --rm pod to go", lambda: not streaming.pod("interactive"), timeout=30)

    # attach -i to a container that reads its stdin
    reader = {"name": "r", "image": "busybox", "stdin": True, "stdinOnce": True,
              "command": ["sh", "-c", "read a; echo got:$a; exit 3"]}  # fmt: skip
    streaming.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader"},
                     "spec": {"terminationGracePeriodSeconds": 1, "restartPolicy": "Never",
                              "containers": [reader]}})  # fmt: skip
    streaming.wait_running("reader")
    res = streaming.kubectl("1.33", "attach", "-i", "reader", input="line\n", check=False)
    assert "got:line" in res.stdout
    phase = lambda: (streaming.pod("reader").get("status") or {}).get("phase")  # noqa: E731
    wait_for("reader to end", lambda: phase() == "Failed")
    state = streaming.pod("reader")["status"]["containerStatuses"][0]["state"]
    assert state["terminated"]["exitCode"] == 3
    streaming.kubectl("1.33", "delete", "pod", "reader", "--wait=false")


def test_leaving_an_attach_closes_a_stdin_once_containers_stdin(streaming: Streaming) -> None:
    """``kubectl attach -i`` to a ``stdinOnce`` container, gone without a word: the
    container's stdin closes (containerd's attach), its ``read`` ends and so does it."""
    script = "(while true; do echo tick; sleep 0.3; done) & read a; echo got:[$a]; exit 3"
    streaming.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "once"},
                     "spec": {"terminationGracePeriodSeconds": 1, "restartPolicy": "Never",
                              "containers": [{"name": "c", "image": "busybox", "stdin": True,
                                              "stdinOnce": True,
                                              "command": ["sh", "-c", script]}]}})  # fmt: skip
    streaming.wait_running("once")
    with subprocess.Popen(streaming.argv("1.33", "attach", "-i", "once"),
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == b"tick\n"  # attached
        finally:
            proc.kill()
            proc.wait()
    phase = lambda: (streaming.pod("once").get("status") or {}).get("phase")  # noqa: E731
    wait_for("the container to end", lambda: phase() == "Failed", timeout=30)
    assert "got:[]" in streaming.kubectl("1.33", "logs", "once").stdout
    streaming.kubectl("1.33", "delete", "pod", "once", "--wait=false")


@pytest.mark.parametrize("version", VERSIONS)
def test_exec_exit_codes_and_stdin(streaming: Streaming, version: str) -> None:
    res = streaming.kubectl(version, "exec", "shell", "--", "sh", "-c",
                            "echo out; echo err >&2; exit 3", check=False)  # fmt: skip
    assert (res.returncode, res.stdout, res.stderr.strip()) == (
        3, "out\n", "err\ncommand terminated with exit code 3")  # fmt: skip
    res = streaming.kubectl(version, "exec", "-i", "shell", "--", "cat", input="piped\n" * 1000)
    assert res.stdout == "piped\n" * 1000


NO_SUCH_COMMAND = (
    r"error executing command in container: failed to exec in container: failed to start exec "
    r'"[0-9a-f]{64}": OCI runtime exec failed: exec failed: unable to start container process: '
    r'exec: "no-such-command": executable file not found in \$PATH: unknown'
)


@pytest.fixture(scope="module")
def blocked(streaming: Streaming) -> str:
    """A pod on the node whose container has not started (its init container never ends)."""
    streaming.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "blocked"},
                     "spec": {"terminationGracePeriodSeconds": 1,
                              "initContainers": [{"name": "wait", "image": "busybox",
                                                  "command": ["sleep", "3600"]}],
                              "containers": [{"name": "c", "image": "busybox"}]}})  # fmt: skip

    def init_running() -> bool:
        inits = (streaming.pod("blocked").get("status") or {}).get("initContainerStatuses")
        return bool(inits) and "running" in inits[0]["state"]

    wait_for("the init container to run", init_running)
    return "blocked"


@pytest.mark.parametrize("version", VERSIONS)
def test_bad_input(streaming: Streaming, blocked: str, version: str) -> None:
    res = streaming.kubectl(version, "exec", "shell", "-c", "nope", "--", "true", check=False)
    assert res.returncode == 1
    assert res.stderr.strip() == (
        "Error from server (BadRequest): container nope is not valid for pod shell"
    )
    # kubectl 1.30+ speaks v5, which the API server translates: the kubelet's InternalError
    # comes wrapped in one more (as against a real cluster with containerd)
    res = streaming.kubectl(version, "exec", "shell", "--", "no-such-command", check=False)
    assert res.returncode == 1, res
    assert re.fullmatch(
        "error: Internal error occurred: Internal error occurred: " + NO_SUCH_COMMAND,
        res.stderr.strip(),
    ), res.stderr
    # a container that is not running: the kubelet's refusal, through the translator
    res = streaming.kubectl(version, "exec", blocked, "-c", "c", "--", "true", check=False)
    assert (res.returncode, res.stderr.strip()) == (1, (
        'error: Internal error occurred: unable to upgrade connection: container not found ("c")'
    ))  # fmt: skip
    # a pod not scheduled yet: the API server's refusal, before any upgrade
    streaming.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "unscheduled"},
                     "spec": {"nodeSelector": {"no-such": "node"},
                              "containers": [{"name": "c", "image": "busybox"}]}})  # fmt: skip
    res = streaming.kubectl(version, "exec", "unscheduled", "--", "true", check=False)
    no_host = "Error from server (BadRequest): pod unscheduled does not have a host assigned"
    assert (res.returncode, res.stderr.strip()) == (1, no_host)
    res = streaming.kubectl(version, "attach", blocked, "-c", "c", check=False)
    assert (res.returncode, res.stderr.strip().splitlines()[-1]) == (1, (
        "error: Internal error occurred: unable to upgrade connection: container c not found "
        "in pod blocked_default"
    ))  # fmt: skip
    res = streaming.kubectl(version, "exec", "missing-pod", "--", "true", check=False)
    assert (res.returncode, res.stderr.strip()) == (
        1, 'Error from server (NotFound): pods "missing-pod" not found')  # fmt: skip
    streaming.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"done-{version}"},
                     "spec": {"restartPolicy": "Never", "containers": [{
                         "name": "c", "image": "busybox", "command": ["true"]}]}})  # fmt: skip
    wait_for("the pod to finish",
             lambda: (streaming.pod(f"done-{version}").get("status") or {}).get("phase")
             == "Succeeded")  # fmt: skip
    res = streaming.kubectl(version, "exec", f"done-{version}", "--", "true", check=False)
    assert (res.returncode, res.stderr.strip()) == (
        1,
        "error: cannot exec into a container in a completed pod; current phase is Succeeded",
    )


def test_exec_it_missing_command_shows_only_the_error(streaming: Streaming) -> None:
    """runc's own complaint stays off the terminal: kubectl prints the error, once."""
    t = Terminal(streaming.argv("1.33", "exec", "-it", "shell", "--", "no-such-command"))
    try:
        code = t.wait()
    finally:
        t.kill()
    assert code == 1
    assert re.fullmatch(
        "error: Internal error occurred: Internal error occurred: " + NO_SUCH_COMMAND,
        t.output.decode().strip(),
    ), t.output


@pytest.fixture(scope="module")
def ticker(streaming: Streaming) -> Iterator[str]:
    """A pod whose container was created without stdin and writes a line every 0.2 s."""
    loop = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"
    streaming.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ticker"},
                     "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                         "name": "t", "image": "busybox",
                         "command": ["sh", "-c", loop]}]}})  # fmt: skip
    streaming.wait_running("ticker")
    yield "ticker"
    streaming.kubectl("1.33", "delete", "pod", "ticker", "--wait=false")


@pytest.mark.parametrize("version", VERSIONS)
def test_attach_i_to_a_container_without_stdin(
    streaming: Streaming, ticker: str, version: str
) -> None:
    """The input is ignored and the output streamed on, even past the input's end
    (containerd's attach), not refused."""
    with subprocess.Popen(streaming.argv(version, "attach", "-i", ticker),
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:  # fmt: skip
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(b"ignored\n")
            proc.stdin.close()
            lines = [proc.stdout.readline() for _ in range(5)]
        finally:
            proc.kill()
            proc.wait()
        err = proc.stderr.read() if proc.stderr else b""
    assert all(re.fullmatch(rb"tick \d+\n", line) for line in lines), (lines, err)


def test_exec_runs_in_the_containers_environment(streaming: Streaming) -> None:
    """What ``kubectl exec -- env`` shows: the container's variables, among them the
    API server's Service ones that in-cluster clients read their server from."""
    ip = streaming.kubectl("1.33", "get", "service", "kubernetes", "-o",
                           "jsonpath={.spec.clusterIP}").stdout  # fmt: skip
    out = streaming.kubectl("1.33", "exec", "shell", "--", "env").stdout
    env = dict(line.split("=", 1) for line in out.splitlines())
    assert env["HOSTNAME"] == "shell"
    assert {k: v for k, v in env.items() if k.startswith("KUBERNETES_")} == {
        "KUBERNETES_SERVICE_HOST": ip,
        "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "443",
        "KUBERNETES_PORT": f"tcp://{ip}:443",
        "KUBERNETES_PORT_443_TCP": f"tcp://{ip}:443",
        "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_443_TCP_PORT": "443",
        "KUBERNETES_PORT_443_TCP_ADDR": ip,
    }


def test_python_client_stream_exec(streaming: Streaming) -> None:
    from kubernetes import client, config
    from kubernetes.stream import stream

    api = client.CoreV1Api(config.new_client_from_config(str(streaming.kubeconfig)))
    out = stream(api.connect_get_namespaced_pod_exec, "shell", "default",
                 command=["sh", "-c", "echo hi; echo oops >&2"], stderr=True, stdout=True,
                 stdin=False, tty=False)  # fmt: skip
    assert "hi" in out
    ws = stream(api.connect_get_namespaced_pod_exec, "shell", "default",
                command=["sh", "-c", "read x; echo read:$x; exit 4"], stderr=True,
                stdin=True, stdout=True, tty=False, _preload_content=False)  # fmt: skip
    ws.write_stdin("value\n")
    ws.run_forever(timeout=20)
    assert "read:value" in ws.read_stdout()
    assert ws.returncode == 4
    ws.close()


def test_client_disconnecting_mid_exec_leaves_no_process(streaming: Streaming) -> None:
    def sleepers() -> int:
        ps = streaming.kubectl("1.33", "exec", "shell", "--", "ps", "-o", "args")
        return sum(line.strip() == "sleep 1234" for line in ps.stdout.splitlines())

    assert sleepers() == 0
    # WebSocket (v5) from both versions, and plain SPDY
    spdy = {**os.environ, "KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}
    procs = [
        subprocess.Popen(streaming.argv(version, "exec", *flags, "shell", "--", "sh", "-c",
                                        "sleep 1234 & sleep 1234"),
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env)
        for version, env in (("1.33", None), ("1.32", None), ("1.33", spdy))
        for flags in ([], ["-i"])
    ]  # fmt: skip
    try:
        # each a command and one it started in the background
        wait_for("the execs to start", lambda: sleepers() == 2 * len(procs), timeout=30)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    wait_for("the exec'd processes to go", lambda: sleepers() == 0, timeout=30)


def test_exec_cp_and_tty_over_plain_spdy(
    streaming: Streaming, blocked: str, tmp_path: Path
) -> None:
    """What kubectl before 1.30 speaks, and 1.33 with its WebSocket executor turned off."""
    env = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}
    res = streaming.kubectl("1.33", "exec", "-i", "shell", "--", "sh", "-c",
                            "cat; echo err >&2; exit 5", input="over spdy\n", env=env,
                            check=False)  # fmt: skip
    assert (res.returncode, res.stdout, res.stderr.strip()) == (
        5, "over spdy\n", "err\ncommand terminated with exit code 5")  # fmt: skip
    # the kubelet's errors as they are, without the translator's wrapping
    res = streaming.kubectl("1.33", "exec", "shell", "--", "no-such-command", env=env,
                            check=False)  # fmt: skip
    assert res.returncode == 1
    assert re.fullmatch("error: Internal error occurred: " + NO_SUCH_COMMAND,
                        res.stderr.strip()), res.stderr  # fmt: skip
    res = streaming.kubectl("1.33", "exec", blocked, "-c", "c", "--", "true", env=env,
                            check=False)  # fmt: skip
    assert (res.returncode, res.stderr.strip()) == (
        1, 'error: unable to upgrade connection: container not found ("c")')  # fmt: skip
    (tmp_path / "f").write_text("copied\n")
    streaming.kubectl("1.33", "cp", str(tmp_path / "f"), "shell:/tmp/spdy-f", env=env)
    assert streaming.kubectl("1.33", "exec", "shell", "--", "cat", "/tmp/spdy-f",
                             env=env).stdout == "copied\n"  # fmt: skip
    old = "1.29" if kubectl_binary("1.29") else "1.33"
    t = Terminal(streaming.argv(old, "exec", "-it", "shell", "--", "sh"), 30, 90, env)
    try:
        t.expect(b"# ")
        t.send(b"stty size\r")
        t.expect(b"30 90")
        t.resize(33, 99)
        t.send(b"stty size; exit 2\r")
        t.expect(b"33 99")
        assert t.wait() == 2, t.output
    finally:
        t.kill()


def _base64_socket(
    streaming: Streaming, path: str, protocol: str = "v4.base64.channel.k8s.io"
) -> Any:
    """A WebSocket to ``path`` asking only for ``protocol`` (by default
    ``v4.base64.channel.k8s.io``, what clients that can send only text use), authenticated
    as the kubeconfig's admin."""
    import ssl

    import websocket
    from kubernetes import config

    conf = config.new_client_from_config(str(streaming.kubeconfig)).configuration
    url = conf.host.replace("https://", "wss://") + path
    return websocket.create_connection(
        url, subprotocols=[protocol], timeout=20,
        sslopt={"certfile": conf.cert_file, "keyfile": conf.key_file,
                "ca_certs": conf.ssl_ca_cert, "cert_reqs": ssl.CERT_REQUIRED},
    )  # fmt: skip


def test_error_channel_status_over_v5_and_v4(streaming: Streaming, blocked: str) -> None:
    """The ``Status`` a client reads: under v5 (the ``kubernetes`` client 32+, kubectl
    1.30+) what the API server's stream translator writes; under v4 the kubelet's own
    (containerd's ``error executing command [argv], exit code N``)."""
    import websocket
    from kubernetes import client, config
    from kubernetes.stream import stream

    api = client.CoreV1Api(config.new_client_from_config(str(streaming.kubeconfig)))
    ws = stream(api.connect_get_namespaced_pod_exec, "shell", "default",
                command=["sh", "-c", "exit 5"], stderr=True, stdin=False, stdout=True,
                tty=False, _preload_content=False)  # fmt: skip
    ws.run_forever(timeout=20)
    assert ws.subprotocol == "v5.channel.k8s.io"
    causes = {"causes": [{"reason": "ExitCode", "message": "5"}]}
    assert json.loads(ws.read_channel(3)) == {
        "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode", "details": causes,
        "message": "command terminated with non-zero exit code: command terminated with "
        "exit code 5",
    }  # fmt: skip
    ws.close()

    path = "/api/v1/namespaces/default/pods/{}/exec?command=sh&command=-c&command=exit+5"
    sock = _base64_socket(streaming, path.format("shell") + "&stdout=true",
                          "v4.channel.k8s.io")  # fmt: skip
    try:
        while (msg := sock.recv()) and msg[0] != 3:
            pass
    finally:
        sock.close()
    assert json.loads(msg[1:]) == {
        "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode", "details": causes,
        "message": "command terminated with non-zero exit code: error executing command "
        "[sh -c exit 5], exit code 5",
    }  # fmt: skip
    # a container that is not running: the kubelet's answer, passed on as it is
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        _base64_socket(streaming, path.format(blocked) + "&container=c&stdout=true",
                       "v4.channel.k8s.io")  # fmt: skip
    assert refused.value.status_code == 500
    assert refused.value.resp_body.strip() == b'container not found ("c")'


def test_exec_over_base64_channels(streaming: Streaming) -> None:
    import base64

    ws = _base64_socket(
        streaming, "/api/v1/namespaces/default/pods/shell/exec?command=sh&command=-c"
        "&command=read+x%3B+echo+out:$x%3B+echo+err+>%262%3B+exit+3"
        "&stdin=true&stdout=true&stderr=true",
    )  # fmt: skip
    try:
        assert ws.subprotocol == "v4.base64.channel.k8s.io"
        ws.send("0" + base64.b64encode(b"hello\n").decode())
        got: dict[str, bytes] = {}
        while True:
            msg = ws.recv()
            if not msg:
                break
            assert isinstance(msg, str), msg  # text messages only
            got[msg[0]] = got.get(msg[0], b"") + base64.b64decode(msg[1:])
            if "3" in got:
                break
    finally:
        ws.close()
    assert got["1"] == b"out:hello\n"
    assert got["2"] == b"err\n"
    status = json.loads(got["3"])
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
