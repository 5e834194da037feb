#!/usr/bin/env bash
# make arm-native-test: cross-compiles the aarch64 micro-kernels and the standalone harness
# (kernels/tests_native/) statically, then runs it under qemu-aarch64-static three times:
# the default CPU model, QEMU_CPU=max (asimd + dotprod + i8mm: every tier) and
# QEMU_CPU=cortex-a72 (asimd only: the harness must skip dotprod and i8mm there, through the
# same getauxval detection the library uses).  QEMU checks correctness, never speed.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash ci/armmodel/tools.sh native
source ci/armmodel/flags.sh
out=build/arm-native
mkdir -p "$out"
compile() {  # src obj march
  if [ ! -f "$2" ] || [ "$1" -nt "$2" ] || [ kernels/src/arm/common.h -nt "$2" ] \
     || [ kernels/include/lowbit/kernel.h -nt "$2" ] || [ kernels/src/arm/tiers.h -nt "$2" ] \
     || [ ci/armmodel/flags.sh -nt "$2" ]; then
    $ARM_CXX $ARM_CXXFLAGS $3 -c "$1" -o "$2"
  fi
}
compile kernels/src/arm/neon.cpp "$out/neon.o" "$ARM_MARCH_neon" &
compile kernels/src/arm/dotprod.cpp "$out/dotprod.o" "$ARM_MARCH_dotprod" &
wait
compile kernels/src/arm/i8mm.cpp "$out/i8mm.o" "$ARM_MARCH_i8mm" &
compile kernels/src/cpu_arm.cpp "$out/cpu_arm.o" "$ARM_MARCH_neon" &
wait
compile kernels/tests_native/test_arm_kernels.cpp "$out/test.o" "$ARM_MARCH_neon"
$ARM_CXX -static "$out"/{neon,dotprod,i8mm,cpu_arm,test}.o -o "$out/test_arm_kernels"
status=0
for cpu in default max cortex-a72; do
  echo "== qemu-aarch64-static, QEMU_CPU=$cpu"
  if [ "$cpu" = default ]; then
    env -u QEMU_CPU qemu-aarch64-static "$out/test_arm_kernels" || status=1
  else
    QEMU_CPU=$cpu qemu-aarch64-static "$out/test_arm_kernels" || status=1
  fi
done
exit $status
