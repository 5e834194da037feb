// Prints the registry (every compiled KernelDesc, kernels/src/registry.cpp) as JSON, one
// object per variant, for tools that must not parse C++ (ci/armmodel/model.py).  Built for
// either architecture from the library's sources; aarch64 builds run under QEMU user mode.
#include <cstdio>
#include <string>

#include "internal.h"

namespace {

const char* elem_token(lowbit::Elem e) {  // the enumerator's name, as in kernel.h
  switch (e) {
    case lowbit::Elem::kF32: return "kF32";
    case lowbit::Elem::kU8: return "kU8";
    case lowbit::Elem::kS8: return "kS8";
    case lowbit::Elem::kS16: return "kS16";
    case lowbit::Elem::kU4: return "kU4";
  }
  return "?";
}

const char* offset_token(lowbit::OffsetFn f) {
  if (!f) return "nullptr";
  if (f == lowbit::q46_centre) return "q46_centre";
  if (f == lowbit::q46_shift) return "q46_shift";
  return "other";
}

}  // namespace

int main() {
  std::printf("[\n");
  const auto all = lowbit::all_kernels();
  for (size_t i = 0; i < all.size(); ++i) {
    const lowbit::KernelDesc& d = *all[i];
    std::printf(
        "  {\"name\": \"%s\", \"format\": \"%s\", \"tier\": \"%s\", \"mr\": %d, \"nr\": %d, "
        "\"ka\": %d, \"kb\": %d, \"kpad\": %d, \"a_elem\": \"%s\", \"b_elem\": \"%s\", "
        "\"a_offset\": \"%s\", \"b_offset\": \"%s\", \"acc_bits\": %d, \"terms_per_step\": %d, "
        "\"lane_unsigned\": %s, \"step_saturates\": %s, \"mc\": %d, \"kc\": %d, \"nc\": %d}%s\n",
        d.name, lowbit::format_name(d.format), d.tier, d.mr, d.nr, d.ka, d.kb, d.kpad(),
        elem_token(d.a_elem), elem_token(d.b_elem), offset_token(d.a_offset),
        offset_token(d.b_offset), d.acc_bits, d.terms_per_step,
        d.lane_unsigned ? "true" : "false", d.step_saturates ? "true" : "false", d.mc, d.kc,
        d.nc, i + 1 < all.size() ? "," : "");
  }
  std::printf("]\n");
  return 0;
}
