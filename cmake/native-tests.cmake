# The standalone harnesses of kernels/tests_native as ctest tests, from the same sources and
# tier flags as the extension (the tier table, kernels/src/tiers.def):
#
#   aarch64, cross-built and run under QEMU user mode (make arm-native-test):
#     cmake -S . -B build/arm-native-ctest --toolchain cmake/aarch64-native-tests.cmake \
#           -DLOWBIT_EXTENSION=OFF -DLOWBIT_NATIVE_TESTS=ON
#     cmake --build build/arm-native-ctest && ctest --test-dir build/arm-native-ctest
#   Each harness is one test per QEMU CPU model (LOWBIT_QEMU_CPUS): `default` (QEMU's own),
#   `max` (asimd + dotprod + i8mm: every tier) and `cortex-a72` (asimd only: dotprod and
#   i8mm must be skipped through the same getauxval detection the library uses).
#   The host (any architecture): registry_dump, the registry as JSON.
#   x86-64 with LOWBIT_SIMDE_INCLUDE (make x86-emulated-test): test_x86_tiers, the tiers with
#   emulated = 1 built against SIMDe (no ISA flags) and held to an exact reference.
enable_testing()

set(_k ${CMAKE_CURRENT_SOURCE_DIR}/kernels/src)
set(_t ${CMAKE_CURRENT_SOURCE_DIR}/kernels/tests_native)
add_library(lowbit_native STATIC
  ${_k}/formats.cpp ${_k}/pack.cpp ${_k}/driver.cpp ${_k}/registry.cpp
  ${_k}/cpu_${LOWBIT_ARCH}.cpp ${LOWBIT_TIER_SOURCES})
target_include_directories(lowbit_native PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/kernels/include ${_k})
target_compile_definitions(lowbit_native PUBLIC ${LOWBIT_ARCH_DEF})
target_compile_options(lowbit_native PUBLIC -O3 -Wall -Wextra -Werror)
find_package(Threads REQUIRED)
target_link_libraries(lowbit_native PUBLIC Threads::Threads)

function(lowbit_native_test name src)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE lowbit_native)
  # The harness TUs run on every CPU of the architecture: the base tier's flags only.
  set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${LOWBIT_BASE_TIER_FLAGS}")
endfunction()

lowbit_native_test(registry_dump ${_t}/registry_dump.cpp)
add_test(NAME registry_dump COMMAND registry_dump)

if(LOWBIT_ARCH STREQUAL "arm")
  set(LOWBIT_QEMU_CPUS "default;max;cortex-a72" CACHE STRING "QEMU_CPU models the ARM harnesses run under")
  lowbit_native_test(test_arm_kernels ${_t}/test_arm_kernels.cpp)
  lowbit_native_test(test_arm_driver ${_t}/test_arm_driver.cpp)
  foreach(_cpu IN LISTS LOWBIT_QEMU_CPUS)
    if(_cpu STREQUAL "default")
      set(_env "QEMU_CPU=unset:")
    else()
      set(_env "QEMU_CPU=set:${_cpu}")
    endif()
    add_test(NAME test_arm_kernels/${_cpu} COMMAND test_arm_kernels)
    set_tests_properties(test_arm_kernels/${_cpu} PROPERTIES ENVIRONMENT_MODIFICATION "${_env}")
    # QEMU 7.2's default CPU model is `max` again: the driver test skips it.
    if(NOT _cpu STREQUAL "default")
      add_test(NAME test_arm_driver/${_cpu} COMMAND test_arm_driver)
      set_tests_properties(test_arm_driver/${_cpu} PROPERTIES ENVIRONMENT_MODIFICATION "${_env}")
    endif()
  endforeach()
endif()

if(LOWBIT_ARCH STREQUAL "x86" AND LOWBIT_SIMDE_INCLUDE)
  # The tier sources again, without their ISA flags: through one-line wrapper TUs, so the
  # per-file flags the tier sources carry for the real build do not apply here.
  set(_emu_sources ${_k}/formats.cpp ${_k}/pack.cpp ${_k}/driver.cpp
      ${_t}/x86/test_x86_tiers.cpp)
  foreach(_tier IN LISTS LOWBIT_EMULATED_TIERS)
    set(_w ${CMAKE_CURRENT_BINARY_DIR}/emulated/${_tier}.cpp)
    file(CONFIGURE OUTPUT ${_w} CONTENT "#include \"${_k}/x86/${_tier}.cpp\"\n")
    list(APPEND _emu_sources ${_w})
  endforeach()
  add_executable(test_x86_tiers ${_emu_sources})
  target_include_directories(test_x86_tiers SYSTEM PRIVATE ${LOWBIT_SIMDE_INCLUDE})
  target_include_directories(test_x86_tiers PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/kernels/include
                             ${_k} ${_k}/x86 ${_t}/x86)
  target_compile_definitions(test_x86_tiers PRIVATE LOWBIT_X86_EMULATE LOWBIT_ARCH_X86)
  # The options of the former Makefile rule.
  target_compile_options(test_x86_tiers PRIVATE -O1 -fwrapv -Wall -Wextra -Werror -Wno-psabi)
  target_link_libraries(test_x86_tiers PRIVATE Threads::Threads)
  add_test(NAME x86_emulated COMMAND test_x86_tiers)
endif()
