#!/usr/bin/env bash
# Drive upstream's bash "test-cmd" suite (an unpacked kubernetes source tree, from Debian's
# `apt-get source kubernetes`; see fetch-source.sh) against any API server on
# https://127.0.0.1:$SECURE_API_PORT that accepts the token `admin-token` as an admin.
# No Go, no make, no etcd: legacy-script.sh's setup() is replaced below. Nothing is written into
# the source tree: kubectl is put on PATH through a private directory, temp files go to $TMPDIR.
#   KUBE_ROOT=/path/kubernetes-1.20.2 KUBECTL_BIN=$(command -v kubectl.1.32) \
#   SECURE_API_PORT=6443 WHAT="pod rc" conformance/run-test-cmd.sh     (WHAT empty: everything)
set -o errexit -o nounset -o pipefail
: "${KUBE_ROOT:?}" "${KUBECTL_BIN:?}"
export SECURE_API_PORT=${SECURE_API_PORT:-6443} ALLOW_SKEW=${ALLOW_SKEW:-1}
export TMPDIR=${TMPDIR:-$(mktemp -d)}
export KUBE_JUNIT_REPORT_DIR=${KUBE_JUNIT_REPORT_DIR:-$TMPDIR/junit}
mkdir -p "$KUBE_JUNIT_REPORT_DIR"
cd "$KUBE_ROOT"
source hack/lib/init.sh
source hack/lib/test.sh
source test/cmd/legacy-script.sh
BIN_DIR=$(mktemp -d)
# kubectl through a shim: a backgrounded `kubectl proxy` must not inherit the pipe fds of
# shell2junit's tee (a function failing before stop-proxy would otherwise hang the run)
printf '#!/bin/bash\n[[ ${1-} == proxy ]] && exec 3>&- 4>&- 5>&-\nexec %q "$@"\n' \
  "$KUBECTL_BIN" >"$BIN_DIR/kubectl"
chmod +x "$BIN_DIR/kubectl"
if [[ -n "${KUBECTL_CONVERT_BIN:-}" ]]; then ln -s "$KUBECTL_CONVERT_BIN" "$BIN_DIR/kubectl-convert"; fi
export KUBE_OUTPUT_HOSTBIN=$BIN_DIR PATH="$BIN_DIR:$PATH"
# run_kubectl_config_set_tests reads $TMPDIR/apiserver.crt: any PEM certificate will do
[[ -f $TMPDIR/apiserver.crt ]] || cp hack/testdata/ca.crt "$TMPDIR/apiserver.crt"
setup() {
  kube::util::trap_add cleanup EXIT SIGINT
  kube::util::ensure-temp-dir
  HOME="${KUBE_TEMP}"
  kube::util::ensure-gnu-sed
  CONTEXT="test"
  kubectl config set-credentials test-admin --token admin-token
  kubectl config set-cluster local --insecure-skip-tls-verify --server "https://127.0.0.1:${SECURE_API_PORT}"
  kubectl config set-context "${CONTEXT}" --user test-admin --cluster local
  kubectl config use-context "${CONTEXT}"
}
# every recorded function reachable as WHAT=<stem> (runTests calls run_<stem>_tests)
run_secrets_test_tests() { run_secrets_test; }
run_kubectl_diff_same_names_tests() { run_kubectl_diff_same_names; }
setup
export SUPPORTED_RESOURCES=("*")
export WHAT=${WHAT:-}
runTests
