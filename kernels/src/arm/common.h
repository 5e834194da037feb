// Helpers shared by the aarch64 tier translation units (neon.cpp, dotprod.cpp, i8mm.cpp).
// Header-only and ISA-neutral beyond base ASIMD, so every tier TU can include it under its
// own -march flags.  The arithmetic of each kernel is documented in docs/arm.md.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>
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
// Only the main tile of a kernel template is modelled (small-M companions would repeat
// the block names): `if constexpr (is_main) ...`.
#define LOWBIT_MCA_BEGIN_IF(cond, name) \
  if constexpr (cond) LOWBIT_MCA_BEGIN(name)
#define LOWBIT_MCA_END_IF(cond, name) \
  if constexpr (cond) LOWBIT_MCA_END(name)

namespace lowbit {
namespace arm {

// Lambdas passed to unroll() carry this so that GCC inlines them before its scalar
// replacement of aggregates: only then do the accumulator arrays live in registers
// (without it GCC 12 keeps them on the stack and the inner loops reload them).
#define LOWBIT_AI __attribute__((always_inline))

// C tile update without a branch: keep = all ones when accumulating, else zero.  The
// epilogue then costs the same on both paths (the cycle model measures this one).
inline int32x4_t keep_mask(int accumulate) { return vdupq_n_s32(accumulate ? -1 : 0); }

inline void store_s32(int32_t* c, int32x4_t v, int32x4_t keep) {
  vst1q_s32(c, vaddq_s32(v, vandq_s32(vld1q_s32(c), keep)));
}

// Float: select rather than mask-and-add, so that C = A*B keeps the sign of a -0 result.
inline void store_f32(float* c, float32x4_t v, int32x4_t keep) {
  vst1q_f32(c, vbslq_f32(vreinterpretq_u32_s32(keep), vaddq_f32(vld1q_f32(c), v), v));
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

// Hides a loaded vector's origin from GCC.  Without it GCC turns every DUP-by-lane of a
// loaded A vector into its own scalar load + DUP (ldr h; dup), doubling the instructions
// and the live registers of the byte-multiply kernels.  Emits no instruction.
template <typename V>
inline LOWBIT_AI V opaque(V v) {
  asm("" : "+w"(v));
  return v;
}

// The first N bytes at p in the low lanes of a vector (the rest zero), never reading past
// p + N: small-M companion tiles load only the rows they have.
template <int N>
inline LOWBIT_AI uint8x16_t load_bytes(const void* p) {
  const uint8_t* q = static_cast<const uint8_t*>(p);
  if constexpr (N == 16) {
    return vld1q_u8(q);
  } else if constexpr (N == 8) {
    return vcombine_u8(vld1_u8(q), vdup_n_u8(0));
  } else if constexpr (N == 4) {
    uint32_t v;
    std::memcpy(&v, q, 4);
    return vreinterpretq_u8_u32(vsetq_lane_u32(v, vdupq_n_u32(0), 0));
  } else {
    static_assert(N == 2, "load_bytes: 2, 4, 8 or 16 bytes");
    uint16_t v;
    std::memcpy(&v, q, 2);
    return vreinterpretq_u8_u16(vsetq_lane_u16(v, vdupq_n_u16(0), 0));
  }
}

template <int N>
inline LOWBIT_AI int8x16_t load_bytes_s8(const void* p) {
  return vreinterpretq_s8_u8(load_bytes<N>(p));
}

// Compile-time loop: f(std::integral_constant<int, I>) for I in [0, N).  Lane indices of
// the by-element intrinsics must be constants; this keeps the kernels free of hand unrolling.
template <int I, int N, typename F>
inline LOWBIT_AI void unroll(F&& f) {
  if constexpr (I < N) {
    f(std::integral_constant<int, I>{});
    unroll<I + 1, N>(f);
  }
}

}  // namespace arm
}  // namespace lowbit
