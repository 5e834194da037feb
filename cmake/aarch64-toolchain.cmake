# Cross-compile for aarch64 Linux with Debian's g++-aarch64-linux-gnu against the arm64
# rootfs made by docker/make-rootfs.sh (which holds the target's python3-dev and numpy).
#
#   cmake -S . -B build/aarch64 --toolchain cmake/aarch64-toolchain.cmake \
#         -DLOWBIT_SYSROOT=$PWD/.cache/rootfs-arm64
#
# The target's Python is interrogated (SOABI, include dirs) by running its own interpreter
# under qemu-user: only these few queries are emulated, never the compiler.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

if(NOT LOWBIT_SYSROOT)
  if(DEFINED ENV{LOWBIT_SYSROOT})
    set(LOWBIT_SYSROOT "$ENV{LOWBIT_SYSROOT}")
  else()
    get_filename_component(LOWBIT_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../.cache/rootfs-arm64" ABSOLUTE)
  endif()
endif()
if(NOT EXISTS "${LOWBIT_SYSROOT}/usr/bin/python3")
  message(FATAL_ERROR "No arm64 sysroot at ${LOWBIT_SYSROOT}: run `make arm-sysroot` first")
endif()
# Try-compile projects re-read this file: pass the sysroot on to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES LOWBIT_SYSROOT)

set(CMAKE_SYSROOT "${LOWBIT_SYSROOT}")
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Libraries, headers and CMake packages from the sysroot; build tools from the host.
set(CMAKE_FIND_ROOT_PATH "${LOWBIT_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Target executables (the target's python3 included) run under qemu with the sysroot's
# dynamic loader.  FindPython (CMake >= 4.1, CMP0190) uses this emulator itself; older
# CMake and pybind11's classic FindPythonLibsNew run the interpreter directly, which the
# host's binfmt_misc hands to qemu, and QEMU_LD_PREFIX tells that qemu where the loader is.
find_program(LOWBIT_QEMU qemu-aarch64-static REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR "${LOWBIT_QEMU};-L;${LOWBIT_SYSROOT}")
set(ENV{QEMU_LD_PREFIX} "${LOWBIT_SYSROOT}")
set(Python_EXECUTABLE "${LOWBIT_SYSROOT}/usr/bin/python3" CACHE FILEPATH "target python")
set(Python3_EXECUTABLE "${Python_EXECUTABLE}" CACHE FILEPATH "target python")
set(PYTHON_EXECUTABLE "${Python_EXECUTABLE}" CACHE FILEPATH "target python (pybind11 classic)")
# CMake < 4.1 ignores the interpreter for Development when cross-compiling: name the
# target's headers (Debian ships one python3.X in a release).
file(GLOB _lowbit_py_inc "${LOWBIT_SYSROOT}/usr/include/python3.*/Python.h")
list(GET _lowbit_py_inc 0 _lowbit_py_inc)
get_filename_component(_lowbit_py_inc "${_lowbit_py_inc}" DIRECTORY)
set(Python_INCLUDE_DIR "${_lowbit_py_inc}" CACHE PATH "target Python headers")
set(Python3_INCLUDE_DIR "${_lowbit_py_inc}" CACHE PATH "target Python headers")
