#!/usr/bin/env bash
# The aarch64 native tests are CMake/ctest targets now (cmake/native-tests.cmake): the
# harnesses are built from the tier table's sources and flags and run under
# qemu-aarch64-static once per QEMU CPU model.  Kept so existing callers keep working.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec make arm-native-test
