// Generic packing for every layout a KernelDesc can ask for (kernel.h).
#include <algorithm>
#include <cstring>
#include <climits>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif
// The AVX-512BW pack for the AMX layout, chosen at run time (not in the SIMDe-emulated
// build, whose tiers run on CPUs without AVX-512).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(LOWBIT_X86_EMULATE)
#include <immintrin.h>
#define LB_PACK_AVX512 1
#endif

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

std::unique_ptr<PackedB> pack_b(const KernelFamily& f, int tile, const void* w, int64_t K,
                                int64_t N, int64_t ldw, int32_t zero_point, const FormatParams& p) {
  if (K < 1 || N < 1) throw std::invalid_argument("weights must have K >= 1 and N >= 1");
  if (tile < 0 || tile >= f.count) throw std::logic_error("pack_b: no such tile in the family");
  const KernelDesc& d = *f.tiles[tile];
  auto pb = std::make_unique<PackedB>();
  pb->family = &f;
  pb->tile = tile;
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
  pb->tile_flush_k.assign(size_t(f.count), 0);

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
  for (int i = 0; i < f.count; ++i)
    pb->tile_flush_k[size_t(i)] = i == tile ? pb->flush_k
                                  : f.tiles[i]->mr < d.mr ? flush_period(*f.tiles[i], p) : -1;
  pb->colsum32.resize(size_t(N));
  for (int64_t j = 0; j < N; ++j) pb->colsum32[size_t(j)] = uint32_t(uint64_t(pb->colsum[size_t(j)]));
  return pb;
}

const PackedB& narrow_packing(const PackedB& b) {
  std::call_once(b.narrow_once, [&b] {
    const KernelDesc& nd = *b.desc->narrow;
    const KernelDesc& d = *b.desc;
    if (nd.nr != d.nr || elem_bits(nd.b_elem) != 8 || elem_bits(d.b_elem) != 8 ||
        nd.b_offset != d.b_offset || nd.format != d.format)
      throw std::logic_error(std::string(nd.name) + ": not a narrow companion of " + d.name);
    auto nb = std::make_unique<PackedB>();
    nb->desc = &nd;
    nb->format = b.format;
    nb->params = b.params;
    nb->K = b.K;
    nb->N = b.N;
    nb->Kp = round_up(b.K, nd.kpad());
    nb->n_panels = b.n_panels;
    nb->panel_bytes = nb->Kp * nd.nr;
    nb->data_bytes = size_t(nb->panel_bytes * nb->n_panels);
    nb->data = aligned_bytes(nb->data_bytes);
    nb->zero_point = b.zero_point;
    nb->b_offset = b.b_offset;
    nb->flush_k = flush_period(nd, b.params);
    nb->max_abs_w = b.max_abs_w;
    nb->w_dev_min = b.w_dev_min;
    nb->w_dev_max = b.w_dev_max;
    nb->ranges = b.ranges;
    nb->colsum = b.colsum;
    nb->colsum32 = b.colsum32;
    // Same stored bytes, k grouped by nd.kb instead of d.kb (k >= K stays 0).
    const int64_t nr = d.nr, kb1 = d.kb, kb2 = nd.kb;
    for (int64_t j = 0; j < b.n_panels; ++j) {
      const uint8_t* src = b.data.get() + j * b.panel_bytes;
      uint8_t* dst = nb->data.get() + j * nb->panel_bytes;
      for (int64_t k = 0; k < b.K; ++k)
        for (int64_t c = 0; c < nr; ++c)
          dst[((k / kb2) * nr + c) * kb2 + k % kb2] = src[((k / kb1) * nr + c) * kb1 + k % kb1];
    }
    b.narrow_b = std::move(nb);
  });
  return *b.narrow_b;
}

