// The one GEMM driver every format and tier runs through (BLIS loop order):
//   threads split the output -> jc (NC panels) -> pc (KC depth) -> ic (MC rows, pack A)
//   -> jr (one packed B panel) -> ir (micro-kernel on an mr x nr tile).
// KC is capped at the variant's flush period, so a 16-bit-accumulating micro-kernel is
// never handed more depth than its lanes can hold: that cap *is* the 16->32-bit flush
// schedule (docs/formats.md).  Zero points and packing offsets are corrected once, at the
// end, from row sums of x and the column sums stored with the packed weights.
#include <algorithm>
#include <climits>
#include <cstring>
#include <exception>
#include <thread>

#include "internal.h"

namespace lowbit {
namespace {

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
int64_t round_down(int64_t v, int64_t m) { return v / m * m; }

struct RowScan {
  std::vector<int64_t> rowsum;  // sum_k x[i,k]
};

// Validates the activation codes and the zero point and guards the int32 result range.
RowScan scan_rows(const PackedB& b, const uint8_t* x, int64_t M, int64_t ldx, int32_t zx) {
  const FormatRanges r = format_ranges(b.format, b.params);
  if (zx < r.zx_min || zx > r.zx_max)
    throw std::invalid_argument(std::string(format_name(b.format)) + ": activation zero_point " +
                                std::to_string(zx) + " outside [" + std::to_string(r.zx_min) +
                                ", " + std::to_string(r.zx_max) + "]");
  RowScan s;
  s.rowsum.resize(size_t(M));
  const int64_t K = b.K;
  for (int64_t i = 0; i < M; ++i) {
    const uint8_t* row = x + i * ldx;
    uint8_t lo = 255, hi = 0;
    int64_t sum = 0, sum_abs = 0;
    for (int64_t k = 0; k < K; ++k) {
      lo = std::min(lo, row[k]);
      hi = std::max(hi, row[k]);
      sum += row[k];
    }
    if (lo < r.x_min || hi > r.x_max) {
      int64_t k = 0;
      while (row[k] >= r.x_min && row[k] <= r.x_max) ++k;
      throw std::invalid_argument(std::string(format_name(b.format)) + ": activation code " +
                                  std::to_string(int(row[k])) + " at [" + std::to_string(i) +
                                  ", " + std::to_string(k) + "] outside [" +
                                  std::to_string(r.x_min) + ", " + std::to_string(r.x_max) + "]");
    }
    if (zx == 0) {
      sum_abs = sum;
    } else {
      for (int64_t k = 0; k < K; ++k) sum_abs += std::abs(int32_t(row[k]) - zx);
    }
    // |result[i, j]| <= sum_k |x - zx| * max|w - zw|: refuse what int32 cannot hold.
    if (sum_abs * b.max_abs_w > INT32_MAX)
      throw std::invalid_argument(
          "exact result of row " + std::to_string(i) + " could reach " +
          std::to_string(sum_abs * b.max_abs_w) + ", beyond int32 (K=" + std::to_string(K) +
          "); split K or use smaller zero points");
    s.rowsum[size_t(i)] = sum;
  }
  return s;
}

struct Region {
  int64_t m0, m1;  // rows
  int64_t p0, p1;  // N panels
};

struct Job {
  const PackedB* b;
  const KernelDesc* d;
  const void* x;
  int64_t M, ldx;
  void* c;
  int64_t ldc;
  int32_t a_offset;
  int64_t KC, MC, NCp;
  // corrections (integer formats): C[i,j] += rowterm[i] + colterm[j]  (mod 2^32)
  const uint32_t* rowterm;
  const uint32_t* colterm;
};

void run_region(const Job& job, const Region& reg) {
  const KernelDesc& d = *job.d;
  const PackedB& b = *job.b;
  const bool is_float = d.format == Format::kFp32;
  const int64_t mr = d.mr, nr = d.nr;
  const int64_t a_esize = int64_t(elem_bits(d.a_elem)) / 8;
  const int64_t b_bits = int64_t(elem_bits(d.b_elem));
  // Only as many rows as this region has; pack_a writes every element (padding as 0),
  // so the buffer needs no clearing.  Small calls stay cheap.
  const int64_t rows = round_up(std::min(job.MC, reg.m1 - reg.m0), mr);
  const int64_t depth = std::min(job.KC, b.Kp);
  AlignedBytes abuf = aligned_bytes(size_t(rows * depth * a_esize), false);
  alignas(64) int32_t tile_i[64 * 64];  // mr x nr <= 4096 (checked at registration)
  float* tile_f = reinterpret_cast<float*>(tile_i);
  void* tile = tile_i;

  if (d.thread_begin) d.thread_begin();
  for (int64_t jc = reg.p0; jc < reg.p1; jc += job.NCp) {
    const int64_t jc_end = std::min(reg.p1, jc + job.NCp);
    for (int64_t pc = 0; pc < b.Kp; pc += job.KC) {
      const int64_t kc = std::min(job.KC, b.Kp - pc);
      const int accumulate = pc > 0;
      for (int64_t ic = reg.m0; ic < reg.m1; ic += job.MC) {
        const int64_t mc = std::min(job.MC, reg.m1 - ic);
        pack_a(d, job.x, job.M, b.K, job.ldx, job.a_offset, ic, round_up(mc, mr), pc, kc,
               abuf.get());
        for (int64_t jr = jc; jr < jc_end; ++jr) {
          const uint8_t* bp = b.data.get() + jr * b.panel_bytes + pc * nr * b_bits / 8;
          const int64_t n0 = jr * nr;
          const int64_t nv = std::min(nr, b.N - n0);
          for (int64_t ir = 0; ir < mc; ir += mr) {
            const uint8_t* ap = abuf.get() + (ir / mr) * mr * kc * a_esize;
            const int64_t i = ic + ir;
            const int64_t mv = std::min(mr, reg.m1 - i);
            if (mv == mr && nv == nr) {
              void* cp = is_float ? static_cast<void*>(static_cast<float*>(job.c) + i * job.ldc + n0)
                                  : static_cast<void*>(static_cast<int32_t*>(job.c) + i * job.ldc + n0);
              d.ukernel(kc, ap, bp, cp, job.ldc, accumulate);
              continue;
            }
            // Edge tile: compute the full tile aside, then merge the valid part.
            d.ukernel(kc, ap, bp, tile, nr, 0);
            for (int64_t r = 0; r < mv; ++r) {
              if (is_float) {
                float* crow = static_cast<float*>(job.c) + (i + r) * job.ldc + n0;
                for (int64_t q = 0; q < nv; ++q)
                  crow[q] = accumulate ? crow[q] + tile_f[r * nr + q] : tile_f[r * nr + q];
              } else {
                int32_t* crow = static_cast<int32_t*>(job.c) + (i + r) * job.ldc + n0;
                for (int64_t q = 0; q < nv; ++q)
                  crow[q] = accumulate ? int32_t(uint32_t(crow[q]) + uint32_t(tile_i[r * nr + q]))
                                       : tile_i[r * nr + q];
              }
            }
          }
        }
      }
    }
  }
  if (d.thread_end) d.thread_end();

  if (job.rowterm) {
    const int64_t n_begin = reg.p0 * nr, n_end = std::min(b.N, reg.p1 * nr);
    for (int64_t i = reg.m0; i < reg.m1; ++i) {
      int32_t* crow = static_cast<int32_t*>(job.c) + i * job.ldc;
      const uint32_t rt = job.rowterm[i];
      for (int64_t j = n_begin; j < n_end; ++j)
        crow[j] = int32_t(uint32_t(crow[j]) + rt + job.colterm[j]);
    }
  }
}

// Variants that read the same packed B (same format, tier, nr, kb, B element and offset)
// differ only in mr; for small M the driver takes the smallest mr >= M so a GEMV does not
// multiply padding rows.  The packing-time variant (largest tile) is the default.
const KernelDesc& pick_for_m(const KernelDesc& packed_with, int64_t M) {
  const KernelDesc* best = &packed_with;
  if (M >= packed_with.mr) return *best;
  for (const KernelDesc* d : all_kernels()) {
    const bool same_b = d->format == packed_with.format &&
                        std::string(d->tier) == packed_with.tier && d->nr == packed_with.nr &&
                        d->kb == packed_with.kb && d->b_elem == packed_with.b_elem &&
                        d->b_offset == packed_with.b_offset;
    if (same_b && d->mr >= M && d->mr < best->mr) best = d;
  }
  return *best;
}

}  // namespace

void gemm(const PackedB& b, const void* x, int64_t M, int64_t ldx, int32_t zx, void* c,
          int64_t ldc, int threads) {
  if (M < 1) return;
  const KernelDesc& d = pick_for_m(*b.desc, M);
  if (threads < 1) throw std::invalid_argument("threads must be >= 1");
  const bool is_float = d.format == Format::kFp32;
  if (is_float && zx != 0) throw std::invalid_argument("fp32 activations take no zero point");

  Job job{};
  job.b = &b;
  job.d = &d;
  job.x = x;
  job.M = M;
  job.ldx = ldx;
  job.c = c;
  job.ldc = ldc;
  job.a_offset = d.a_offset ? d.a_offset(b.params) : 0;

  const int64_t kpad = d.kpad();
  job.KC = std::max<int64_t>(kpad, round_down(d.kc, kpad));
  const int64_t flush_k = &d == b.desc ? b.flush_k : flush_period(d, b.params);
  if (flush_k) job.KC = std::min(job.KC, flush_k);
  job.MC = std::max<int64_t>(d.mr, round_down(d.mc, d.mr));
  job.NCp = std::max<int64_t>(1, d.nc / d.nr);

  std::vector<uint32_t> rowterm, colterm;
  if (!is_float) {
    const RowScan s = scan_rows(b, static_cast<const uint8_t*>(x), M, ldx, zx);
    // x - zx = s_a - A0 and w - zw = s_b - B0 for stored values s (docs/formats.md):
    // sum (s_a - A0)(s_b - B0) = S - B0*rowsum(s_a) - A0*colsum(s_b) + K*A0*B0.
    const int64_t K = b.K;
    const int64_t A0 = int64_t(job.a_offset) + zx;
    const int64_t B0 = int64_t(b.b_offset) + b.zero_point;
    if (A0 != 0 || B0 != 0) {
      rowterm.resize(size_t(M));
      colterm.resize(size_t(b.N));
      for (int64_t i = 0; i < M; ++i) {
        const int64_t ra = s.rowsum[size_t(i)] + K * job.a_offset;
        rowterm[size_t(i)] = uint32_t(uint64_t(-B0 * ra + K * A0 * B0));
      }
      for (int64_t j = 0; j < b.N; ++j) colterm[size_t(j)] = uint32_t(uint64_t(-A0 * b.colsum[size_t(j)]));
      job.rowterm = rowterm.data();
      job.colterm = colterm.data();
    }
  }

  // Split the output: over N panels when there are enough, else over M in mr-row units.
  const int64_t m_units = (M + d.mr - 1) / d.mr;
  std::vector<Region> regions;
  if (b.n_panels >= threads || b.n_panels >= m_units) {
    const int64_t t = std::min<int64_t>(threads, b.n_panels);
    for (int64_t k = 0; k < t; ++k)
      regions.push_back({0, M, b.n_panels * k / t, b.n_panels * (k + 1) / t});
  } else {
    const int64_t t = std::min<int64_t>(threads, m_units);
    for (int64_t k = 0; k < t; ++k)
      regions.push_back({std::min(M, m_units * k / t * d.mr),
                         std::min(M, m_units * (k + 1) / t * d.mr), 0, b.n_panels});
  }

  if (regions.size() == 1) {
    run_region(job, regions[0]);
    return;
  }
  std::vector<std::exception_ptr> errors(regions.size());
  std::vector<std::thread> pool;
  for (size_t t = 1; t < regions.size(); ++t)
    pool.emplace_back([&, t] {
      try {
        run_region(job, regions[t]);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  try {
    run_region(job, regions[0]);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace lowbit
