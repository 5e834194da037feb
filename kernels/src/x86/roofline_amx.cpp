// Roofline probe of the amx tier (compiled with its flags): tdpbusd, a 16x64 u8 tile times a
// 64x16 s8 tile (16 x 16 x 64 MACs into int32), four independent accumulator tiles per
// iteration.  Runs only where the tier is runnable, i.e. after Linux granted the tile-data
// permission (amx_permission(), cpu_x86.cpp).
#include <immintrin.h>

#include <cstring>

#include "../roofline.h"

namespace lowbit {
namespace roofline {
namespace {

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

void tdpbusd(int64_t n) {
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof cfg);
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  alignas(64) static uint8_t buf[16 * 64] = {1};
  _tile_loadconfig(&cfg);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, buf, 64);
  _tile_loadd(5, buf, 64);
  _tile_loadd(6, buf, 64);
  _tile_loadd(7, buf, 64);
  for (int64_t i = 0; i < n; ++i) {
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  alignas(64) static thread_local int32_t out[16 * 16];
  _tile_stored(0, out, 64);
  _tile_release();
}

const Probe kProbes[] = {
    {"tdpbusd", "amx", "AMX tdpbusd: 16 x 16 x 64 u8 x s8 MACs into int32 tiles",
     4 * 2.0 * 16 * 16 * 64, tdpbusd},
};

}  // namespace

List list_amx() { return {kProbes, 1, nullptr, 0}; }

}  // namespace roofline
}  // namespace lowbit