namespace {

// Staging chunk of one row (codes; a multiple of every ka).
constexpr int64_t kStage = 2048;

// Running min / max of the codes of one micro-panel, and per-row sums.
struct CodeRange {
#if defined(__SSE2__)
  __m128i lo = _mm_set1_epi8(char(0xFF)), hi = _mm_setzero_si128();
#endif
  uint8_t slo = 255, shi = 0;
  // The smallest (Min = true) or largest code seen.
  template <bool Min>
  int all() const {
    uint8_t m = Min ? slo : shi;
#if defined(__SSE2__)
    alignas(16) uint8_t b[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(b), Min ? lo : hi);
    for (uint8_t c : b) m = Min ? std::min(m, c) : std::max(m, c);
#endif
    return m;
  }
};

// Adds n codes (n a multiple of 16 where SSE2 is there) to the range; returns their sum and
// their sum of max(v - zx, 0) (zx in 0..255).
// With copy_to, each 16-code vector is also stored there: the codes summed are the codes
// copied, in one pass.
void code_stats(const uint8_t* v, int64_t n, int zx, CodeRange& rg, int64_t& sum_out,
                int64_t& pos_out, uint8_t* copy_to = nullptr) {
  int64_t k = 0;
  uint64_t sum = 0, pos = 0;
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128(), z = _mm_set1_epi8(char(zx));
  __m128i vsum = zero, vpos = zero, vlo = rg.lo, vhi = rg.hi;
  for (; k + 16 <= n; k += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v + k));
    if (copy_to) _mm_storeu_si128(reinterpret_cast<__m128i*>(copy_to + k), x);
    vlo = _mm_min_epu8(vlo, x);
    vhi = _mm_max_epu8(vhi, x);
    vsum = _mm_add_epi64(vsum, _mm_sad_epu8(x, zero));
    vpos = _mm_add_epi64(vpos, _mm_sad_epu8(_mm_subs_epu8(x, z), zero));
  }
  rg.lo = vlo;
  rg.hi = vhi;
  vsum = _mm_add_epi64(vsum, _mm_unpackhi_epi64(vsum, vsum));
  vpos = _mm_add_epi64(vpos, _mm_unpackhi_epi64(vpos, vpos));
  sum = uint64_t(_mm_cvtsi128_si64(vsum));
  pos = uint64_t(_mm_cvtsi128_si64(vpos));
#endif
  for (; k < n; ++k) {
    if (copy_to) copy_to[k] = v[k];
    rg.slo = std::min(rg.slo, v[k]);
    rg.shi = std::max(rg.shi, v[k]);
    sum += v[k];
    pos += v[k] > zx ? v[k] - zx : 0;
  }
  sum_out += int64_t(sum);
  pos_out += int64_t(pos);
}

// Row r of a micro-panel from n staged codes (n a multiple of KA; st readable to n + 16):
// panel[(g*mr + r)*KA + u] = Dst(st[g*KA + u] + offset).
template <int KA, typename Dst>
void scatter_row(const uint8_t* st, int64_t n, int32_t offset, int mr, int r, Dst* panel) {
  Dst* d = panel + int64_t(r) * KA;
  const int64_t stride = int64_t(mr) * KA, groups = n / KA;
  int64_t g = 0;
#if defined(__SSE2__)
  // 4-byte groups (2 x int16 or 4 x int8): 16 codes per load, one 32-bit store per group.
  // st must be readable 16 bytes past n (the staging buffer is): the last block stores only
  // its groups below `groups`.
  if constexpr (KA * sizeof(Dst) == 4) {
    const __m128i zero = _mm_setzero_si128();
    for (; g < groups; g += 16 / KA) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(st + g * KA));
      __m128i h[2];
      if constexpr (sizeof(Dst) == 2) {
        const __m128i o = _mm_set1_epi16(int16_t(offset));
        h[0] = _mm_add_epi16(_mm_unpacklo_epi8(x, zero), o);
        h[1] = _mm_add_epi16(_mm_unpackhi_epi8(x, zero), o);
      } else {
        h[0] = _mm_add_epi8(x, _mm_set1_epi8(char(offset)));  // codes checked: no wrap
      }
      for (int part = 0; part < int(sizeof(Dst)); ++part) {
        __m128i v = h[part];
        for (int j = 0; j < 4 && g + part * 4 + j < groups; ++j) {
          const int32_t w = _mm_cvtsi128_si32(v);
          std::memcpy(d + (g + part * 4 + j) * stride, &w, 4);
          v = _mm_srli_si128(v, 4);
        }
      }
    }
  }
  // Byte groups of 16 or more (the AMX layout, KA = 64): whole 16-byte vectors per group.
  if constexpr (sizeof(Dst) == 1 && KA % 16 == 0) {
    const __m128i o = _mm_set1_epi8(char(offset));  // codes checked: no wrap
    for (; g < groups; ++g)
      for (int u = 0; u < KA; u += 16)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + g * stride + u),
                         _mm_add_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(st + g * KA + u)), o));
  }
#endif
  for (; g < groups; ++g)
    for (int u = 0; u < KA; ++u) d[g * stride + u] = Dst(int32_t(st[g * KA + u]) + offset);
}

