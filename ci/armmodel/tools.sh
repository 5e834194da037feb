#!/usr/bin/env bash
# Makes sure the host tools of the aarch64 targets exist: CMake (both configure the
# native-tests graph), the cross compiler, QEMU user mode and (for the cycle model) llvm-mca.
# Installs the Debian packages when missing and we are root; apt uses the machine's own
# sources, nothing about a mirror lives in this repo.
# Usage: tools.sh native|model
set -euo pipefail
need=(cmake:cmake g++-aarch64-linux-gnu:aarch64-linux-gnu-g++)
case "${1:-native}" in
  native) need+=(qemu-user-static:qemu-aarch64-static) ;;
  model) need+=(llvm-19:llvm-mca-19 qemu-user-static:qemu-aarch64-static) ;;  # qemu: the registry dump
  *) echo "usage: $0 native|model" >&2; exit 2 ;;
esac
missing=()
for pair in "${need[@]}"; do
  command -v "${pair#*:}" >/dev/null 2>&1 || missing+=("${pair%%:*}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing tools: ${missing[*]} (install these Debian packages)" >&2
  exit 1
fi
echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
