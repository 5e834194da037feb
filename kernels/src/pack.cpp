// Generic packing for every layout a KernelDesc can ask for (kernel.h).
#include <algorithm>
#include <cstring>
#include <climits>
#include <type_traits>

#include "internal.h"

namespace lowbit {
namespace {

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

void check_stored_fits(const KernelDesc& d, Elem e, int lo, int hi, const char* what) {
  int emin = 0, emax = 0;
  switch (e) {
    case Elem::kU8: emin = 0; emax = 255; break;
    case Elem::kS8: emin = -128; emax = 127; break;
    case Elem::kS16: emin = -32768; emax = 32767; break;
    case Elem::kU4: emin = 0; emax = 15; break;
    case Elem::kF32: return;
  }
  if (lo < emin || hi > emax)
    throw std::logic_error(std::string(d.name) + ": stored " + what + " range [" +
                           std::to_string(lo) + ", " + std::to_string(hi) +
                           "] does not fit its element type");
}

}  // namespace

std::unique_ptr<PackedB> pack_b(const KernelDesc& d, const void* w, int64_t K, int64_t N,
                                int64_t ldw, int32_t zero_point, const FormatParams& p) {
  if (K < 1 || N < 1) throw std::invalid_argument("weights must have K >= 1 and N >= 1");
  auto pb = std::make_unique<PackedB>();
  pb->desc = &d;
  pb->format = d.format;
  pb->params = p;
  pb->K = K;
  pb->N = N;
  pb->Kp = round_up(K, d.kpad());
  pb->n_panels = (N + d.nr - 1) / d.nr;
  pb->zero_point = zero_point;
  const int64_t bits = int64_t(elem_bits(d.b_elem));
  pb->panel_bytes = pb->Kp * d.nr * bits / 8;
  pb->data_bytes = size_t(pb->panel_bytes * pb->n_panels);
  pb->data = aligned_bytes(pb->data_bytes);
  uint8_t* out = pb->data.get();

  if (d.format == Format::kFp32) {
    if (zero_point != 0) throw std::invalid_argument("fp32 weights take no zero point");
    const float* src = static_cast<const float*>(w);
    for (int64_t j = 0; j < pb->n_panels; ++j) {
      float* panel = reinterpret_cast<float*>(out + j * pb->panel_bytes);
      for (int64_t g = 0; g < pb->Kp / d.kb; ++g)
        for (int c = 0; c < d.nr; ++c)
          for (int u = 0; u < d.kb; ++u) {
            const int64_t k = g * d.kb + u, n = j * d.nr + c;
            panel[(g * d.nr + c) * d.kb + u] = (k < K && n < N) ? src[k * ldw + n] : 0.0f;
          }
    }
    return pb;
  }

  const FormatRanges r = format_ranges(d.format, p);
  if (zero_point < r.zw_min || zero_point > r.zw_max)
    throw std::invalid_argument(std::string(format_name(d.format)) + ": weight zero_point " +
                                std::to_string(zero_point) + " outside [" +
                                std::to_string(r.zw_min) + ", " + std::to_string(r.zw_max) +
                                "]");
  pb->b_offset = d.b_offset ? d.b_offset(p) : 0;
  pb->flush_k = flush_period(d, p);
  check_stored_fits(d, d.b_elem, r.w_min + pb->b_offset, r.w_max + pb->b_offset, "weight");

  // One pass per N panel, k-major so each source row segment is read contiguously:
  // validate the codes, sum the stored values per column, track max |w - zp|, and write
  // the packed layout.  Specialised per (source signedness, stored element) so the inner
  // loop has no per-element dispatch.
  pb->colsum.assign(size_t(N), 0);
  const int nr = d.nr, kb = d.kb;
  const int64_t block = int64_t(nr) * kb;  // bytes of one k-group (one nibble half-block)
  int lo = INT32_MAX, hi = INT32_MIN;
  auto run = [&](auto src_tag, auto dst_tag, auto nibble) {
    using Src = decltype(src_tag);
    using Dst = decltype(dst_tag);
    constexpr bool kNibble = decltype(nibble)::value;
    for (int64_t j = 0; j < pb->n_panels; ++j) {
      uint8_t* panel = out + j * pb->panel_bytes;
      const int64_t n0 = j * nr;
      const int cols = int(std::min<int64_t>(nr, N - n0));
      int64_t* colsum = pb->colsum.data() + n0;
      for (int64_t k = 0; k < K; ++k) {
        const int64_t g = k / kb, u = k % kb;
        const Src* row = reinterpret_cast<const Src*>(static_cast<const uint8_t*>(w) + k * ldw) + n0;
        for (int c = 0; c < cols; ++c) {
          const int v = int(row[c]);
          lo = std::min(lo, v);
          hi = std::max(hi, v);
          const int s_v = v + pb->b_offset;
          colsum[c] += s_v;
          if constexpr (kNibble) {
            // Block h = g/2 holds group 2h in the low nibbles, group 2h+1 in the high.
            panel[(g / 2) * block + c * kb + u] |= uint8_t((s_v & 15) << (4 * (g & 1)));
          } else {
            reinterpret_cast<Dst*>(panel)[g * block + c * kb + u] = Dst(s_v);
          }
        }
      }
    }
  };
  using No = std::false_type;
  using Yes = std::true_type;
  const bool src_signed = d.format == Format::kInt8 || d.format == Format::kQ46;
  switch (d.b_elem) {
    case Elem::kU4:
      if (src_signed) throw std::logic_error(std::string(d.name) + ": nibbles need unsigned codes");
      run(uint8_t{}, uint8_t{}, Yes{});
      break;
    case Elem::kU8:
      src_signed ? run(int8_t{}, uint8_t{}, No{}) : run(uint8_t{}, uint8_t{}, No{});
      break;
    case Elem::kS8:
      src_signed ? run(int8_t{}, int8_t{}, No{}) : run(uint8_t{}, int8_t{}, No{});
      break;
    case Elem::kS16:
      src_signed ? run(int8_t{}, int16_t{}, No{}) : run(uint8_t{}, int16_t{}, No{});
      break;
    case Elem::kF32:
      throw std::logic_error(std::string(d.name) + ": float B for an integer format");
  }
  if (lo < r.w_min || hi > r.w_max) {
    // Report the first offending code (slow path, only on error).
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) {
        const uint8_t* p8 = static_cast<const uint8_t*>(w) + k * ldw + n;
        const int v = src_signed ? int(int8_t(*p8)) : int(*p8);
        if (v < r.w_min || v > r.w_max)
          throw std::invalid_argument(
              std::string(format_name(d.format)) + ": weight code " + std::to_string(v) +
              " at [" + std::to_string(k) + ", " + std::to_string(n) + "] outside [" +
              std::to_string(r.w_min) + ", " + std::to_string(r.w_max) + "]");
      }
  }
  const int64_t max_abs = std::max(std::llabs(int64_t(lo) - zero_point), std::llabs(int64_t(hi) - zero_point));
  pb->max_abs_w = max_abs;
  return pb;
}