#if defined(__SSE2__)
// Four staged rows r0..r0+3 of n codes (n a multiple of 4; rows readable to n + 16) into the
// byte layout [n/4][mr][4]: a 4x4 transpose of 4-byte groups, then one 16-byte store per
// group (rows r0..r0+3 of a group are adjacent).  Stored = code + offset (mod 256).
void scatter4_c4(const uint8_t (*st)[kStage + 16], int64_t n, int32_t offset, int mr, int r0,
                 uint8_t* panel) {
  const int64_t groups = n / 4, stride = int64_t(mr) * 4;
  uint8_t* d = panel + int64_t(r0) * 4;
  const __m128i o = _mm_set1_epi8(char(offset));
  int64_t g = 0;
  for (; g + 4 <= groups; g += 4) {
    const __m128i a0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(st[0] + g * 4));
    const __m128i a1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(st[1] + g * 4));
    const __m128i a2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(st[2] + g * 4));
    const __m128i a3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(st[3] + g * 4));
    const __m128i t0 = _mm_unpacklo_epi32(a0, a1), t1 = _mm_unpacklo_epi32(a2, a3);
    const __m128i t2 = _mm_unpackhi_epi32(a0, a1), t3 = _mm_unpackhi_epi32(a2, a3);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + g * stride),
                     _mm_add_epi8(_mm_unpacklo_epi64(t0, t1), o));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + (g + 1) * stride),
                     _mm_add_epi8(_mm_unpackhi_epi64(t0, t1), o));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + (g + 2) * stride),
                     _mm_add_epi8(_mm_unpacklo_epi64(t2, t3), o));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + (g + 3) * stride),
                     _mm_add_epi8(_mm_unpackhi_epi64(t2, t3), o));
  }
  for (; g < groups; ++g)
    for (int j = 0; j < 4; ++j)
      for (int u = 0; u < 4; ++u) d[g * stride + j * 4 + u] = uint8_t(st[j][g * 4 + u] + offset);
}
#endif

template <typename Dst>
void scatter_any(int ka, const uint8_t* st, int64_t n, int32_t offset, int mr, int r, Dst* panel) {
  switch (ka) {
    case 1: return scatter_row<1>(st, n, offset, mr, r, panel);
    case 2: return scatter_row<2>(st, n, offset, mr, r, panel);
    case 4: return scatter_row<4>(st, n, offset, mr, r, panel);
    case 8: return scatter_row<8>(st, n, offset, mr, r, panel);
    case 16: return scatter_row<16>(st, n, offset, mr, r, panel);
    case 64: return scatter_row<64>(st, n, offset, mr, r, panel);
    default:
      for (int64_t g = 0; g < n / ka; ++g)
        for (int u = 0; u < ka; ++u)
          panel[(g * mr + r) * ka + u] = Dst(int32_t(st[g * ka + u]) + offset);
  }
}

#if defined(LB_PACK_AVX512)
// The same for one 64-byte group per zmm (ka = 64, the AMX layout), on CPUs with AVX-512BW
// (every AMX CPU): the straddling group is a masked load (fault-suppressing: nothing past K
// is read), its lanes past K count as x_min in the sums (taken out below) and store 0.
__attribute__((target("avx512f,avx512bw"))) void pack_rows64_avx512(
    int mr, const uint8_t* x, int64_t M, int64_t K, int64_t Kp, int64_t ldx, int64_t i0,
    const ACheck& chk, uint8_t* out, ARowStats* stats, CodeRange& rg) {
  constexpr int ka = 64;
  const int64_t groups = Kp / ka, full = K / ka, tail = K - full * ka;
  const int64_t stride = int64_t(mr) * ka;
  const __m512i zero = _mm512_setzero_si512(), z = _mm512_set1_epi8(char(chk.zx));
  const __m512i o = _mm512_set1_epi8(char(chk.a_offset));  // codes checked: no wrap
  const __m512i fill = _mm512_set1_epi8(char(chk.x_min));
  const __mmask64 keep = tail ? (~uint64_t(0) >> (64 - tail)) : 0;
  const int64_t fill_pos = std::max(chk.x_min - chk.zx, 0);
  __m512i vlo = _mm512_set1_epi8(char(0xFF)), vhi = zero;
  for (int r = 0; r < mr; ++r) {
    const int64_t i = i0 + r;
    uint8_t* dst = out + int64_t(r) * ka;
    if (i >= M) {
      for (int64_t g = 0; g < groups; ++g) _mm512_storeu_si512(dst + g * stride, zero);
      continue;
    }
    const uint8_t* src = x + i * ldx;
    __m512i vsum = zero, vpos = zero;
#define LB_GROUP_STATS(v)                                                                \
  vlo = _mm512_min_epu8(vlo, v);                                                         \
  vhi = _mm512_max_epu8(vhi, v);                                                         \
  vsum = _mm512_add_epi64(vsum, _mm512_sad_epu8(v, zero));                               \
  vpos = _mm512_add_epi64(vpos, _mm512_sad_epu8(_mm512_subs_epu8(v, z), zero))
    for (int64_t g = 0; g < full; ++g) {
      const __m512i v = _mm512_loadu_si512(src + g * ka);
      LB_GROUP_STATS(v);
      _mm512_storeu_si512(dst + g * stride, _mm512_add_epi8(v, o));
    }
    int64_t pad = 0;
    if (full < groups) {
      const __m512i v = _mm512_mask_loadu_epi8(fill, keep, src + full * ka);
      LB_GROUP_STATS(v);
      _mm512_storeu_si512(dst + full * stride, _mm512_maskz_add_epi8(keep, v, o));
      for (int64_t g = full + 1; g < groups; ++g) _mm512_storeu_si512(dst + g * stride, zero);
      pad = ka - tail;
    }
    // Through memory: GCC 12's extract intrinsics trip -Wuninitialized under target().
    alignas(64) int64_t ls[8], lp[8];
    _mm512_store_si512(ls, vsum);
    _mm512_store_si512(lp, vpos);
    int64_t sum = 0, pos = 0;
    for (int l = 0; l < 8; ++l) {
      sum += ls[l];
      pos += lp[l];
    }
    if (stats) stats[r] = {sum - pad * int64_t(chk.x_min), pos - pad * fill_pos};
  }
#undef LB_GROUP_STATS
  // Fold the 64 lanes into the 16 of the range.
  alignas(64) uint8_t blo[64], bhi[64];
  _mm512_store_si512(blo, vlo);
  _mm512_store_si512(bhi, vhi);
  for (int l = 0; l < 64; l += 16) {
    rg.lo = _mm_min_epu8(rg.lo, _mm_load_si128(reinterpret_cast<const __m128i*>(blo + l)));
    rg.hi = _mm_max_epu8(rg.hi, _mm_load_si128(reinterpret_cast<const __m128i*>(bhi + l)));
  }
}

