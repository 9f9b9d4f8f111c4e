#!/usr/bin/env bash
# Download (once) and unpack Debian's `kubernetes` source package, which carries upstream's
# test/cmd suite (v1.20.2), into a cache directory outside the repository; print the tree's path.
# Nothing from it is ever committed. Idempotent: a second run only prints the path.
#
#   PYK8S_CONFORMANCE_CACHE  cache dir (default /var/cache/pyk8s-conformance as root,
#                            else ${XDG_CACHE_HOME:-~/.cache}/pyk8s-conformance)
#
# apt-get source needs deb-src entries: if none is configured, this writes
# /etc/apt/sources.list.d/pyk8s-debian-src.sources, a copy of debian.sources with
# "Types: deb" replaced by "Types: deb-src" (written only when absent, so re-runs change nothing),
# then runs apt-get update. Needs root for that step only, and dpkg-dev (hack/system-packages.txt).
set -o errexit -o nounset -o pipefail

if [[ -n "${PYK8S_CONFORMANCE_CACHE:-}" ]]; then
  cache=$PYK8S_CONFORMANCE_CACHE
elif [[ $(id -u) -eq 0 ]]; then
  cache=/var/cache/pyk8s-conformance
else
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/pyk8s-conformance
fi
tree=$cache/kubernetes-1.20.2
if [[ -f $tree/test/cmd/legacy-script.sh ]]; then
  echo "$tree"
  exit 0
fi
mkdir -p "$cache"

have_deb_src() {
  grep -rqsE '^\s*(Types:.*deb-src|deb-src\s)' /etc/apt/sources.list /etc/apt/sources.list.d/
}
sudo=""
[[ $(id -u) -ne 0 ]] && sudo=sudo
if ! ls "$cache"/kubernetes_*.orig.tar.gz >/dev/null 2>&1; then
  if ! have_deb_src; then
    src=/etc/apt/sources.list.d/debian.sources
    [[ -f $src ]] || { echo "no $src to derive deb-src entries from; add deb-src lines for Debian bookworm by hand" >&2; exit 1; }
    sed 's/^Types: deb$/Types: deb-src/' "$src" \
      | $sudo tee /etc/apt/sources.list.d/pyk8s-debian-src.sources >/dev/null
    $sudo apt-get update -qq >&2
  fi
  # apt-get source downloads into the current directory; it needs no root
  (cd "$cache" && apt-get source -qq --download-only kubernetes >&2) || {
    # sources lists may be stale (deb-src present but never fetched)
    $sudo apt-get update -qq >&2
    (cd "$cache" && apt-get source -qq --download-only kubernetes >&2)
  }
fi
orig=$(ls "$cache"/kubernetes_*.orig.tar.gz | head -1)
tmp=$(mktemp -d "$cache/unpack.XXXXXX")
tar -xzf "$orig" -C "$tmp"
top=$(ls "$tmp")
[[ -f $tmp/$top/test/cmd/legacy-script.sh ]] || { echo "$orig has no test/cmd/legacy-script.sh" >&2; rm -rf "$tmp"; exit 1; }
rm -rf "$tree"
mv "$tmp/$top" "$tree"
rmdir "$tmp"
echo "$tree"