namespace {

template <typename Dst, typename Src>
inline Dst convert(Src v, int32_t offset) {
  if constexpr (std::is_floating_point_v<Src>) return Dst(v);
  else return Dst(int32_t(v) + offset);  // ranges checked: the narrowing is exact
}

// Row r of a packed A panel: dst[(g*mr + r)*ka + u] = src[k0 + g*ka + u] + offset.
template <typename Src, typename Dst>
void pack_a_rows(const Src* x, int64_t M, int64_t K, int64_t ldx, int32_t offset, int mr, int ka,
                 int64_t i0, int64_t mc, int64_t k0, int64_t kc, Dst* out) {
  const int64_t groups = kc / ka;
  for (int64_t ip = 0; ip < mc; ip += mr) {
    Dst* panel = out + (ip / mr) * int64_t(mr) * kc;
    for (int r = 0; r < mr; ++r) {
      const int64_t i = i0 + ip + r;
      const int64_t kend = i < M ? std::min<int64_t>(K, k0 + kc) : k0;
      const Src* src = x + (i < M ? i * ldx : 0);
      const int64_t full = (kend - k0) / ka;  // groups entirely inside the row
      for (int64_t g = 0; g < full; ++g) {
        Dst* d = panel + (g * mr + r) * ka;
        const Src* s = src + k0 + g * ka;
        for (int u = 0; u < ka; ++u) d[u] = convert<Dst>(s[u], offset);
      }
      for (int64_t g = full; g < groups; ++g)
        for (int u = 0; u < ka; ++u) {
          const int64_t k = k0 + g * ka + u;
          panel[(g * mr + r) * ka + u] = k < kend ? convert<Dst>(src[k], offset) : Dst(0);
        }
    }
  }
}

}  // namespace

void pack_a(const KernelDesc& d, const void* x, int64_t M, int64_t K, int64_t ldx,
            int32_t a_offset, int64_t i0, int64_t mc, int64_t k0, int64_t kc, uint8_t* out) {
  const uint8_t* xu = static_cast<const uint8_t*>(x);
  switch (d.a_elem) {
    case Elem::kF32:
      pack_a_rows<float, float>(static_cast<const float*>(x), M, K, ldx, 0, d.mr, d.ka, i0, mc,
                                k0, kc, reinterpret_cast<float*>(out));
      break;
    case Elem::kU8:
      pack_a_rows<uint8_t, uint8_t>(xu, M, K, ldx, a_offset, d.mr, d.ka, i0, mc, k0, kc, out);
      break;
    case Elem::kS8:
      // uint8 + offset computed in int via integer promotion, then narrowed (checked range).
      pack_a_rows<uint8_t, int8_t>(xu, M, K, ldx, a_offset, d.mr, d.ka, i0, mc, k0, kc,
                                   reinterpret_cast<int8_t*>(out));
      break;
    case Elem::kS16:
      pack_a_rows<uint8_t, int16_t>(xu, M, K, ldx, a_offset, d.mr, d.ka, i0, mc, k0, kc,
                                    reinterpret_cast<int16_t*>(out));
      break;
    case Elem::kU4:
      throw std::logic_error(std::string(d.name) + ": kU4 is a B-only element type");
  }
}

}  // namespace lowbit
