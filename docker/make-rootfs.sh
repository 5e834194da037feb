#!/usr/bin/env bash
# Build a Debian rootfs (same release as the host) for ARCH (arm64 or amd64) in DIR, with
# what the lowbit tests and benchmarks need at run time and python3-dev for cross-builds.
#
#   docker/make-rootfs.sh arm64 .cache/rootfs-arm64
#
# Idempotent: a stamp file records the release and package list; an up-to-date rootfs is
# left alone, a partial one (no stamp) is rebuilt.  A foreign architecture runs the
# second stage of debootstrap under qemu-user-static through binfmt_misc.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ $# -eq 2 ] || die "usage: $0 ARCH DIR"
arch=$1 dir=$2
case "$arch" in arm64|amd64) ;; *) die "unsupported ARCH '$arch' (arm64 or amd64)" ;; esac

suite=$(host_codename)
# Runtime of the test suite (numpy, pytest, hypothesis) and of the benchmarks
# (pytest-benchmark, tabulate, threadpoolctl, tqdm); python3-dev, pybind11 and libc6-dev
# make the arm64 rootfs the cross-compiler's sysroot.
packages=(python3 python3-dev python3-numpy python3-pybind11 python3-pytest python3-hypothesis
          python3-pytest-benchmark python3-tabulate python3-threadpoolctl python3-tqdm libc6-dev)
if [ -n "${LOWBIT_ROOTFS_EXTRA:-}" ]; then read -ra extra <<<"$LOWBIT_ROOTFS_EXTRA"; packages+=("${extra[@]}"); fi
stamp_text="$suite $arch ${packages[*]}"
stamp="$dir/.lowbit-rootfs"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_text" ]; then
  log "rootfs $dir is up to date ($suite/$arch)"
  exit 0
fi

need_root "$0"
ensure_host_pkgs debootstrap:debootstrap
host_arch=$(dpkg --print-architecture)
foreign=()
if [ "$arch" != "$host_arch" ]; then
  foreign=(--foreign)
  "$here/binfmt.sh"
fi

mirror=$(python3 "$here/apt_mirror.py" "$suite")
log "building $suite/$arch rootfs in $dir from $mirror (${#packages[@]} packages + deps)"
start=$SECONDS
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
include=$(IFS=,; echo "${packages[*]}")
debootstrap --variant=minbase --arch="$arch" --include="$include" "${foreign[@]}" \
  "$suite" "$dir" "$mirror" >&2
if [ ${#foreign[@]} -gt 0 ]; then
  log "second stage under qemu ($arch)"
  # binfmt_misc's F flag keeps the emulator open, so no qemu binary is copied into $dir.
  chroot "$dir" /debootstrap/debootstrap --second-stage >&2
fi
# Downloaded .debs and package lists are not needed in an image or sysroot.
chroot "$dir" apt-get clean
rm -rf "$dir"/var/lib/apt/lists/*
echo "$stamp_text" >"$stamp"
log "rootfs $dir ready in $((SECONDS - start)) s ($(du -sh "$dir" | cut -f1))"
