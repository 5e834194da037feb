// Format rules and the derived flush period (docs/formats.md).
#include <algorithm>
#include <cstring>
#include <numeric>

#include "internal.h"

namespace lowbit {

const char* format_name(Format f) {
  switch (f) {
    case Format::kFp32: return "fp32";
    case Format::kInt8: return "int8";
    case Format::kInt4: return "int4";
    case Format::kQ46: return "4.6bit";
  }
  return "?";
}

const std::vector<Format>& all_formats() {
  static const std::vector<Format> v{Format::kFp32, Format::kInt8, Format::kInt4, Format::kQ46};
  return v;
}

Format parse_format(const std::string& name) {
  std::string known;
  for (Format f : all_formats()) {
    if (name == format_name(f)) return f;
    known += std::string(known.empty() ? "" : ", ") + format_name(f);
  }
  throw std::invalid_argument("unknown format '" + name + "' (expected one of " + known + ")");
}

int q46_act_levels(int weight_levels) {
  if (weight_levels < 3 || weight_levels > 255 || weight_levels % 2 == 0)
    throw std::invalid_argument("4.6bit: weight_levels must be odd and in 3..255, got " +
                                std::to_string(weight_levels));
  return 2 * (127 / ((weight_levels - 1) / 2)) + 1;
}

// The one place the 4.6bit defaults and the "only one level count given" rules live:
// no weight_levels -> N_w = 21; no act_levels -> the N_x the rule gives for N_w.
FormatParams format_params(Format f, std::optional<int> act_levels,
                           std::optional<int> weight_levels) {
  FormatParams p;
  if (f != Format::kQ46) {
    if (act_levels || weight_levels)
      throw std::invalid_argument(std::string("format ") + format_name(f) +
                                  " takes no act_levels/weight_levels parameters");
    return p;
  }
  p.weight_levels = weight_levels ? *weight_levels : kQ46DefaultWeightLevels;
  p.act_levels = act_levels ? *act_levels : q46_act_levels(p.weight_levels);
  format_ranges(f, p);  // validates the pair
  return p;
}

FormatParams normalize_params(Format f, FormatParams p) {
  auto given = [](int v) { return v ? std::optional<int>(v) : std::nullopt; };
  return format_params(f, given(p.act_levels), given(p.weight_levels));
}

int q46_centre(const FormatParams& p) { return -(p.act_levels - 1) / 2; }
int q46_shift(const FormatParams& p) { return (p.weight_levels - 1) / 2; }

FormatRanges format_ranges(Format f, const FormatParams& p) {
  switch (f) {
    case Format::kFp32: return {0, 0, 0, 0, 0, 0, 0, 0};
    case Format::kInt8: return {0, 255, -128, 127, 0, 255, -128, 127};
    case Format::kInt4: return {0, 15, 0, 15, 0, 15, 0, 15};
    case Format::kQ46: {
      // Weights: N_w = 2b+1 symmetric levels [-b, b]; activations N_x = 2a+1 levels,
      // a = floor(127/b), so |(x-a) * w| <= a*b <= 127 fits a signed byte.
      const int nw = p.weight_levels, nx = p.act_levels;
      const int nx_rule = q46_act_levels(nw);
      const int b = (nw - 1) / 2;
      const int a = (nx_rule - 1) / 2;
      if (nx != nx_rule)
        throw std::invalid_argument(
            "4.6bit: (act_levels, weight_levels) = (" + std::to_string(nx) + ", " +
            std::to_string(nw) + ") breaks the rule N_x = 2*floor(127/b)+1 with N_w = 2b+1; "
            "for weight_levels=" + std::to_string(nw) + " use act_levels=" +
            std::to_string(nx_rule));
      return {0, 2 * a, -b, b, 0, 2 * a, 0, 0};
    }
  }
  throw std::logic_error("bad format");
}

size_t elem_bits(Elem e) {
  switch (e) {
    case Elem::kF32: return 32;
    case Elem::kU8: return 8;
    case Elem::kS8: return 8;
    case Elem::kS16: return 16;
    case Elem::kU4: return 4;
  }
  return 0;
}

int KernelDesc::kpad() const {
  int kbb = b_elem == Elem::kU4 ? 2 * kb : kb;  // nibble blocks pair two k-groups
  return std::lcm(ka, kbb);
}

int64_t flush_period(const KernelDesc& d, const FormatParams& p) {
  if (d.acc_bits != 16) return 0;
  const FormatRanges r = format_ranges(d.format, p);
  const int ao = d.a_offset ? d.a_offset(p) : 0;
  const int bo = d.b_offset ? d.b_offset(p) : 0;
  const int64_t a_lo = r.x_min + ao, a_hi = r.x_max + ao;
  const int64_t b_lo = r.w_min + bo, b_hi = r.w_max + bo;
  const int64_t amax = std::max(std::llabs(a_lo), std::llabs(a_hi));
  const int64_t bmax = std::max(std::llabs(b_lo), std::llabs(b_hi));
  // One step adds terms_per_step products to a lane; bound its magnitude.
  const int64_t step = int64_t(d.terms_per_step) * amax * bmax;
  if (d.step_saturates && step > 32767)
    throw std::invalid_argument(std::string(d.name) + ": one step can reach " +
                                std::to_string(step) + " and would saturate int16");
  if (d.lane_unsigned && (a_lo < 0 || b_lo < 0))
    throw std::logic_error(std::string(d.name) + ": unsigned lanes need non-negative operands");
  const int64_t limit = d.lane_unsigned ? 65535 : 32767;
  const int64_t steps = step ? limit / step : limit;
  int64_t k = steps * d.kb;
  k -= k % d.kpad();
  if (k < d.kpad())
    throw std::invalid_argument(std::string(d.name) + ": 16-bit lanes cannot hold one k-block");
  return k;
}

AlignedBytes aligned_bytes(size_t n, bool zero) {
  size_t size = (std::max<size_t>(n, 1) + 63) / 64 * 64;
  void* ptr = std::aligned_alloc(64, size);
  if (!ptr) throw std::bad_alloc();
  if (zero) std::memset(ptr, 0, size);
  return AlignedBytes(static_cast<uint8_t*>(ptr));
}

}  // namespace lowbit
