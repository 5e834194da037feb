#!/usr/bin/env bash
# Make aarch64 binaries run on this x86-64 host: mount binfmt_misc if needed and register
# qemu-aarch64-static with the F flag (the kernel opens the emulator at registration, so it
# also works inside chroots and containers that do not contain it).  Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

bm=/proc/sys/fs/binfmt_misc
entry=$bm/qemu-aarch64
ensure_host_pkgs qemu-aarch64-static:qemu-user-static

if [ ! -e "$bm/register" ]; then
  need_root "mounting binfmt_misc"
  mount -t binfmt_misc binfmt_misc "$bm"
fi

if [ -e "$entry" ] && grep -q '^enabled' "$entry" && grep -q '^flags:.*F' "$entry"; then
  log "qemu-aarch64 already registered ($(grep '^interpreter' "$entry"))"
else
  need_root "registering qemu-aarch64"
  # An entry without F (or disabled) would not work inside containers: replace it.
  [ -e "$entry" ] && echo -1 >"$entry"
  magic='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
  mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
  printf ':qemu-aarch64:M::%s:%s:%s:F\n' "$magic" "$mask" "$(command -v qemu-aarch64-static)" \
    >"$bm/register"
  log "registered qemu-aarch64 -> $(command -v qemu-aarch64-static)"
fi
grep -q '^enabled' "$entry" && grep -q '^flags:.*F' "$entry" \
  || die "qemu-aarch64 is not registered in $bm with the F flag"
