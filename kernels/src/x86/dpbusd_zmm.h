// The vpdpbusd micro-kernels in zmm registers, shared by the `avx512vnni` tier and the
// small-M companions of the `amx` tier (which read the same packed B).  Included inside
// `namespace lowbit { namespace {` by translation units compiled with at least
// -mavx512f -mavx512bw -mavx512vl -mavx512vnni, so each TU gets its own internal copy.
// Operand roles and layouts: avx512vnni.cpp.
#pragma once

constexpr int kNR = 32;  // columns: two zmm of 16 int32

#define LB_ROWS(X) \
  X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)

inline void store_i32(int32_t* row, __m512i v0, __m512i v1, int accumulate) {
  if (accumulate) {
    v0 = _mm512_add_epi32(v0, _mm512_loadu_si512(row));
    v1 = _mm512_add_epi32(v1, _mm512_loadu_si512(row + 16));
  }
  _mm512_storeu_si512(row, v0);
  _mm512_storeu_si512(row + 16, v1);
}

#define LB_DECL_I(r) __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = _mm512_setzero_si512();
#define LB_STORE_I(r) \
  if (r < MR) store_i32(C + r * ldc, c##r##0, c##r##1, accumulate);

// A: uint8 [kc/4][MR][4]; B: int8 [kc/4][32][4] (128 bytes a group).
template <int MR>
void u8s8_x32c4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  static_assert(MR >= 1 && MR <= 14, "LB_ROWS spells out 14 rows");
  const uint8_t* A = static_cast<const uint8_t*>(a);
  const int8_t* B = static_cast<const int8_t*>(b);
  LB_ROWS(LB_DECL_I)
  for (int64_t g = 0; g < kc / 4; ++g) {
    const __m512i b0 = _mm512_loadu_si512(B);
    const __m512i b1 = _mm512_loadu_si512(B + 64);
#define LB_DOT(r)                                                 \
  if (r < MR) {                                                   \
    const __m512i av = _mm512_set1_epi32(x86::load32(A + 4 * r)); \
    c##r##0 = _mm512_dpbusd_epi32(c##r##0, av, b0);               \
    c##r##1 = _mm512_dpbusd_epi32(c##r##1, av, b1);               \
    LB_PIN(c##r##0);                                              \
    LB_PIN(c##r##1);                                              \
  }
    LB_ROWS(LB_DOT)
#undef LB_DOT
    A += 4 * MR;
    B += 4 * kNR;
  }
  int32_t* C = static_cast<int32_t*>(c);
  LB_ROWS(LB_STORE_I)
}

// A: int8 [kc/4][MR][4] (codes 0..15); B: nibbles, one 128-byte block per two k-groups
// (group 2h in the low nibbles, 2h+1 in the high ones).
template <int MR>
void u4s8_x32c4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc, int accumulate) {
  static_assert(MR >= 1 && MR <= 14, "LB_ROWS spells out 14 rows");
  const int8_t* A = static_cast<const int8_t*>(a);
  const uint8_t* B = static_cast<const uint8_t*>(b);
  LB_ROWS(LB_DECL_I)
  const __m512i low4 = _mm512_set1_epi8(0x0F);
#define LB_DOT(r, w0, w1, Ag)                                      \
  if (r < MR) {                                                    \
    const __m512i av = _mm512_set1_epi32(x86::load32(Ag + 4 * r)); \
    c##r##0 = _mm512_dpbusd_epi32(c##r##0, w0, av);                \
    c##r##1 = _mm512_dpbusd_epi32(c##r##1, w1, av);                \
    LB_PIN(c##r##0);                                               \
    LB_PIN(c##r##1);                                               \
  }
#define LB_DOT_LO(r) LB_DOT(r, lo0, lo1, A)
#define LB_DOT_HI(r) LB_DOT(r, hi0, hi1, (A + 4 * MR))
  for (int64_t h = 0; h < kc / 8; ++h) {
    const __m512i v0 = _mm512_loadu_si512(B);
    const __m512i v1 = _mm512_loadu_si512(B + 64);
    const __m512i lo0 = _mm512_and_si512(v0, low4), lo1 = _mm512_and_si512(v1, low4);
    LB_ROWS(LB_DOT_LO)
    const __m512i hi0 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), low4);
    const __m512i hi1 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), low4);
    LB_ROWS(LB_DOT_HI)
    A += 8 * MR;
    B += 128;
  }
#undef LB_DOT_HI
#undef LB_DOT_LO
#undef LB_DOT
  int32_t* C = static_cast<int32_t*>(c);
  LB_ROWS(LB_STORE_I)
}

