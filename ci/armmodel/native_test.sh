#!/usr/bin/env bash
# make arm-native-test: cross-compiles the aarch64 micro-kernels and the standalone harness
# (kernels/tests_native/test_arm_kernels.cpp) and the end-to-end driver test
# (test_arm_driver.cpp, the library's packing and driver without Python) statically, then
# runs each under qemu-aarch64-static three times:
# the default CPU model, QEMU_CPU=max (asimd + dotprod + i8mm: every tier) and
# QEMU_CPU=cortex-a72 (asimd only: the harness must skip dotprod and i8mm there, through the
# same getauxval detection the library uses).  QEMU checks correctness, never speed.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash ci/armmodel/tools.sh native
source ci/armmodel/flags.sh
out=build/arm-native
mkdir -p "$out"
deps="kernels/src/arm/common.h kernels/include/lowbit/kernel.h kernels/src/arm/tiers.h
      kernels/src/internal.h kernels/src/tiers.def kernels/src/tiers.h ci/armmodel/flags.sh"
compile() {  # src obj flags...
  local src=$1 obj=$2 stale=0
  shift 2
  [ -f "$obj" ] || stale=1
  for f in "$src" $deps; do [ "$f" -nt "$obj" ] && stale=1; done
  if [ $stale = 1 ]; then $ARM_CXX $ARM_CXXFLAGS -DLOWBIT_ARCH_AARCH64 "$@" -c "$src" -o "$obj"; fi
}
# Two jobs at a time (the host is shared).
jobs=(
  "kernels/src/arm/neon.cpp $out/neon.o $ARM_MARCH_neon"
  "kernels/src/arm/dotprod.cpp $out/dotprod.o $ARM_MARCH_dotprod"
  "kernels/src/arm/i8mm.cpp $out/i8mm.o $ARM_MARCH_i8mm"
  "kernels/src/cpu_arm.cpp $out/cpu_arm.o $ARM_MARCH_neon"
  "kernels/tests_native/test_arm_kernels.cpp $out/test_kernels.o $ARM_MARCH_neon"
  "kernels/tests_native/test_arm_driver.cpp $out/test_driver.o $ARM_MARCH_neon"
)
for lib in formats pack driver registry scalar; do
  jobs+=("kernels/src/$lib.cpp $out/$lib.o $ARM_MARCH_neon")
done
for ((i = 0; i < ${#jobs[@]}; i += 2)); do
  compile ${jobs[i]} &
  if [ $((i + 1)) -lt ${#jobs[@]} ]; then compile ${jobs[i + 1]} & fi
  wait
done
tiers="$out/neon.o $out/dotprod.o $out/i8mm.o $out/cpu_arm.o"
$ARM_CXX -static $tiers "$out/formats.o" "$out/scalar.o" "$out/test_kernels.o" -o "$out/test_arm_kernels"
$ARM_CXX -static -pthread $tiers "$out"/{formats,pack,driver,registry,scalar}.o "$out/test_driver.o" \
  -o "$out/test_arm_driver"
status=0
# The driver test skips the default CPU model: in QEMU 7.2 it is `max` again.
for test in test_arm_kernels test_arm_driver; do
  cpus="default max cortex-a72"
  [ $test = test_arm_driver ] && cpus="max cortex-a72"
  for cpu in $cpus; do
    echo "== $test: qemu-aarch64-static, QEMU_CPU=$cpu"
    if [ "$cpu" = default ]; then
      env -u QEMU_CPU qemu-aarch64-static "$out/$test" || status=1
    else
      QEMU_CPU=$cpu qemu-aarch64-static "$out/$test" || status=1
    fi
  done
done
exit $status
