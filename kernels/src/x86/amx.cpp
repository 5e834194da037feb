// `amx` tier (AMX-TILE + AMX-INT8: Sapphire Rapids and later Xeons).  Compiled with the
// avx512vnni flags plus -mamx-tile -mamx-int8 only.  The registry considers the tier
// runnable only after Linux granted the tile-data permission (cpu_x86.cpp,
// amx_permission()).
//
//  int8 32x32c4 (and 16x32c4 for 5..16 rows) : tdpbusd (u8 x s8 dot products of 4 into
//      int32, exact, wrapping):
//      C[m][n] += sum_{k<16} sum_{i<4} u8(A[m][4k+i]) * s8(B[k][4n+i])  for a 16x16 C tile:
//      16 * 16 * 64 = 16384 MACs per instruction.  A 32x32 register tile is 4 C tiles
//      (tmm0-3), 2 A tiles (tmm4-5: rows 0-15 and 16-31) and 2 B tiles (tmm6-7: columns
//      0-15 and 16-31), so each k-block of 64 does 4 tile loads for 4 tdpbusd.
//  The 32-row variant also has an in-place form (KernelDesc::ukernel_direct): the A tiles are loaded
//      straight from x's rows (stride ldx), used by the driver where A needs no packing.
//  Small-M companions (1, 2, 4 rows) use vpdpbusd on the same packed B (dpbusd_zmm.h).
//  Packed layouts (kernel.h): A u8 [kc/64][32][64] (ka = 64: a 16x64-byte A tile is 16
//      consecutive rows, stride 64); B s8 [kc/4][32][4] (kb = 4, the VNNI layout: row k of
//      a B tile is k-group k of the block, 16 columns x 4 bytes, stride 32*4 = 128 bytes).
//  The tile configuration is loaded once per thread by the descriptor's thread_begin hook
//  and released by thread_end (the driver calls both around its micro-kernel calls).  The
//  C tiles are loaded from / stored to C directly with the row stride ldc*4 bytes.
#include "simd_x86.h"

#include "../internal.h"

namespace lowbit {
namespace {

#include "dpbusd_zmm.h"  // u8s8_x32c4<MR> for the small-M companions, kNR = 32

constexpr int kKA = 64;

// The 64-byte operand of ldtilecfg (palette 1).
struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];  // bytes per row of tile i
  uint8_t rows[16];    // rows of tile i
};
static_assert(sizeof(TileConfig) == 64, "ldtilecfg reads 64 bytes");

constexpr TileConfig make_config() {
  TileConfig cfg{};
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;   // C: 16 rows of 16 int32; A: 16 rows of 64 u8; B: 16 k-groups
    cfg.colsb[t] = 64;  // of 16 columns x 4 s8: every tile is 16 x 64 bytes
  }
  return cfg;
}
// Constant-initialised (in .rodata, no run-time stores): GCC's _tile_loadconfig tells the
// compiler its asm reads only 8 bytes of the 64, so a configuration built at run time
// could legally be left partly unwritten.
constexpr TileConfig kTileConfig = make_config();

void tiles_begin() { _tile_loadconfig(&kTileConfig); }

void tiles_end() { _tile_release(); }

// RB row blocks of 16: RB = 2 is the 32x32 tile above (4 C tiles), RB = 1 a 16x32 tile
// (2 C tiles, one A tile) for 5..16 rows.
template <int RB>
void u8s8_amx_x32c4(int64_t kc, const void* a, const void* b, void* c, int64_t ldc,
                    int accumulate) {
  static_assert(RB == 1 || RB == 2, "one or two 16-row blocks");
  constexpr int MR = 16 * RB;
  const uint8_t* A = static_cast<const uint8_t*>(a);
  const int8_t* B = static_cast<const int8_t*>(b);
  int32_t* C = static_cast<int32_t*>(c);
  const int64_t ldc_bytes = ldc * int64_t(sizeof(int32_t));
  int32_t* C10 = C + 16 * ldc;
  // The tile intrinsics are asm statements that do not declare the memory they touch:
  // fence the compiler so that no C/A/B access moves across them.
  LB_MEMORY_FENCE();
  if (accumulate) {
    _tile_loadd(0, C, ldc_bytes);
    _tile_loadd(1, C + 16, ldc_bytes);
    if constexpr (RB == 2) {
      _tile_loadd(2, C10, ldc_bytes);
      _tile_loadd(3, C10 + 16, ldc_bytes);
    }
  } else {
    _tile_zero(0);
    _tile_zero(1);
    if constexpr (RB == 2) {
      _tile_zero(2);
      _tile_zero(3);
    }
  }
  for (int64_t kb = 0; kb < kc / kKA; ++kb) {
    _tile_loadd(4, A, kKA);
    _tile_loadd(6, B, kNR * 4);
    _tile_loadd(7, B + 64, kNR * 4);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    if constexpr (RB == 2) {
      _tile_loadd(5, A + 16 * kKA, kKA);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
    }
    A += MR * kKA;
    B += (kKA / 4) * kNR * 4;
  }
  _tile_stored(0, C, ldc_bytes);
  _tile_stored(1, C + 16, ldc_bytes);
  if constexpr (RB == 2) {
    _tile_stored(2, C10, ldc_bytes);
    _tile_stored(3, C10 + 16, ldc_bytes);
  }
  LB_MEMORY_FENCE();
}

