// Helpers shared by the aarch64 tier translation units (neon.cpp, dotprod.cpp, i8mm.cpp).
// Header-only and ISA-neutral beyond base ASIMD, so every tier TU can include it under its
// own -march flags.  The arithmetic of each kernel is documented in docs/arm.md.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <type_traits>

#include "lowbit/kernel.h"

// Region markers for the llvm-mca cycle model (ci/armmodel/model.py).  Only the model's
// build defines LOWBIT_MCA: a volatile asm is a scheduling barrier for GCC, so the library
// build must not carry them.  BEGIN/END bracket one iteration of a kernel's inner loop,
// FLUSH_BEGIN/END the once-per-call epilogue (16->32-bit widening and the C tile update).
#if defined(LOWBIT_MCA)
#define LOWBIT_MCA_STR(x) #x
#define LOWBIT_MCA_BEGIN(name) asm volatile("// LLVM-MCA-BEGIN " LOWBIT_MCA_STR(name))
#define LOWBIT_MCA_END(name) asm volatile("// LLVM-MCA-END " LOWBIT_MCA_STR(name))
#else
#define LOWBIT_MCA_BEGIN(name) ((void)0)
#define LOWBIT_MCA_END(name) ((void)0)
#endif

namespace lowbit {
namespace arm {

// C tile row update: C = v (accumulate == 0) or C += v (wrapping, as the contract allows).
inline void store_s32(int32_t* c, int32x4_t v, int accumulate) {
  if (accumulate) v = vaddq_s32(v, vld1q_s32(c));
  vst1q_s32(c, v);
}

inline void store_f32(float* c, float32x4_t v, int accumulate) {
  if (accumulate) v = vaddq_f32(v, vld1q_f32(c));
  vst1q_f32(c, v);
}

// Broadcast 16-bit element `lane` of v to all eight halfwords (two bytes, i.e. one row's
// k-pair, repeated): the "A side" of the byte-multiply kernels, which have no by-element form.
template <int lane>
inline uint8x16_t dup_pair(uint8x16_t v) {
  return vreinterpretq_u8_u16(vdupq_laneq_u16(vreinterpretq_u16_u8(v), lane));
}

template <int lane>
inline int8x16_t dup_pair(int8x16_t v) {
  return vreinterpretq_s8_s16(vdupq_laneq_s16(vreinterpretq_s16_s8(v), lane));
}

// Compile-time loop: f(std::integral_constant<int, I>) for I in [0, N).  Lane indices of
// the by-element intrinsics must be constants; this keeps the kernels free of hand unrolling.
template <int I, int N, typename F>
inline __attribute__((always_inline)) void unroll(F&& f) {
  if constexpr (I < N) {
    f(std::integral_constant<int, I>{});
    unroll<I + 1, N>(f);
  }
}

}  // namespace arm
}  // namespace lowbit