bool has_avx512bw() {
  static const bool v = cpu_has_feature("avx512bw");
  return v;
}
#endif

#if defined(__SSE2__)
// Byte elements in groups of 16 or more (the AMX layout: ka = 64): every full group of a row
// goes straight from x into the panel, and the range and sums are taken from the very
// registers that are stored (so the checked codes are the multiplied ones without a staging
// copy).  The group straddling K, if any, goes through `st`.  Returns false when the layout
// does not qualify (then the staged path runs).
template <typename Dst>
bool pack_rows_direct(const KernelDesc& d, const uint8_t* x, int64_t M, int64_t K, int64_t Kp,
                      int64_t ldx, int64_t i0, const ACheck& chk, Dst* panel, ARowStats* stats,
                      CodeRange& rg) {
  const int mr = d.mr, ka = d.ka;
  if (sizeof(Dst) != 1 || ka % 16 != 0 || ka > 64 || Kp % ka != 0) return false;
#if defined(LB_PACK_AVX512)
  if (ka == 64 && has_avx512bw()) {
    pack_rows64_avx512(mr, x, M, K, Kp, ldx, i0, chk, reinterpret_cast<uint8_t*>(panel), stats, rg);
    return true;
  }
#endif
  uint8_t* out = reinterpret_cast<uint8_t*>(panel);
  const int64_t groups = Kp / ka, full = K / ka;
  const __m128i zero = _mm_setzero_si128(), z = _mm_set1_epi8(char(chk.zx));
  const __m128i o = _mm_set1_epi8(char(chk.a_offset));  // codes checked: no wrap
  const int64_t fill_pos = std::max(chk.x_min - chk.zx, 0);
  const __m128i lane = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const int64_t tail = K - full * ka;  // real codes of the group straddling K
  // The straddling groups of every row, staged first and padded with a valid code (taken
  // out of the sums below): staging them all before reading any keeps the reads clear of
  // the byte stores still in flight (a store-forwarding stall per row otherwise).
  alignas(64) uint8_t st[64 * 64];
  const int real_rows = int(std::clamp<int64_t>(M - i0, 0, mr));
  if (full < groups) {
    if (mr > 64) return false;
    for (int r = 0; r < real_rows; ++r) {
      std::memcpy(st + r * 64, x + (i0 + r) * ldx + full * ka, size_t(tail));
      std::memset(st + r * 64 + tail, chk.x_min, size_t(ka - tail));
    }
  }
  for (int r = 0; r < mr; ++r) {
    const int64_t i = i0 + r;
    uint8_t* dst = out + int64_t(r) * ka;
    const int64_t stride = int64_t(mr) * ka;
    if (i >= M) {
      for (int64_t g = 0; g < groups; ++g) std::memset(dst + g * stride, 0, size_t(ka));
      continue;
    }
    const uint8_t* src = x + i * ldx;
    __m128i vsum = zero, vpos = zero, vlo = rg.lo, vhi = rg.hi;
    // One group: ka codes from s (the first `valid` of them real) into d.
    auto group = [&](const uint8_t* s, uint8_t* dg, int valid) {
      for (int u = 0; u < ka; u += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + u));
        vlo = _mm_min_epu8(vlo, v);
        vhi = _mm_max_epu8(vhi, v);
        vsum = _mm_add_epi64(vsum, _mm_sad_epu8(v, zero));
        vpos = _mm_add_epi64(vpos, _mm_sad_epu8(_mm_subs_epu8(v, z), zero));
        __m128i out_v = _mm_add_epi8(v, o);
        if (valid < ka)  // codes below K, zeros from K on
          out_v = _mm_and_si128(out_v, _mm_cmplt_epi8(_mm_add_epi8(lane, _mm_set1_epi8(char(u))),
                                                       _mm_set1_epi8(char(valid))));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dg + u), out_v);
      }
    };
    for (int64_t g = 0; g < full; ++g) group(src + g * ka, dst + g * stride, ka);
    if (full < groups) {
      group(st + r * 64, dst + full * stride, int(tail));
      for (int64_t g = full + 1; g < groups; ++g) std::memset(dst + g * stride, 0, size_t(ka));
    }
    rg.lo = vlo;
    rg.hi = vhi;
    vsum = _mm_add_epi64(vsum, _mm_unpackhi_epi64(vsum, vsum));
    vpos = _mm_add_epi64(vpos, _mm_unpackhi_epi64(vpos, vpos));
    int64_t sum = _mm_cvtsi128_si64(vsum), pos = _mm_cvtsi128_si64(vpos);
    if (full < groups) {
      sum -= (ka - tail) * int64_t(chk.x_min);
      pos -= (ka - tail) * fill_pos;
    }
    if (stats) stats[r] = {sum, pos};
  }
  return true;
}
#endif

