#!/usr/bin/env bash
# Everything from a fresh machine to the image lowbit:ARCH, each step skipped when done:
# rootfs (debootstrap), host build of the extension + staged context, offline base image
# (docker import of the rootfs), image build through lowbit-docker (docker SDK).
#
#   docker/image.sh arm64          # LOWBIT_DOCKER names the lowbit-docker command
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"

[ $# -eq 1 ] || die "usage: $0 ARCH"
arch=$1
cd "$repo"
rootfs=.cache/rootfs-$arch
lowbit_docker=${LOWBIT_DOCKER:-lowbit-docker}

t0=$SECONDS
log "[1/4] rootfs ($arch)"
"$here/make-rootfs.sh" "$arch" "$rootfs"
t1=$SECONDS
log "[2/4] host build of lowbit._core for $arch"
"$here/build-stage.sh" "$arch" "$rootfs" ".cache/stage-$arch"
t2=$SECONDS
log "[3/4] base image"
base=$("$here/import-base.sh" "$arch" "$rootfs")
t3=$SECONDS
log "[4/4] image lowbit:$arch"
$lowbit_docker build --platform "linux/$arch" --base-image "$base"
log "lowbit:$arch ready: rootfs $((t1 - t0)) s, build $((t2 - t1)) s, base $((t3 - t2)) s, image $((SECONDS - t3)) s"