// The same product reading A in place: rows of x (u8, row stride lda bytes) instead of the
// packed [kc/64][32][64] panel (a 16x64-byte A tile is 16 rows of x, stride lda).  The
// driver uses it only where every byte a tile load touches lies inside x (k past K meets
// B's zero padding, so those bytes add 0) and no code needs a check (driver.cpp, gemm_on).
void u8s8_amx_x32c4_direct(int64_t kc, const uint8_t* A, int64_t lda, const void* b, void* c,
                           int64_t ldc, int accumulate) {
  const int8_t* B = static_cast<const int8_t*>(b);
  int32_t* C = static_cast<int32_t*>(c);
  const int64_t ldc_bytes = ldc * int64_t(sizeof(int32_t));
  int32_t* C10 = C + 16 * ldc;
  const uint8_t* A1 = A + 16 * lda;
  LB_MEMORY_FENCE();
  if (accumulate) {
    _tile_loadd(0, C, ldc_bytes);
    _tile_loadd(1, C + 16, ldc_bytes);
    _tile_loadd(2, C10, ldc_bytes);
    _tile_loadd(3, C10 + 16, ldc_bytes);
  } else {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  }
  for (int64_t k = 0; k < kc; k += kKA) {
    _tile_loadd(4, A + k, lda);
    _tile_loadd(6, B, kNR * 4);
    _tile_loadd(7, B + 64, kNR * 4);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_loadd(5, A1 + k, lda);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
    B += (kKA / 4) * kNR * 4;
  }
  _tile_stored(0, C, ldc_bytes);
  _tile_stored(1, C + 16, ldc_bytes);
  _tile_stored(2, C10, ldc_bytes);
  _tile_stored(3, C10 + 16, ldc_bytes);
  LB_MEMORY_FENCE();
}

// Blocking not tuned on hardware (none was available to this build): a B micro-panel of
// kc x 32 bytes = 32 KiB stays in L1d, the A block mc x kc = 256 KiB in L2 (2 MiB).
constexpr Blocking kAmxBlocking{256, 1024, 2048};
constexpr KernelDesc kInt8_32 =
    KernelDesc::acc32("qu8s8_gemm_32x32c4__amx", Format::kInt8, "amx", {32, kNR, kKA, 4},
                      Elem::kU8, Elem::kS8, kAmxBlocking, u8s8_amx_x32c4<2>)
        .with_thread_hooks(tiles_begin, tiles_end)
        .with_direct(u8s8_amx_x32c4_direct);
constexpr KernelDesc kInt8_16 =
    KernelDesc::acc32("qu8s8_gemm_16x32c4__amx", Format::kInt8, "amx", {16, kNR, kKA, 4},
                      Elem::kU8, Elem::kS8, kAmxBlocking, u8s8_amx_x32c4<1>)
        .with_thread_hooks(tiles_begin, tiles_end);
// Up to 4 rows a 16-row tile product would be mostly padding: vpdpbusd companions (the same
// packed B [kc/4][32][4] s8; A packed [kc/4][mr][4] for them by the driver).
#define LB_VNNI(MR)                                                                          \
  constexpr KernelDesc kInt8_##MR =                                                          \
      KernelDesc::acc32("qu8s8_gemm_" #MR "x32c4__amx", Format::kInt8, "amx", {MR, kNR, 4, 4}, \
                        Elem::kU8, Elem::kS8, {196, 768, 3072}, u8s8_x32c4<MR>);
LB_VNNI(1) LB_VNNI(2) LB_VNNI(4)

// One family (kernel.h): main tile first (pack_weights packs for it); the driver picks the
// smallest mr >= M by index (KernelFamily::tile_for).
constexpr KernelFamily kList[] = {
    {&kInt8_32, &kInt8_16, &kInt8_1, &kInt8_2, &kInt8_4},
};

}  // namespace

const FamilyList& kernels_amx() {
  static const FamilyList l = {kList, sizeof(kList) / sizeof(kList[0])};
  return l;
}

}  // namespace lowbit