#if defined(__SSE2__)
// 4-byte groups (the VNNI byte layout [Kp/4][mr][4], Dst = uint8_t; AVX2 int8's widened
// layout [Kp/2][mr][2], Dst = int16_t) of codes whose fill stores 0 (x_min + offset == 0):
// rows straight from x into the panel, 16 codes of a row per load, with the range and sums
// taken from the very registers that are stored (the checked codes are the multiplied ones).
// Rows go 4 at a time (a 4x4 transpose of groups, one 16-byte store per group), then 2
// (8-byte stores), then 1.  The load straddling K is a full 16-byte load when it stays
// inside x (the lanes past K are replaced by the fill code in the register), else it goes
// through a small buffer.  Replaces the staged path's per-row copies, which cost ~10
// instructions per code at K = 27.
template <typename Dst>
void pack_groups4_from_x(int mr, const uint8_t* x, int64_t M, int64_t K, int64_t Kp,
                         int64_t ldx, int64_t i0, const ACheck& chk, Dst* panel,
                         ARowStats* stats, CodeRange& rg) {
  static_assert(sizeof(Dst) == 1 || sizeof(Dst) == 2, "byte or int16 elements");
  constexpr int kGroupCodes = 4 / int(sizeof(Dst));  // codes per 4-byte group
  const __m128i zero = _mm_setzero_si128(), z = _mm_set1_epi8(char(chk.zx));
  const __m128i o8 = _mm_set1_epi8(char(chk.a_offset)), o16 = _mm_set1_epi16(short(chk.a_offset));
  const __m128i fill = _mm_set1_epi8(char(chk.x_min));
  const __m128i lane = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const int64_t groups = Kp / kGroupCodes, stride = int64_t(mr) * 4;  // bytes per group row
  uint8_t* out = reinterpret_cast<uint8_t*>(panel);
  const int64_t end = (M - 1) * ldx + K;  // one past x's last code
  const int64_t pads = round_up(Kp, 16) - K;  // lanes of each real row summed that are fills
  const int64_t fill_pos = std::max(chk.x_min - chk.zx, 0);
  __m128i vlo = rg.lo, vhi = rg.hi;
  // Stores groups g0 .. g0 + ng - 1 (ng <= 4) of `rows` rows from r0, one vector per row.
  auto emit = [&](const __m128i* v, int rows, int r0, int64_t g0, int64_t ng) {
    uint8_t* d = out + g0 * stride + int64_t(r0) * 4;
    if (rows == 4) {
      const __m128i t0 = _mm_unpacklo_epi32(v[0], v[1]), t1 = _mm_unpacklo_epi32(v[2], v[3]);
      const __m128i t2 = _mm_unpackhi_epi32(v[0], v[1]), t3 = _mm_unpackhi_epi32(v[2], v[3]);
      const __m128i gs[4] = {_mm_unpacklo_epi64(t0, t1), _mm_unpackhi_epi64(t0, t1),
                             _mm_unpacklo_epi64(t2, t3), _mm_unpackhi_epi64(t2, t3)};
      for (int64_t g = 0; g < ng; ++g) _mm_storeu_si128(reinterpret_cast<__m128i*>(d + g * stride), gs[g]);
    } else if (rows == 2) {
      const __m128i t0 = _mm_unpacklo_epi32(v[0], v[1]), t2 = _mm_unpackhi_epi32(v[0], v[1]);
      const __m128i gs[4] = {t0, _mm_srli_si128(t0, 8), t2, _mm_srli_si128(t2, 8)};
      for (int64_t g = 0; g < ng; ++g) _mm_storel_epi64(reinterpret_cast<__m128i*>(d + g * stride), gs[g]);
    } else {
      alignas(16) uint8_t b[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(b), v[0]);
      for (int64_t g = 0; g < ng; ++g) std::memcpy(d + g * stride, b + 4 * g, 4);
    }
  };
  for (int r0 = 0; r0 < mr;) {
    const int rows = mr - r0 >= 4 ? 4 : mr - r0 >= 2 ? 2 : 1;
    __m128i vsum[4] = {zero, zero, zero, zero}, vpos[4] = {zero, zero, zero, zero};
    for (int64_t k0 = 0; k0 < Kp; k0 += 16) {  // k0 < K: Kp - K < kpad <= 4
      const int64_t n = std::min<int64_t>(16, K - k0);
      __m128i v[4];
      for (int j = 0; j < rows; ++j) {
        const int64_t i = i0 + r0 + j;
        if (i >= M) {
          v[j] = fill;
          continue;
        }
        const uint8_t* src = x + i * ldx + k0;
        __m128i a;
        if (n == 16 || i * ldx + k0 + 16 <= end) {
          a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
        } else {
          alignas(16) uint8_t buf[16] = {};
          std::memcpy(buf, src, size_t(n));
          a = _mm_load_si128(reinterpret_cast<const __m128i*>(buf));
        }
        if (n < 16) {
          const __m128i keep = _mm_cmplt_epi8(lane, _mm_set1_epi8(char(n)));
          a = _mm_or_si128(_mm_and_si128(keep, a), _mm_andnot_si128(keep, fill));
        }
        vlo = _mm_min_epu8(vlo, a);
        vhi = _mm_max_epu8(vhi, a);
        vsum[j] = _mm_add_epi64(vsum[j], _mm_sad_epu8(a, zero));
        vpos[j] = _mm_add_epi64(vpos[j], _mm_sad_epu8(_mm_subs_epu8(a, z), zero));
        v[j] = a;
      }
      const int64_t g0 = k0 / kGroupCodes;
      if constexpr (sizeof(Dst) == 1) {
        for (int j = 0; j < rows; ++j) v[j] = _mm_add_epi8(v[j], o8);
        emit(v, rows, r0, g0, std::min<int64_t>(4, groups - g0));
      } else {  // codes 0..7 and 8..15 widened: groups g0..g0+3 and g0+4..g0+7
        __m128i lo[4], hi[4];
        for (int j = 0; j < rows; ++j) {
          lo[j] = _mm_add_epi16(_mm_unpacklo_epi8(v[j], zero), o16);
          hi[j] = _mm_add_epi16(_mm_unpackhi_epi8(v[j], zero), o16);
        }
        emit(lo, rows, r0, g0, std::min<int64_t>(4, groups - g0));
        if (groups > g0 + 4) emit(hi, rows, r0, g0 + 4, std::min<int64_t>(4, groups - g0 - 4));
      }
    }
    for (int j = 0; j < rows; ++j) {
      if (i0 + r0 + j >= M || !stats) continue;
      const __m128i s = _mm_add_epi64(vsum[j], _mm_unpackhi_epi64(vsum[j], vsum[j]));
      const __m128i q = _mm_add_epi64(vpos[j], _mm_unpackhi_epi64(vpos[j], vpos[j]));
      stats[r0 + j] = {_mm_cvtsi128_si64(s) - pads * int64_t(chk.x_min),
                       _mm_cvtsi128_si64(q) - pads * fill_pos};
    }
    r0 += rows;
  }
  rg.lo = vlo;
  rg.hi = vhi;
}
#endif

