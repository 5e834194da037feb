#!/usr/bin/env bash
# `make arm-test`: build the arm64 image and run the whole pytest suite in it under QEMU
# (the tests see uname -m = aarch64; QEMU's default CPU model "max" has every tier), then
# the onnxruntime peers' exactness checks on their own (tests/test_arm_peers.py, listed one
# by one), then the dispatch tests again under older CPU models (LOWBIT_ARM_QEMU_CPUS): cortex-a72 has
# only ASIMD, so dispatch must pick `neon`; neoverse-n1 would add dotprod without i8mm.
#
# LOWBIT_TEST_PROFILE=emulated lightens the suite under emulation (~30x slower than native).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
lowbit_docker=${LOWBIT_DOCKER:-lowbit-docker}
# pytest arguments selecting the tests that check tier detection and dispatch.
read -ra dispatch_tests <<<"${LOWBIT_ARM_DISPATCH_TESTS:-tests/test_api.py}"
read -ra qemu_cpus <<<"${LOWBIT_ARM_QEMU_CPUS:-cortex-a72}"

# Leave no daemon behind that this run started, whether it passes or fails.
trap '"$here/dockerd.sh" stop' EXIT
start=$SECONDS
"$here/image.sh" arm64
t_image=$SECONDS
log "pytest in lowbit:arm64 (default QEMU CPU model: every tier QEMU implements)"
$lowbit_docker test --platform linux/arm64 --profile emulated
t_full=$SECONDS
# The onnxruntime peers (aarch64 wheels) once more on their own, every check listed: the
# log shows them passing in the image (exactness only; no timing under QEMU).
log "onnxruntime peers' exactness checks in lowbit:arm64"
$lowbit_docker test --platform linux/arm64 --profile emulated -- tests/test_arm_peers.py -rA
t_peers=$SECONDS
for cpu in "${qemu_cpus[@]}"; do
  log "dispatch tests with QEMU_CPU=$cpu"
  $lowbit_docker test --platform linux/arm64 --profile emulated --qemu-cpu "$cpu" -- "${dispatch_tests[@]}"
done
log "arm-test passed: image $((t_image - start)) s, suite $((t_full - t_image)) s," \
    "peers $((t_peers - t_full)) s, dispatch under ${qemu_cpus[*]} $((SECONDS - t_peers)) s," \
    "total $((SECONDS - start)) s"
