// Entry points of the aarch64 tier translation units (each compiled with only its own
// -march flags) and of the aarch64 CPU detection.  registry.cpp declares the same
// functions; this header lets the standalone harness (kernels/tests_native/) use them
// without the rest of the library.
#pragma once

#include <string>
#include <vector>

#include "lowbit/kernel.h"

namespace lowbit {

const FamilyList& kernels_neon();     // kernels/src/arm/neon.cpp     -march=armv8-a
const FamilyList& kernels_dotprod();  // kernels/src/arm/dotprod.cpp  -march=armv8.2-a+dotprod
const FamilyList& kernels_i8mm();     // kernels/src/arm/i8mm.cpp     -march=armv8.2-a+dotprod+i8mm

// kernels/src/cpu_arm.cpp (same signatures as the x86 detection in internal.h).
// Feature names: "asimd", "asimddp" (dotprod), "i8mm", as in /proc/cpuinfo.
bool cpu_has_feature(const std::string& name);
std::vector<std::string> cpu_feature_list();
std::string cpu_model();
std::string cpu_arch();

}  // namespace lowbit
