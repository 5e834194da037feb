// A software model of the AMX tile instructions the `amx` tier uses, for the emulated
// test build only (SIMDe has no AMX).  Written from the documented semantics (Intel SDM,
// "Intel AMX instructions"), deliberately plain:
//   ldtilecfg   : palette 1, tile t has rows[t] rows of colsb[t] bytes (at most 16 x 64)
//   tileloadd   : row r of tile t = colsb[t] bytes at base + r * stride
//   tilestored  : the inverse
//   tilezero    : all bytes of tile t = 0
//   tdpbusd     : C[m][n] += sum_{k < K/4} sum_{i < 4} u8(A[m][4k+i]) * s8(B[k][4n+i]),
//                 M = rows(C), N = colsb(C)/4, K = colsb(A); int32, wrapping, exact
//   tilerelease : back to the init state (no configuration)
// Every use is checked against the configuration (shapes, palette, a configured tile),
// like the hardware's #UD / shape faults; a violation aborts the test.
// The state is per thread, as the tile registers and configuration are.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace lowbit_amx_model {

struct State {
  bool configured = false;
  uint8_t rows[8] = {};
  uint16_t colsb[8] = {};
  uint8_t data[8][16][64] = {};
};

inline State& state() {
  static thread_local State s;
  return s;
}

[[noreturn]] inline void fault(const char* what, int t) {
  std::fprintf(stderr, "amx_model: %s (tile %d)\n", what, t);
  std::abort();
}

inline void check_tile(int t) {
  const State& s = state();
  if (!s.configured) fault("tile instruction without a loaded configuration", t);
  if (t < 0 || t > 7) fault("no such tile register", t);
  if (s.rows[t] == 0 || s.colsb[t] == 0) fault("tile not configured", t);
}

inline void loadconfig(const void* cfg) {
  const uint8_t* p = static_cast<const uint8_t*>(cfg);
  State& s = state();
  if (p[0] != 1) fault("palette must be 1", -1);
  if (p[1] != 0) fault("start_row must be 0", -1);
  for (int t = 0; t < 8; ++t) {
    uint16_t c;
    std::memcpy(&c, p + 16 + 2 * t, 2);
    s.colsb[t] = c;
    s.rows[t] = p[48 + t];
    if (s.rows[t] > 16 || s.colsb[t] > 64 || s.colsb[t] % 4) fault("bad tile shape", t);
  }
  s.configured = true;
  std::memset(s.data, 0, sizeof(s.data));
}

inline void release() { state() = State(); }

inline void loadd(int t, const void* base, long stride) {
  check_tile(t);
  State& s = state();
  for (int r = 0; r < s.rows[t]; ++r)
    std::memcpy(s.data[t][r], static_cast<const uint8_t*>(base) + r * stride, s.colsb[t]);
}

inline void stored(int t, void* base, long stride) {
  check_tile(t);
  State& s = state();
  for (int r = 0; r < s.rows[t]; ++r)
    std::memcpy(static_cast<uint8_t*>(base) + r * stride, s.data[t][r], s.colsb[t]);
}

inline void zero(int t) {
  check_tile(t);
  std::memset(state().data[t], 0, sizeof(state().data[t]));
}

inline void dpbusd(int c, int a, int b) {
  check_tile(c);
  check_tile(a);
  check_tile(b);
  State& s = state();
  const int M = s.rows[c], N = s.colsb[c] / 4, K = s.colsb[a] / 4;
  if (s.rows[a] != M || s.rows[b] != K || s.colsb[b] != s.colsb[c])
    fault("tdpbusd shape mismatch", c);
  if (c == a || c == b || a == b) fault("tdpbusd operands must be distinct tiles", c);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      uint32_t acc;
      std::memcpy(&acc, &s.data[c][m][4 * n], 4);
      for (int k = 0; k < K; ++k)
        for (int i = 0; i < 4; ++i)
          acc += uint32_t(int32_t(s.data[a][m][4 * k + i]) *
                          int32_t(int8_t(s.data[b][k][4 * n + i])));
      std::memcpy(&s.data[c][m][4 * n], &acc, 4);
    }
}

}  // namespace lowbit_amx_model

#define _tile_loadconfig(cfg) ::lowbit_amx_model::loadconfig(cfg)
#define _tile_release() ::lowbit_amx_model::release()
#define _tile_loadd(t, base, stride) ::lowbit_amx_model::loadd(t, base, stride)
#define _tile_stored(t, base, stride) ::lowbit_amx_model::stored(t, base, stride)
#define _tile_zero(t) ::lowbit_amx_model::zero(t)
#define _tile_dpbusd(c, a, b) ::lowbit_amx_model::dpbusd(c, a, b)
