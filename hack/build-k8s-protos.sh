#!/usr/bin/env bash
# Builds the protobuf descriptor set of Kubernetes' API types, which the API server
# needs to decode the protobuf request bodies kubectl >= 1.32 sends.
#
# The .proto files are upstream's (k8s.io/api and k8s.io/apimachinery generated.proto, and
# gnostic's OpenAPIv2.proto for the protobuf /openapi/v2 kubectl asks for), taken from
# Debian trixie's golang-k8s-api-dev, golang-k8s-apimachinery-dev and
# golang-github-google-gnostic-models-dev
# (apt-get download with a private apt state dir: nothing installed, nothing committed)
# and compiled by grpcio-tools' protoc (from PyPI, into a temporary dir) into one
# FileDescriptorSet: $PYK8S_CACHE_DIR/k8s-proto/descriptors.pb (default cache dir
# ~/.cache/pyk8s). Idempotent: does nothing when the file exists.
#
# From the same Go sources (k8s.io/api's types.go files) it derives the enum values
# kube-apiserver's OpenAPI documents list for fields of `+enum` types (kubectl explain's ENUM
# blocks): $PYK8S_CACHE_DIR/k8s-proto/enums.json, and the fields each type's Go zero value
# holds (managedFields need them): zerofields.json, and how encoding/json writes each field
# (omitempty, pointers; objects are stored as upstream encodes them): gofields.json, by
# pyk8s/apiserver/openapi_enums.py.
#
# usage: hack/build-k8s-protos.sh [PYTHON]
set -euo pipefail
python=${1:-python3}
[[ "$python" == */* ]] && python=$(realpath -s "$python")
cache=${PYK8S_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pyk8s}
out="$cache/k8s-proto"
# Bump when the set of .proto files changes, so existing caches are rebuilt.
set_version=2
# Bump when the enum derivation changes.
enums_version=3
need_protos=1 need_enums=1
[ -s "$out/descriptors.pb" ] && [ "$(cat "$out/VERSION" 2>/dev/null)" = "$set_version" ] && need_protos=0
[ -s "$out/enums.json" ] && [ "$(cat "$out/ENUMS_VERSION" 2>/dev/null)" = "$enums_version" ] && need_enums=0
[ "$need_protos$need_enums" = 00 ] && exit 0
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/apt/{state/lists/partial,cache/archives/partial,etc/sources.list.d,etc/preferences.d} \
  "$work/debs" "$work/src" "$work/protoc"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
  > "$work/apt/etc/sources.list"
apt_opts=(
  -o "Dir::State=$work/apt/state" -o "Dir::Cache=$work/apt/cache"
  -o "Dir::Etc::SourceList=$work/apt/etc/sources.list"
  -o "Dir::Etc::SourceParts=$work/apt/etc/sources.list.d"
  -o "Dir::Etc::Preferences=$work/apt/etc/preferences"
  -o "Dir::Etc::PreferencesParts=$work/apt/etc/preferences.d"
  -o Debug::NoLocking=1 -o APT::Sandbox::User=root
)
echo "fetching Kubernetes .proto files (Debian trixie golang-k8s-api-dev, golang-k8s-apimachinery-dev)"
apt-get "${apt_opts[@]}" update -qq
(cd "$work/debs" && apt-get "${apt_opts[@]}" download -qq golang-k8s-api-dev \
  golang-k8s-apimachinery-dev golang-github-google-gnostic-models-dev)
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/src"; done
src="$work/src/usr/share/gocode/src"
mkdir -p "$out"
if [ "$need_enums" = 1 ]; then
  PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" "$python" -m pyk8s.apiserver.openapi_enums \
    "$src" "$work/enums.json" "$work/zerofields.json" "$work/gofields.json"
  mv "$work/zerofields.json" "$out/zerofields.json"
  mv "$work/gofields.json" "$out/gofields.json"
  mv "$work/enums.json" "$out/enums.json"
  echo "$enums_version" > "$out/ENUMS_VERSION"
fi
[ "$need_protos" = 1 ] || exit 0
"$python" -m pip install -q --disable-pip-version-check --no-deps --target "$work/protoc" \
  'grpcio-tools>=1.60,<2' 2>&1 | { grep -v '^WARNING: Location' || true; }
mapfile -t protos < <(cd "$src" && find k8s.io -name generated.proto | grep -v testapigroup | sort)
# The OpenAPI v2 document kubectl reads as protobuf (gnostic's OpenAPIv2.proto).
protos+=(github.com/google/gnostic-models/openapiv2/OpenAPIv2.proto)
(cd "$src" && PYTHONPATH="$work/protoc" "$python" -m grpc_tools.protoc -I. --include_imports \
  --descriptor_set_out="$work/descriptors.pb" "${protos[@]}" 2>&1 | { grep -v 'warning: Import' || true; })
ls "$work"/debs/*.deb | xargs -n1 basename > "$work/SOURCES"
mv "$work/SOURCES" "$out/SOURCES"
mv "$work/descriptors.pb" "$out/descriptors.pb"
echo "$set_version" > "$out/VERSION"
echo "built $out/descriptors.pb from ${#protos[@]} .proto files"
