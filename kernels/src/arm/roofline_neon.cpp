// Roofline probes of the neon tier (compiled with its flags): fmla (fp32), the
// smull + smlal2 + sadalp group (int8: 16 MACs with a 32-bit step every 2 products), the
// mul + sadalp group (int4 / 4.6-bit: 16 byte products added pairwise into int16), and a
// 128-bit streaming read.  12-16 independent accumulators per iteration.
#include <arm_neon.h>

#include "../roofline.h"
#include "roofline_arm.h"

namespace lowbit {
namespace roofline {
namespace {

#define RL_FMLA(i) "fmla v" #i ".4s, v28.4s, v29.4s\n\t"
// v16 is the 16-bit temporary of every group (renamed by the core).
#define RL_SMULL(i)                                                 \
  "smull v16.8h, v28.8b, v29.8b\n\t"                                \
  "smlal2 v16.8h, v28.16b, v29.16b\n\t"                             \
  "sadalp v" #i ".4s, v16.8h\n\t"
#define RL_MUL(i) "mul v16.16b, v28.16b, v29.16b\n\tsadalp v" #i ".8h, v16.16b\n\t"

void fmla(int64_t n) {
  const uint32_t a = 0, b = 0;  // fp32 zeros: no denormals
  RL_LOOP(RL_R16(RL_FMLA));
}

void smull(int64_t n) {
  const uint32_t a = 3, b = 5;
  RL_LOOP(RL_R12(RL_SMULL));
}

void mul_sadalp(int64_t n) {
  const uint32_t a = 3, b = 5;
  RL_LOOP(RL_R12(RL_MUL));
}

uint64_t read_q(const void* p, size_t bytes) {
  // RL_STREAMS interleaved streams, one 64-byte line of each per step (roofline.h says why).
  const size_t seg = bytes / RL_STREAMS / 64 * 64;
  const uint8_t* v = static_cast<const uint8_t*>(p);
  uint64x2_t s[RL_STREAMS];
  for (uint64x2_t& x : s) x = vdupq_n_u64(0);
  for (size_t off = 0; off < seg; off += 64)
    for (int j = 0; j < RL_STREAMS; ++j) {
      const uint8x16x4_t x = vld1q_u8_x4(v + j * seg + off);
      const uint64x2_t a = vaddq_u64(vreinterpretq_u64_u8(x.val[0]), vreinterpretq_u64_u8(x.val[1]));
      const uint64x2_t c = vaddq_u64(vreinterpretq_u64_u8(x.val[2]), vreinterpretq_u64_u8(x.val[3]));
      s[j] = vaddq_u64(s[j], vaddq_u64(a, c));
    }
  for (size_t i = RL_STREAMS * seg; i < bytes; i += 16)  // the tail (bytes is a multiple of 256)
    s[0] = vaddq_u64(s[0], vreinterpretq_u64_u8(vld1q_u8(v + i)));
  for (int j = 1; j < RL_STREAMS; ++j) s[0] = vaddq_u64(s[0], s[j]);
  return vgetq_lane_u64(s[0], 0) + vgetq_lane_u64(s[0], 1);
}

const Probe kProbes[] = {
    {"fmla.4s", "neon", "fmla v.4s: 4 fp32 multiply-adds", 16 * 8.0, fmla},
    {"smull+smlal2+sadalp", "neon", "smull + smlal2 + sadalp: 16 s8 MACs into int32",
     12 * 32.0, smull},
    {"mul+sadalp", "neon", "mul v.16b + sadalp: 16 byte MACs into int16", 12 * 32.0,
     mul_sadalp},
};
const Reader kReaders[] = {{"read.q", "neon", read_q}};

}  // namespace

List list_neon() { return {kProbes, 3, kReaders, 1}; }

}  // namespace roofline
}  // namespace lowbit
