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
rootfs_tar() {
  tar -C "$rootfs" --numeric-owner --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -c .
}
log "importing $rootfs as $tag"
start=$SECONDS
imported=$(rootfs_tar | docker import --platform "linux/$arch" \
    --change "LABEL lowbit.rootfs=$want" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - "$tag")
got=$(docker image inspect -f '{{.Architecture}}' "$tag")
if [ "$got" != "$arch" ]; then
  # Docker < 23 ignores --platform on import and labels the image with the daemon's own
  # architecture, so `docker build --platform linux/$arch` would not accept it as a base.
  # A FROM-scratch build does take the platform: same rootfs, correct label.
  log "daemon labelled the import $got: rebuilding $tag FROM scratch for linux/$arch"
  ctx="$(dirname "$rootfs")/base-$arch"
  rm -rf "$ctx" && mkdir -p "$ctx"
  rootfs_tar >"$ctx/rootfs.tar"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
ADD rootfs.tar /
LABEL lowbit.rootfs=$want
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["/bin/bash"]
DOCKERFILE
  DOCKER_BUILDKIT=0 docker build -q --platform "linux/$arch" -t "$tag" "$ctx" >&2
  rm -rf "$ctx"
  docker rmi "$imported" >/dev/null
  got=$(docker image inspect -f '{{.Architecture}}' "$tag")
  [ "$got" = "$arch" ] || die "$tag is labelled $got, not $arch"
fi
log "imported $tag in $((SECONDS - start)) s"
echo "$tag"
