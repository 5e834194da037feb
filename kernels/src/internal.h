// Shared, ISA-independent machinery: formats, packed weights, packing, the driver,
// the registry and CPU detection.  Nothing in here is compiled with ISA flags.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "lowbit/kernel.h"

namespace lowbit {

// ---- formats ---------------------------------------------------------------------------

const char* format_name(Format f);
Format parse_format(const std::string& name);  // throws std::invalid_argument

// Integer value ranges of a format's operands and zero points (docs/formats.md).
struct FormatRanges {
  int x_min, x_max;    // activation codes
  int w_min, w_max;    // weight codes
  int zx_min, zx_max;  // activation zero point
  int zw_min, zw_max;  // weight zero point
};
// Validates the parameters (4.6bit level pair rule) and returns the ranges.
FormatRanges format_ranges(Format f, const FormatParams& p);
// Every format, in the order the API lists them (lowbit.FORMATS).
const std::vector<Format>& all_formats();
// 4.6bit: N_x = 2*floor(127/b)+1 for N_w = 2b+1 (validates N_w).
int q46_act_levels(int weight_levels);
constexpr int kQ46DefaultWeightLevels = 21;  // N_w = 21 -> N_x = 25 (docs/formats.md)
// Validated parameters of a format, defaults filled in (nullopt = not given).
FormatParams format_params(Format f, std::optional<int> act_levels,
                           std::optional<int> weight_levels);
FormatParams normalize_params(Format f, FormatParams p);  // the same; 0 = not given


size_t elem_bits(Elem e);

// Longest depth a micro-kernel call may cover before its 16-bit lanes could overflow:
// 0 for 32-bit accumulation (no limit).  Throws if the variant cannot run these params.
int64_t flush_period(const KernelDesc& d, const FormatParams& p);

// ---- aligned storage -------------------------------------------------------------------

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
using AlignedBytes = std::unique_ptr<uint8_t, AlignedFree>;
AlignedBytes aligned_bytes(size_t n, bool zero = true);  // 64-byte aligned

// ---- packed weights --------------------------------------------------------------------

struct PackedB {
  const KernelFamily* family = nullptr;
  int tile = 0;                       // the family's tile it is packed for
  const KernelDesc* desc = nullptr;   // family->tiles[tile]
  Format format = Format::kFp32;
  FormatParams params;
  int64_t K = 0, N = 0;
  int64_t Kp = 0;           // K rounded up to desc->kpad()
  int64_t n_panels = 0;     // ceil(N / nr)
  int64_t panel_bytes = 0;  // bytes of one packed N panel (Kp x nr)
  int32_t zero_point = 0;
  int32_t b_offset = 0;     // stored = value + b_offset
  int64_t flush_k = 0;      // max depth per micro-kernel call (0 = none)
  int64_t max_abs_w = 0;    // max |w - zero_point| over the data
  // min and max of (w - zero_point) over the data: the int32 range guard bounds each row's
  // result from above and below separately (so an exact -2^31 is accepted).
  int64_t w_dev_min = 0, w_dev_max = 0;
  FormatRanges ranges{};    // of the format and params (integer formats)
  std::vector<int64_t> colsum;    // per column, sum over real k of the stored values
  std::vector<uint32_t> colsum32; // the same modulo 2^32 (the fused correction reads it)
  // Flush period of each tile of the family no taller than desc (by tile index; -1 for
  // taller ones): a call of M rows runs tile family->tile_for(M, tile).
  std::vector<int64_t> tile_flush_k;
  AlignedBytes data;
  size_t data_bytes = 0;
  // The same weights in the layout of desc->narrow (KernelDesc::narrow), built on the
  // first call that can use it (narrow_packing).
  mutable std::once_flag narrow_once;
  mutable std::unique_ptr<PackedB> narrow_b;
};

// b re-laid out for b.desc->narrow (built once, thread-safe).
const PackedB& narrow_packing(const PackedB& b);

// w: K x N row-major with row stride ldw elements (float, int8 or uint8 per format).
// Packs for tile `tile` of family f (0: its main tile).
std::unique_ptr<PackedB> pack_b(const KernelFamily& f, int tile, const void* w, int64_t K, int64_t N,
                                int64_t ldw, int32_t zero_point, const FormatParams& p);

// What pack_a checks and measures in the codes it has just staged (integer formats).
struct ACheck {
  int x_min, x_max;  // allowed activation codes
  int a_offset;      // stored = x + a_offset
  int zx;            // activation zero point (0..255)
  const char* format;
  bool narrow;       // x_max is a narrow variant's: a code above it throws NarrowMiss
};
// Thrown by pack_a when a code falls outside a narrow check: the call reruns on the
// variant that takes every code (never reaches Python).
struct NarrowMiss {};
struct ARowStats {
  int64_t sum;  // sum over k of the codes x
  int64_t pos;  // sum over k of max(x - zx, 0)
};

// Packs one mr-row micro-panel: rows [i0, i0+mr) of x (M x K row-major, stride ldx) over
// the whole depth Kp into `out`, layout [Kp/ka][mr][ka]; rows >= M and k >= K are stored
// as 0.  Integer rows go through a small staging copy: the codes written to `out` are the
// ones range-checked (against `check`) and summed into stats[r] (rows < M), so a
// concurrent writer to x cannot slip an unchecked code past the check.
void pack_a(const KernelDesc& d, const void* x, int64_t M, int64_t K, int64_t Kp, int64_t ldx,
            int64_t i0, const ACheck* check, uint8_t* out, ARowStats* stats);

// C (M x N, row stride ldc; int32 or float) = (x - zx)(w - zw).  Validates x's codes.
// Runs on at most min(threads, max_threads(), work units) threads of a persistent pool.
void gemm(const PackedB& b, const void* x, int64_t M, int64_t ldx, int32_t zx, void* c,
          int64_t ldc, int threads);
int max_threads();  // the pool's capacity

// The tiles a call of M rows runs on b: `main` for the full micro-panels (with its flush
// period) and `tail` for the rows past them (nullptr: main runs them, padded); with
// narrow, the narrow (exact-but-faster) companions of those tiles (main nullptr when b has
// none).  gemm() runs exactly these; _core.call_tiles shows them.
struct CallTiles {
  const KernelDesc* main = nullptr;
  const KernelDesc* tail = nullptr;
  int64_t flush_k = 0;
};
// ldx: x's row stride (elements), zx: the activation zero point (both decide whether A is
// read in place, and so the tile).
CallTiles call_tiles(const PackedB& b, int64_t M, int64_t ldx, int32_t zx, bool narrow);
// Multiply-adds per thread below which a call uses fewer threads (x2 for integer formats,
// x16 for tile kernels);
// v >= 0 sets it.  Returns the value in force.
int64_t thread_min_macs(int64_t v = -1);

// Cache sizes in bytes read from the OS at first use (0 where unknown).
struct CacheSizes {
  int64_t l1d, l2, l3;
};
const CacheSizes& cache_sizes();

// ---- registry and CPU ------------------------------------------------------------------

struct TierInfo {
  const char* name;
  int rank;                            // preference: higher is better
  std::vector<std::string> features;   // CPU features the tier needs
  const char* flags;                   // compile flags of its translation units
};
const std::vector<TierInfo>& all_tiers();    // compiled for this architecture
const TierInfo& tier_info(const std::string& name);  // throws for unknown names
const std::vector<const KernelFamily*>& all_families();  // every compiled family, checked
std::vector<const KernelDesc*> all_kernels();   // their tiles, family by family, main first
struct FamilyTile {
  const KernelFamily* family;
  int tile;  // index of the descriptor in family->tiles
};
FamilyTile family_of(const KernelDesc& d);  // throws for a descriptor of no family
bool tier_runnable(const std::string& tier);  // CPU has it (and AMX permission granted)
// Empty when LOWBIT_MAX_TIER is unset; throws for an unknown value.
std::string max_tier_cap();
bool tier_allowed(const std::string& tier);   // runnable and within LOWBIT_MAX_TIER
std::string tier_unavailable_reason(const std::string& tier);  // "" when allowed
std::vector<std::string> tiers_for(Format f);  // allowed tiers, best first
const KernelFamily& select_family(Format f, const std::string& tier);  // throws

bool cpu_has_feature(const std::string& name);
std::vector<std::string> cpu_feature_list();
std::string cpu_model();
std::string cpu_arch();
// x86 AMX: asks Linux for the tile-data permission once; false when refused.
bool amx_permission();

}  // namespace lowbit
