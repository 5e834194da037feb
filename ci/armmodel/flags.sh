# aarch64 tier compile flags: one -march per tier translation unit (docs/arm.md).
# Sourced by ci/armmodel/native_test.sh and parsed by ci/armmodel/model.py, so the bit-exact
# harness and the cycle model compile the kernels exactly alike.  Keep CMake's per-file flags
# for kernels/src/arm/*.cpp equal to these.
ARM_CXX="${ARM_CXX:-aarch64-linux-gnu-g++}"
ARM_CXXFLAGS="-O3 -std=c++17 -Wall -Wextra -Werror -Ikernels/include -Ikernels/src"
ARM_MARCH_neon="-march=armv8-a"
ARM_MARCH_dotprod="-march=armv8.2-a+dotprod"
ARM_MARCH_i8mm="-march=armv8.2-a+dotprod+i8mm"
# x86 tiers for the model's check on this machine (ci/armmodel/x86.py): CMakeLists.txt's
# flags for kernels/src/x86/*.cpp (Release: -O3 -DNDEBUG, PIC, hidden visibility).
X86_CXX="${X86_CXX:-g++}"
X86_CXXFLAGS="-O3 -DNDEBUG -std=gnu++17 -fPIC -fvisibility=hidden -DLOWBIT_ARCH_X86 -Ikernels/include -Ikernels/src"
X86_MARCH_avx2="-mavx2 -mfma"
X86_MARCH_avx512="-mavx2 -mfma -mavx512f -mavx512bw -mavx512vl"
