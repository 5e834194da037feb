# Toolchain of the aarch64 native tests (cmake/native-tests.cmake): Debian's
# g++-aarch64-linux-gnu, static executables (no sysroot needed), run by ctest under
# qemu-aarch64-static (ci/armmodel/tools.sh native installs both).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
find_program(LOWBIT_QEMU_AARCH64 qemu-aarch64-static REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${LOWBIT_QEMU_AARCH64})
