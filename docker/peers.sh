#!/usr/bin/env bash
# The onnxruntime peers (MatMulInteger; MatMulNBits, KleidiAI on arm64) for the image of
# ARCH, from the registry's binary wheels for that platform: nothing is compiled, nothing
# runs under emulation.  The wheels are fetched without dependencies and the list below is
# the whole closure, versions pinned.  numpy 2 comes along: onnxruntime's wheels are built
# against numpy 2 and fail to import with the rootfs' numpy 1.24 (the peers' folder is
# ahead of it on PYTHONPATH).  onnxruntime 1.22.1: 1.32.0's aarch64 wheel crashes on import
# under QEMU 7.2 (SIGSEGV in its native module), so it could not be checked here.
#
#   docker/peers.sh arm64 311 .cache/peers-arm64
#
# Wheels are kept in .cache/wheels-ARCH (reruns work offline); the installed tree in DIR
# is rebuilt only when the list changes.  LOWBIT_PIP names pip (default: python3 -m pip).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ $# -eq 3 ] || die "usage: $0 ARCH PYVER(e.g. 311) DIR"
arch=$1 pyver=$2 dir=$3
case "$arch" in
  arm64) machine=aarch64 ;;
  amd64) machine=x86_64 ;;
  *) die "unsupported ARCH '$arch'" ;;
esac
wheels=(onnxruntime==1.22.1 onnx==1.23.2 numpy==2.2.6 protobuf==7.36.2 ml_dtypes==0.5.4
        flatbuffers==25.12.19 packaging==26.4 typing_extensions==4.16.0)
read -ra pip <<<"${LOWBIT_PIP:-python3 -m pip}"
stamp_text="$arch cp$pyver ${wheels[*]}"
if [ -f "$dir/.lowbit-peers" ] && [ "$(cat "$dir/.lowbit-peers")" = "$stamp_text" ]; then
  log "peers in $dir are up to date"
  exit 0
fi
target=(--only-binary=:all: --no-deps --python-version "$pyver" --implementation cp
        --abi "cp$pyver" --abi abi3 --abi none
        --platform "manylinux2014_$machine" --platform "manylinux_2_27_$machine"
        --platform "manylinux_2_28_$machine")
cache="$(dirname "$dir")/wheels-$arch"
log "peers for $arch: ${wheels[*]}"
"${pip[@]}" download -q -d "$cache" "${target[@]}" "${wheels[@]}" >&2
rm -rf "$dir.tmp"
"${pip[@]}" install -q --no-index --find-links "$cache" --target "$dir.tmp" "${target[@]}" \
  "${wheels[@]}" >&2
# Console scripts, caches and onnx's backend test data (15 MB) are of no use in the image.
rm -rf "$dir.tmp/bin" "$dir.tmp/onnx/backend/test/data"
find "$dir.tmp" -name __pycache__ -type d -prune -exec rm -rf {} +
echo "$stamp_text" >"$dir.tmp/.lowbit-peers"
rm -rf "$dir" && mv "$dir.tmp" "$dir"
log "peers installed in $dir ($(du -sh "$dir" | cut -f1))"
