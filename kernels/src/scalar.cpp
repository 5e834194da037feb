// The `scalar` tier: plain C++ micro-kernels with 32-bit (wrapping) accumulation and no
// depth limit.  It runs through the same packing and driver as every SIMD tier, and the
// tests hold every tier to it and to a numpy int64 reference.
#include "internal.h"

namespace lowbit {
namespace {

constexpr int kMR = 4, kNR = 4;

template <typename TA, typename TB>
void ukernel_int(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  const TA* A = static_cast<const TA*>(a);
  const TB* B = static_cast<const TB*>(b);
  uint32_t acc[kMR][kNR] = {};
  for (int64_t k = 0; k < kc; ++k)
    for (int r = 0; r < kMR; ++r)
      for (int q = 0; q < kNR; ++q)
        acc[r][q] += uint32_t(int32_t(A[k * kMR + r]) * int32_t(B[k * kNR + q]));
  int32_t* C = static_cast<int32_t*>(c);
  for (int r = 0; r < kMR; ++r)
    for (int q = 0; q < kNR; ++q)
      C[r * ldc + q] = int32_t(accumulate ? uint32_t(C[r * ldc + q]) + acc[r][q] : acc[r][q]);
}

// B as nibbles (Elem::kU4, kb = 1): block h of kNR bytes holds k = 2h (low) and 2h+1 (high).
void ukernel_u8u4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  const uint8_t* A = static_cast<const uint8_t*>(a);
  const uint8_t* B = static_cast<const uint8_t*>(b);
  uint32_t acc[kMR][kNR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const uint8_t* blk = B + (k / 2) * kNR;
    const int shift = 4 * int(k & 1);
    for (int r = 0; r < kMR; ++r)
      for (int q = 0; q < kNR; ++q)
        acc[r][q] += uint32_t(A[k * kMR + r]) * uint32_t((blk[q] >> shift) & 15);
  }
  int32_t* C = static_cast<int32_t*>(c);
  for (int r = 0; r < kMR; ++r)
    for (int q = 0; q < kNR; ++q)
      C[r * ldc + q] = int32_t(accumulate ? uint32_t(C[r * ldc + q]) + acc[r][q] : acc[r][q]);
}

void ukernel_f32(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  const float* A = static_cast<const float*>(a);
  const float* B = static_cast<const float*>(b);
  float acc[kMR][kNR] = {};
  for (int64_t k = 0; k < kc; ++k)
    for (int r = 0; r < kMR; ++r)
      for (int q = 0; q < kNR; ++q) acc[r][q] += A[k * kMR + r] * B[k * kNR + q];
  float* C = static_cast<float*>(c);
  for (int r = 0; r < kMR; ++r)
    for (int q = 0; q < kNR; ++q) C[r * ldc + q] = accumulate ? C[r * ldc + q] + acc[r][q] : acc[r][q];
}

// 4.6bit: activations re-centred to [-a, a] while packing (docs/formats.md).

constexpr Blocking kBlocking{64, 256, 1024};
constexpr Tile kTile{kMR, kNR, 1, 1};
constexpr KernelDesc kF32 =
    KernelDesc::fp32("f32_gemm_4x4__scalar", "scalar", kMR, kNR, kBlocking, ukernel_f32);
constexpr KernelDesc kInt8 = KernelDesc::acc32("qu8s8_gemm_4x4__scalar", Format::kInt8, "scalar",
                                               kTile, Elem::kU8, Elem::kS8, kBlocking,
                                               ukernel_int<uint8_t, int8_t>);
constexpr KernelDesc kInt4 = KernelDesc::acc32("qu4_gemm_4x4__scalar", Format::kInt4, "scalar",
                                               kTile, Elem::kU8, Elem::kU4, kBlocking,
                                               ukernel_u8u4);
constexpr KernelDesc kQ46 = KernelDesc::acc32("q46_gemm_4x4__scalar", Format::kQ46, "scalar",
                                              kTile, Elem::kS8, Elem::kS8, kBlocking,
                                              ukernel_int<int8_t, int8_t>)
                                .with_offsets(q46_centre);

constexpr KernelFamily kList[] = {
    {&kF32},
    {&kInt8},
    {&kInt4},
    {&kQ46},
};

}  // namespace

const FamilyList& kernels_scalar() {
  static const FamilyList l = {kList, sizeof(kList) / sizeof(kList[0])};
  return l;
}

}  // namespace lowbit
