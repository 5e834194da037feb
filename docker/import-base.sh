#!/usr/bin/env bash
# Make the offline base image lowbit-base:<release>-<arch> from a debootstrap rootfs
# (docker/make-rootfs.sh), for machines that cannot reach a registry.  Idempotent: the
# image is labelled with the rootfs stamp and re-imported only when the rootfs changed.
#
#   docker/import-base.sh arm64 .cache/rootfs-arm64
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ $# -eq 2 ] || die "usage: $0 ARCH ROOTFS"
arch=$1 rootfs=$2
stamp="$rootfs/.lowbit-rootfs"
[ -f "$stamp" ] || die "no rootfs at $rootfs: run docker/make-rootfs.sh $arch $rootfs"
tag="lowbit-base:$(host_codename)-$arch"
want=$(sha256sum "$stamp" | cut -c1-16)

"$here/dockerd.sh" start
have=$(docker image inspect -f '{{index .Config.Labels "lowbit.rootfs"}}' "$tag" 2>/dev/null || true)
if [ "$have" = "$want" ]; then
  log "$tag is up to date"
  echo "$tag"
  exit 0
fi
log "importing $rootfs as $tag"
start=$SECONDS
tar -C "$rootfs" --numeric-owner --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* -c . \
  | docker import --platform "linux/$arch" \
      --change "LABEL lowbit.rootfs=$want" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["/bin/bash"]' - "$tag" >&2
log "imported $tag in $((SECONDS - start)) s"
echo "$tag"
