// `avx512` tier: kernels not written yet (an empty list keeps the registry uniform).
#include "../internal.h"

namespace lowbit {

const KernelList& kernels_avx512() {
  static const KernelList l = {nullptr, 0};
  return l;
}

}  // namespace lowbit
