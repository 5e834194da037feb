#!/usr/bin/env bash
# Build lowbit._core for ARCH on the host and stage it as a Docker build context.
#
#   docker/build-stage.sh arm64 .cache/rootfs-arm64 .cache/stage-arm64
#
# arm64 is cross-compiled (cmake/aarch64-toolchain.cmake, the rootfs as sysroot); amd64 is
# a native build against the rootfs' Python.  Incremental: the CMake build dir persists.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"

[ $# -eq 3 ] || die "usage: $0 ARCH ROOTFS STAGE_DIR"
arch=$1 rootfs=$(realpath "$2") stage=$3
build=${LOWBIT_DOCKER_BUILD_DIR:-$repo/build/docker-$arch}
[ -f "$rootfs/.lowbit-rootfs" ] || die "no rootfs at $rootfs: run docker/make-rootfs.sh $arch $2"

ensure_host_pkgs cmake:cmake ninja:ninja-build
python=("$rootfs/usr/bin/python3")
case "$arch" in
  arm64)
    ensure_host_pkgs aarch64-linux-gnu-g++:g++-aarch64-linux-gnu
    "$here/binfmt.sh"
    machine=aarch64
    cmake_args=(--toolchain "$repo/cmake/aarch64-toolchain.cmake" -DLOWBIT_SYSROOT="$rootfs")
    python=(env QEMU_LD_PREFIX="$rootfs" "${python[@]}")
    ;;
  amd64)
    machine=x86_64
    cmake_args=(-DPython_EXECUTABLE="$rootfs/usr/bin/python3" -DPython3_EXECUTABLE="$rootfs/usr/bin/python3"
                -DPYTHON_EXECUTABLE="$rootfs/usr/bin/python3")
    ;;
  *) die "unsupported ARCH '$arch'" ;;
esac
ext_suffix=$("${python[@]}" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')

start=$SECONDS
log "configuring $arch build in $build (target suffix $ext_suffix)"
# The same pybind11 as the host build (make passes the venv's); else the sysroot's.
if [ -n "${LOWBIT_PYBIND11_DIR:-}" ]; then cmake_args+=(-Dpybind11_DIR="$LOWBIT_PYBIND11_DIR"); fi
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${cmake_args[@]}" >&2
log "compiling ($arch, ${JOBS:-2} jobs)"
cmake --build "$build" --parallel "${JOBS:-2}" >&2
mapfile -t exts < <(find "$build" -name "_core$ext_suffix" -type f)
[ ${#exts[@]} -eq 1 ] || die "expected one _core$ext_suffix under $build, found ${#exts[@]}"
log "built ${exts[0]#"$repo"/} in $((SECONDS - start)) s"
# The onnxruntime peers, from the target's wheels (docker/peers.sh); LOWBIT_PEERS=0 skips.
peers=()
if [ "${LOWBIT_PEERS:-1}" != 0 ]; then
  pyver=$(sed -E 's/^\.cpython-([0-9]+)-.*/\1/' <<<"$ext_suffix")
  "$here/peers.sh" "$arch" "$pyver" "$repo/.cache/peers-$arch"
  peers=(--peers "$repo/.cache/peers-$arch")
fi
python3 "$here/stage.py" --ext "${exts[0]}" --ext-suffix "$ext_suffix" --machine "$machine" \
  "${peers[@]}" "$stage"
