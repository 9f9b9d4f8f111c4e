#!/usr/bin/env bash
# Build (once) the reference control plane the benchmarks compare pyk8s with: upstream's
# kube-apiserver and kube-controller-manager v1.20.2, from Debian's `kubernetes` source package,
# into a cache directory outside the repository; print the directory holding the two binaries.
# Nothing of upstream is ever committed. Idempotent: when the binaries are cached it only prints
# the path. ~10 min on 2 cores the first time.
#
#   PYK8S_REF_CACHE   cache dir (default /var/cache/pyk8s-ref as root,
#                     else ${XDG_CACHE_HOME:-~/.cache}/pyk8s-ref); binaries land in $cache/bin
#   --check           print the bin dir if the binaries are cached, else exit 1 (never builds)
#
# Recipe (see ../shared/reference/README.md): the source tarball comes from
# conformance/fetch-source.sh (apt-get source kubernetes); Go 1.19 and reflect2 1.0.2 from
# Debian (golang-1.19-go, golang-github-modern-go-reflect2-dev, installed here when missing);
# the vendored reflect2 1.0.1 is swapped for Debian's 1.0.2 (else the apiserver crashes with
# "fatal error: fault" on the first custom-resource write under Go >= 1.18); then
# `make WHAT="cmd/kube-apiserver cmd/kube-controller-manager"` with GOPROXY=off, CGO_ENABLED=0.
set -o errexit -o nounset -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
if [[ -n "${PYK8S_REF_CACHE:-}" ]]; then
  cache=$PYK8S_REF_CACHE
elif [[ $(id -u) -eq 0 ]]; then
  cache=/var/cache/pyk8s-ref
else
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/pyk8s-ref
fi
bin=$cache/bin
if [[ -x $bin/kube-apiserver && -x $bin/kube-controller-manager ]]; then
  echo "$bin"
  exit 0
fi
[[ "${1:-}" == --check ]] && exit 1
log() { echo "[build-reference] $*" >&2; }

# 1. toolchain from Debian (only what is missing)
wanted=(golang-1.19-go golang-github-modern-go-reflect2-dev rsync)
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi
goroot=/usr/lib/go-1.19
[[ -x $goroot/bin/go ]] || { log "no Go 1.19 in $goroot"; exit 1; }

# 2. a private copy of the source tree (the build writes _output/ and generated files into it)
upstream=$("$repo/conformance/fetch-source.sh")
gopath=$cache/gopath
src=$gopath/src/k8s.io/kubernetes
mkdir -p "$cache" "$gopath/src/k8s.io"
if [[ ! -f $src/.pyk8s-prepared ]]; then
  log "copying $upstream to $src"
  rm -rf "$src"
  mkdir -p "$src"
  rsync -a "$upstream/" "$src/"
  r2=$src/vendor/github.com/modern-go/reflect2
  rm -rf "$r2" && mkdir -p "$r2"
  cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go "$r2/"
  cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.s "$r2/" 2>/dev/null || true
  rm -f "$r2"/*_test.go
  touch "$src/.pyk8s-prepared"
fi

# 3. build
log "building kube-apiserver and kube-controller-manager (GOPATH=$gopath; ~10 min on 2 cores)"
(
  cd "$src"
  export PATH=$goroot/bin:$PATH GOPATH=$gopath GOCACHE=$cache/gocache GOPROXY=off CGO_ENABLED=0
  make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >&2
)
mkdir -p "$bin.tmp"
out=$src/_output/bin
[[ -x $out/kube-apiserver ]] || out=$src/_output/local/bin/linux/amd64
cp "$out/kube-apiserver" "$out/kube-controller-manager" "$bin.tmp/"
rm -rf "$bin"
mv "$bin.tmp" "$bin"
log "done: $bin"
echo "$bin"