// Integer codes: stage (copy) -> sum and range the staged codes -> scatter the same codes;
// at the end of the panel, the range check.  An offending code is then looked up in the
// packed panel itself (the codes that would have been multiplied).
template <typename Dst>
void pack_a_codes(const KernelDesc& d, const uint8_t* x, int64_t M, int64_t K, int64_t Kp,
                  int64_t ldx, int64_t i0, const ACheck& chk, Dst* panel, ARowStats* stats) {
  const int mr = d.mr, ka = d.ka;
  const uint8_t fill = uint8_t(chk.x_min);  // pads the staged codes to 16: a valid code
  const int64_t fill_pos = std::max(chk.x_min - chk.zx, 0);
  // Padding k >= K must store 0; staged fill codes give that when fill + offset == 0.
  const bool fill_is_pad = chk.x_min + chk.a_offset == 0;
  CodeRange rg;
#if defined(__SSE2__)
  if (pack_rows_direct(d, x, M, K, Kp, ldx, i0, chk, panel, stats, rg)) goto checked;
  if (ka * int(sizeof(Dst)) == 4 && fill_is_pad) {
    pack_groups4_from_x(mr, x, M, K, Kp, ldx, i0, chk, panel, stats, rg);
    goto checked;
  }
#endif
  {
    // Rows are staged four at a time where the layout is 4-byte groups of bytes (the VNNI
    // layout [K/4][mr][4]): the four rows' groups are then stored transposed, 16 bytes (4
    // rows x 4 codes) per store, instead of one 4-byte store per row and group.
    constexpr int kRows = 4;
    const bool four = sizeof(Dst) == 1 && ka == 4;
    alignas(64) uint8_t st4[kRows][kStage + 16];
    for (int r0 = 0; r0 < mr; r0 += four ? kRows : 1) {
      const int rows = four ? std::min(kRows, mr - r0) : 1;
      int64_t sum[kRows] = {}, pos[kRows] = {};
      for (int64_t k0 = 0; k0 < Kp; k0 += kStage) {
        const int64_t n = std::min(kStage, Kp - k0);
        bool any_pad = false;
        for (int j = 0; j < rows; ++j) {
          const int64_t i = i0 + r0 + j;
          uint8_t* st = st4[j];
          const int64_t n_real = i < M ? std::clamp<int64_t>(K - k0, 0, n) : 0;
          any_pad |= n_real < n;
          if (n_real) {
            // Whole 16-code vectors: copied and summed in one pass from x (vector stores
            // the later reads of st forward from; a memcpy here made every read stall).
            // The rest (< 16 codes) is copied, padded with the fill code, summed from st.
            const int64_t n_vec = n_real / 16 * 16;
            code_stats(x + i * ldx + k0, n_vec, chk.zx, rg, sum[j], pos[j], st);
            const int64_t n16 = round_up(n_real, 16);
            if (n16 > n_vec) {
              std::memcpy(st + n_vec, x + i * ldx + k0 + n_vec, size_t(n_real - n_vec));
              std::memset(st + n_real, fill, size_t(n16 - n_real));
              code_stats(st + n_vec, 16, chk.zx, rg, sum[j], pos[j]);
            }
            if (n > n16) std::memset(st + n16, fill, size_t(n - n16));
            sum[j] -= (n16 - n_real) * fill;
            pos[j] -= (n16 - n_real) * fill_pos;
          } else {
            std::memset(st, fill, size_t(n));
          }
        }
#if defined(__SSE2__)
        if (rows == kRows && four && (!any_pad || fill_is_pad)) {
          scatter4_c4(st4, n, chk.a_offset, mr, r0, reinterpret_cast<uint8_t*>(panel + k0 * mr));
          continue;
        }
#endif
        for (int j = 0; j < rows; ++j) {
          const int r = r0 + j;
          const uint8_t* st = st4[j];
          const int64_t n_real = i0 + r < M ? std::clamp<int64_t>(K - k0, 0, n) : 0;
          if (n_real == n || fill_is_pad) {
            scatter_any(ka, st, n, chk.a_offset, mr, r, panel + k0 * mr);
            continue;
          }
          const int64_t n_full = n_real / ka * ka;
          scatter_any(ka, st, n_full, chk.a_offset, mr, r, panel + k0 * mr);
          for (int64_t k = n_full; k < n; ++k)  // the group straddling K and the ones after it
            panel[k0 * mr + ((k / ka) * mr + r) * ka + k % ka] =
                k < n_real ? Dst(int32_t(st[k]) + chk.a_offset) : Dst(0);
        }
      }
      for (int j = 0; j < rows; ++j)
        if (i0 + r0 + j < M && stats) stats[r0 + j] = {sum[j], pos[j]};
    }
  }
#if defined(__SSE2__)
checked:
#endif
  if (rg.all<true>() >= chk.x_min && rg.all<false>() <= chk.x_max) return;
  if (chk.narrow) throw NarrowMiss{};
  for (int r = 0; r < mr && i0 + r < M; ++r)
    for (int64_t k = 0; k < K; ++k) {
      // Stored s = x + offset (narrowed for 8-bit elements): x = (s - offset) mod 256.
      const int code = (int(panel[((k / ka) * mr + r) * ka + k % ka]) - chk.a_offset) & 255;
      if (code < chk.x_min || code > chk.x_max)
        throw std::invalid_argument(std::string(chk.format) + ": activation code " +
                                    std::to_string(code) + " at [" + std::to_string(i0 + r) +
                                    ", " + std::to_string(k) + "] outside [" +
                                    std::to_string(chk.x_min) + ", " +
                                    std::to_string(chk.x_max) + "]");
    }
  throw std::logic_error("pack_a: a code out of range vanished from the packed panel");
}

