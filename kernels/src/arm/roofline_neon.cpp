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
  const uint8_t* v = static_cast<const uint8_t*>(p);
  uint64x2_t s0 = vdupq_n_u64(0), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i < bytes; i += 64) {
    const uint8x16x4_t x = vld1q_u8_x4(v + i);
    s0 = vaddq_u64(s0, vreinterpretq_u64_u8(x.val[0]));
    s1 = vaddq_u64(s1, vreinterpretq_u64_u8(x.val[1]));
    s2 = vaddq_u64(s2, vreinterpretq_u64_u8(x.val[2]));
    s3 = vaddq_u64(s3, vreinterpretq_u64_u8(x.val[3]));
  }
  const uint64x2_t s = vaddq_u64(vaddq_u64(s0, s1), vaddq_u64(s2, s3));
  return vgetq_lane_u64(s, 0) + vgetq_lane_u64(s, 1);
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
