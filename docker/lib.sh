# Shared helpers for the docker/*.sh scripts (sourced, not executed).

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "$1 needs root (debootstrap, binfmt_misc and dockerd do)"
}

# Install Debian packages on the host only when a command they provide is missing.
# Usage: ensure_host_pkgs cmd:pkg [cmd:pkg ...]
ensure_host_pkgs() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  need_root "installing ${missing[*]}"
  log "installing host packages: ${missing[*]}"
  # Other users of the machine may hold the dpkg lock: wait for it instead of failing.
  local apt=(apt-get -q -o DPkg::Lock::Timeout=900)
  # An empty package cache means `apt-get update` never ran on this machine.
  if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
    "${apt[@]}" update >&2
  fi
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2 \
    || { "${apt[@]}" update >&2 &&
         DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2; }
}

# Debian codename of the host (the rootfs uses the same release).
host_codename() { . /etc/os-release && echo "${VERSION_CODENAME:?}"; }