// fp32: no codes to check; straight from x into the panel.
void pack_a_f32(const KernelDesc& d, const float* x, int64_t M, int64_t K, int64_t Kp,
                int64_t ldx, int64_t i0, float* panel) {
  const int mr = d.mr, ka = d.ka;
  int r = 0;
#if defined(__SSE2__)
  // ka = 1: the panel is x's rows transposed, [Kp][mr]; 4x4 (then 2x4) blocks of floats
  // through SSE transposes, one 16-byte (8-byte) store per k.
  if (ka == 1) {
    const int64_t kend = K / 4 * 4;
    for (; r + 4 <= mr && i0 + r + 3 < M; r += 4) {
      const float* s0 = x + (i0 + r) * ldx;
      for (int64_t k = 0; k < kend; k += 4) {
        __m128 a = _mm_loadu_ps(s0 + k), b = _mm_loadu_ps(s0 + ldx + k);
        __m128 c = _mm_loadu_ps(s0 + 2 * ldx + k), e = _mm_loadu_ps(s0 + 3 * ldx + k);
        _MM_TRANSPOSE4_PS(a, b, c, e);
        _mm_storeu_ps(panel + k * mr + r, a);
        _mm_storeu_ps(panel + (k + 1) * mr + r, b);
        _mm_storeu_ps(panel + (k + 2) * mr + r, c);
        _mm_storeu_ps(panel + (k + 3) * mr + r, e);
      }
      for (int q = 0; q < 4; ++q) {
        for (int64_t k = kend; k < K; ++k) panel[k * mr + r + q] = s0[q * ldx + k];
        for (int64_t k = K; k < Kp; ++k) panel[k * mr + r + q] = 0.0f;
      }
    }
    for (; r + 2 <= mr && i0 + r + 1 < M; r += 2) {
      const float* s0 = x + (i0 + r) * ldx;
      for (int64_t k = 0; k < kend; k += 4) {
        const __m128 a = _mm_loadu_ps(s0 + k), b = _mm_loadu_ps(s0 + ldx + k);
        const __m128 lo = _mm_unpacklo_ps(a, b), hi = _mm_unpackhi_ps(a, b);
        _mm_storel_pi(reinterpret_cast<__m64*>(panel + k * mr + r), lo);
        _mm_storeh_pi(reinterpret_cast<__m64*>(panel + (k + 1) * mr + r), lo);
        _mm_storel_pi(reinterpret_cast<__m64*>(panel + (k + 2) * mr + r), hi);
        _mm_storeh_pi(reinterpret_cast<__m64*>(panel + (k + 3) * mr + r), hi);
      }
      for (int q = 0; q < 2; ++q) {
        for (int64_t k = kend; k < K; ++k) panel[k * mr + r + q] = s0[q * ldx + k];
        for (int64_t k = K; k < Kp; ++k) panel[k * mr + r + q] = 0.0f;
      }
    }
  }
#endif
  for (; r < mr; ++r) {
    const int64_t i = i0 + r;
    const int64_t kend = i < M ? K : 0;
    const float* src = x + (i < M ? i * ldx : 0);
    if (ka == 1) {
      float* dst = panel + r;
      int64_t k = 0;
      for (; k < kend; ++k) dst[k * mr] = src[k];
      for (; k < Kp; ++k) dst[k * mr] = 0.0f;
      continue;
    }
    for (int64_t k = 0; k < Kp; ++k)
      panel[((k / ka) * mr + r) * ka + k % ka] = k < kend ? src[k] : 0.0f;
  }
}

}  // namespace

