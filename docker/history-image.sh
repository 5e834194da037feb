#!/usr/bin/env bash
# The image lowbit-history:ARCH: lowbit:ARCH (docker/image.sh) plus asv and the commit the
# image's files come from, so that `lowbit-docker history` records asv results for that
# commit inside the container (ci/README.md, "History").  The image has no git and no .git:
# asv reads the commit's hash and date from /opt/lowbit/asv-commit.json through
# ci/asv_history.py's "lowbit-pinned" repository plugin.
#
#   docker/history-image.sh arm64          # LOWBIT_DOCKER names the lowbit-docker command
#
# asv's dependencies come from the registry's wheels for the image's platform (as the peers
# of docker/peers.sh: nothing is compiled, nothing runs under emulation).  asv itself has no
# linux-aarch64 wheel on the registry (only x86-64, i686 and macOS ones): its Python code is
# taken from the x86-64 abi3 wheel without its one extension, _rangemedian, which is
# optional (asv.step_detect falls back to Python) and only used by `asv publish`, which
# runs on the host.  Wheels are kept in .cache/wheels-asv-ARCH; the tree in .cache/asv-ARCH
# is rebuilt only when the list changes.  LOWBIT_PIP names pip (default: python3 -m pip).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"

[ $# -eq 1 ] || die "usage: $0 ARCH"
arch=$1
case "$arch" in
  arm64) machine=aarch64 ;;
  amd64) machine=x86_64 ;;
  *) die "unsupported ARCH '$arch'" ;;
esac
cd "$repo"
lowbit_docker=${LOWBIT_DOCKER:-lowbit-docker}
read -ra pip <<<"${LOWBIT_PIP:-python3 -m pip}"
asv_wheel=asv==0.6.6
deps=(asv_runner==0.3.2 json5==0.17.3 build==1.6.1 tabulate==0.10.0 virtualenv==21.15.11
      packaging==26.4 importlib_metadata==10.2.0 pyyaml==6.0.4 pympler==1.1 distlib==0.4.4
      filelock==4.3.1 platformdirs==4.14.9 pyproject_hooks==1.3.3 python_discovery==1.9.6
      zipp==4.1.2 lazy_importer==0.1.0)
pyver=311
t0=$SECONDS

# 1. lowbit:ARCH from the current checkout (every step skipped when done).  The commit is
# taken before the files are staged; if HEAD moves or the tree changes meanwhile, the
# image's files are not that commit's and the commit file says dirty.
head=$(git rev-parse HEAD)
dirty=false
[ -z "$(git status --porcelain --untracked-files=no)" ] || dirty=true
"$here/image.sh" "$arch"
[ "$(git rev-parse HEAD)" = "$head" ] && [ -z "$(git status --porcelain --untracked-files=no)" ] \
  || dirty=true

# 2. asv and its dependencies for the image's platform.
dir=.cache/asv-$arch cache=.cache/wheels-asv-$arch
stamp_text="$arch cp$pyver $asv_wheel ${deps[*]}"
if [ -f "$dir/.lowbit-asv" ] && [ "$(cat "$dir/.lowbit-asv")" = "$stamp_text" ]; then
  log "asv for $arch in $dir is up to date"
else
  tags=(--only-binary=:all: --no-deps --python-version "$pyver" --implementation cp
        --abi "cp$pyver" --abi abi3 --abi none)
  target=("${tags[@]}" --platform "manylinux2014_$machine" --platform "manylinux_2_17_$machine"
          --platform "manylinux_2_28_$machine")
  asv_target=("${tags[@]}" --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64)
  log "asv for $arch: $asv_wheel ${deps[*]}"
  "${pip[@]}" download -q -d "$cache" "${target[@]}" "${deps[@]}" >&2
  "${pip[@]}" download -q -d "$cache" "${asv_target[@]}" "$asv_wheel" >&2
  rm -rf "$dir.tmp"
  "${pip[@]}" install -q --no-index --find-links "$cache" --target "$dir.tmp" "${target[@]}" \
    "${deps[@]}" >&2
  "${pip[@]}" install -q --no-index --find-links "$cache" --target "$dir.tmp" "${asv_target[@]}" \
    "$asv_wheel" >&2
  rm -rf "$dir.tmp/bin" "$dir.tmp"/asv/_rangemedian*.so
  find "$dir.tmp" -name __pycache__ -type d -prune -exec rm -rf {} +
  echo "$stamp_text" >"$dir.tmp/.lowbit-asv"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  log "asv installed in $dir ($(du -sh "$dir" | cut -f1))"
fi

# 3. The build context: asv, the commit of the files staged in step 1, the Dockerfile.
ctx=.cache/history-$arch
rm -rf "$ctx.tmp" && mkdir -p "$ctx.tmp"
cp -a "$dir" "$ctx.tmp/asv"
printf '{"commit": "%s", "date_ms": %s000, "dirty": %s}\n' \
  "$head" "$(git log -1 --format=%at "$head")" "$dirty" >"$ctx.tmp/asv-commit.json"
cp "$here/Dockerfile.history" "$ctx.tmp/Dockerfile"
rm -rf "$ctx" && mv "$ctx.tmp" "$ctx"
$dirty && log "warning: the checkout changed or has uncommitted changes; lowbit-docker" \
  "history refuses this image unless --allow-dirty"

# 4. The image.
$lowbit_docker build --platform "linux/$arch" --context "$ctx" --image "lowbit-history:$arch" \
  --base-image "lowbit:$arch"
log "lowbit-history:$arch ready in $((SECONDS - t0)) s"
