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

// Variants that read the same packed B (same format, tier, nr, kb, B element and offset)
// differ only in mr; for M < mr the driver takes the smallest mr >= M, so a GEMV does not
// multiply padding rows.  Resolved here once, not on every call.
void resolve_companions(PackedB& pb) {
  const KernelDesc& d = *pb.desc;
  pb.for_m.assign(size_t(d.mr), {&d, 0});
  for (const KernelDesc* k : all_kernels()) {
    const bool same_b = k->format == d.format && std::strcmp(k->tier, d.tier) == 0 &&
                        k->nr == d.nr && k->kb == d.kb && k->b_elem == d.b_elem &&
                        k->b_offset == d.b_offset && k->a_elem == d.a_elem && k->ka == d.ka &&
                        k->a_offset == d.a_offset;
    if (!same_b || k->mr >= d.mr) continue;
    for (int64_t m = 1; m <= k->mr; ++m)
      if (k->mr < pb.for_m[size_t(m)].desc->mr) pb.for_m[size_t(m)].desc = k;
  }
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
  resolve_companions(*pb);

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
  pb->ranges = r;
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
  pb->w_dev_min = int64_t(lo) - zero_point;
  pb->w_dev_max = int64_t(hi) - zero_point;
  for (auto& c : pb->for_m) c.flush_k = c.desc == &d ? pb->flush_k : flush_period(*c.desc, p);
  pb->colsum32.resize(size_t(N));
  for (int64_t j = 0; j < N; ++j) pb->colsum32[size_t(j)] = uint32_t(uint64_t(pb->colsum[size_t(j)]));
  return pb;
}

namespace {

// Staging chunk of one row (elements; a multiple of every ka).
constexpr int64_t kStage = 2048;

// Contiguous convert of one row segment into the staging buffer: k >= kend stored as 0.
template <typename Src, typename Dst>
void stage_row(const Src* src, int64_t n_real, int64_t n, int32_t offset, Dst* st) {
  for (int64_t k = 0; k < n_real; ++k) {
    if constexpr (std::is_floating_point_v<Src>) st[k] = Dst(src[k]);
    else st[k] = Dst(int32_t(src[k]) + offset);  // range checked below before any use
  }
  for (int64_t k = n_real; k < n; ++k) st[k] = Dst(0);
}

// Row r of a micro-panel: dst[(g*mr + r)*KA + u] = st[g*KA + u].
template <int KA, typename Dst>
void scatter_row(const Dst* st, int64_t n, int mr, int r, Dst* panel) {
  Dst* d = panel + int64_t(r) * KA;
  const int64_t stride = int64_t(mr) * KA;
  for (int64_t g = 0; g < n / KA; ++g, d += stride, st += KA) {
    Dst v[KA];
    std::memcpy(v, st, sizeof v);
    std::memcpy(d, v, sizeof v);
  }
}

template <typename Dst>
void scatter_any(int ka, const Dst* st, int64_t n, int mr, int r, Dst* panel) {
  switch (ka) {
    case 1: return scatter_row<1>(st, n, mr, r, panel);
    case 2: return scatter_row<2>(st, n, mr, r, panel);
    case 4: return scatter_row<4>(st, n, mr, r, panel);
    case 8: return scatter_row<8>(st, n, mr, r, panel);
    default:
      for (int64_t g = 0; g < n / ka; ++g)
        for (int u = 0; u < ka; ++u) panel[(g * mr + r) * ka + u] = st[g * ka + u];
  }
}

template <typename Src, typename Dst>
void pack_a_panel(const KernelDesc& d, const Src* x, int64_t M, int64_t K, int64_t Kp,
                  int64_t ldx, int64_t i0, const ACheck* chk, Dst* panel, ARowStats* stats) {
  alignas(64) Dst st[kStage];
  const int mr = d.mr;
  const int32_t offset = chk ? chk->a_offset : 0;
  for (int r = 0; r < mr; ++r) {
    const int64_t i = i0 + r;
    const bool real = i < M;
    int64_t sum = 0, pos = 0;
    for (int64_t k0 = 0; k0 < Kp; k0 += kStage) {
      const int64_t n = std::min(kStage, Kp - k0);
      const int64_t n_real = real ? std::clamp<int64_t>(K - k0, 0, n) : 0;
      stage_row(x + (real ? i * ldx + k0 : 0), n_real, n, offset, st);
      if constexpr (!std::is_floating_point_v<Dst>) {
        if (chk && n_real) {
          // Check and sum the staged codes: exactly the ones scattered below.
          int lo = INT32_MAX, hi = INT32_MIN;
          int32_t s = 0, p = 0;  // n_real * 510 fits
          for (int64_t k = 0; k < n_real; ++k) {
            const int32_t v = st[k];
            lo = std::min(lo, v);
            hi = std::max(hi, v);
            s += v;
            p += std::max(v - chk->centre, 0);
          }
          if (lo < chk->lo || hi > chk->hi) {
            int64_t k = 0;
            while (int(st[k]) >= chk->lo && int(st[k]) <= chk->hi) ++k;
            throw std::invalid_argument(
                std::string(chk->format) + ": activation code " +
                std::to_string((int(st[k]) - chk->a_offset) & 255) + " at [" + std::to_string(i) +
                ", " + std::to_string(k0 + k) + "] outside [" +
                std::to_string(chk->lo - chk->a_offset) + ", " +
                std::to_string(chk->hi - chk->a_offset) + "]");
          }
          sum += s;
          pos += p;
        }
      }
      scatter_any(d.ka, st, n, mr, r, panel + k0 * mr);
    }
    if (real && stats) stats[r] = {sum, pos};
  }
}

}  // namespace

void pack_a(const KernelDesc& d, const void* x, int64_t M, int64_t K, int64_t Kp, int64_t ldx,
            int64_t i0, const ACheck* check, uint8_t* out, ARowStats* stats) {
  const uint8_t* xu = static_cast<const uint8_t*>(x);
  switch (d.a_elem) {
    case Elem::kF32:
      pack_a_panel<float, float>(d, static_cast<const float*>(x), M, K, Kp, ldx, i0, nullptr,
                                 reinterpret_cast<float*>(out), nullptr);
      break;
    case Elem::kU8:
      pack_a_panel<uint8_t, uint8_t>(d, xu, M, K, Kp, ldx, i0, check, out, stats);
      break;
    case Elem::kS8:
      pack_a_panel<uint8_t, int8_t>(d, xu, M, K, Kp, ldx, i0, check,
                                    reinterpret_cast<int8_t*>(out), stats);
      break;
    case Elem::kS16:
      pack_a_panel<uint8_t, int16_t>(d, xu, M, K, Kp, ldx, i0, check,
                                     reinterpret_cast<int16_t*>(out), stats);
      break;
    case Elem::kU4:
      throw std::logic_error(std::string(d.name) + ": kU4 is a B-only element type");
  }
}

}  // namespace lowbit