void pack_a(const KernelDesc& d, const void* x, int64_t M, int64_t K, int64_t Kp, int64_t ldx,
            int64_t i0, const ACheck* check, uint8_t* out, ARowStats* stats) {
  const uint8_t* xu = static_cast<const uint8_t*>(x);
  if (d.a_elem != Elem::kF32 && !check)
    throw std::logic_error(std::string(d.name) + ": integer activations need a check");
  switch (d.a_elem) {
    case Elem::kF32:
      pack_a_f32(d, static_cast<const float*>(x), M, K, Kp, ldx, i0, reinterpret_cast<float*>(out));
      break;
    case Elem::kU8:
      pack_a_codes<uint8_t>(d, xu, M, K, Kp, ldx, i0, *check, out, stats);
      break;
    case Elem::kS8:
      pack_a_codes<int8_t>(d, xu, M, K, Kp, ldx, i0, *check, reinterpret_cast<int8_t*>(out), stats);
      break;
    case Elem::kS16:
      pack_a_codes<int16_t>(d, xu, M, K, Kp, ldx, i0, *check, reinterpret_cast<int16_t*>(out),
                            stats);
      break;
    case Elem::kU4:
      throw std::logic_error(std::string(d.name) + ": kU4 is a B-only element type");
  }
}

}  // namespace lowbit
