// The one GEMM driver every format and tier runs through (docs/architecture.md).
//
// Per call, for each chunk of M (as many mr-row micro-panels as fit the packed-A budget):
//   1. pack: each micro-panel is packed once over the whole depth, and the codes just
//      written are range-checked and summed (row sums for the corrections, the int32 guard)
//      in the same pass (pack_a).  Where nothing about a row needs computing first (AMX
//      int8: every code valid, no row term, the int32 bound static) full panels are not
//      packed at all: the tile loads read x's rows in place.
//   2. compute: a 2D grid of regions (M panel ranges x N panel ranges) chosen from the shape
//      and the thread count; each region runs the BLIS loops jc (NC) -> pc (KC) -> ic (MC)
//      -> jr (one packed B panel) -> ir (micro-kernel on an mr x nr tile), and the
//      zero-point corrections are applied to each tile right after its last depth block,
//      while it is still in L1 (no second pass over C).
//   With an M-only split, each task packs the panels it computes on: one pool run, no
//   barrier.  Otherwise the threads first split the packing (shared by every region), then
//   the regions.  Either way there are a few tasks per thread, taken dynamically.
// KC is capped at the variant's flush period, so a 16-bit-accumulating micro-kernel is
// never handed more depth than its lanes can hold: that cap *is* the 16->32-bit flush
// schedule (docs/formats.md).  MC/KC/NC come from the cache sizes read at run time.
// Threads come from a persistent pool (no thread creation per call; workers spin briefly
// before parking); the caller is one of them.  Calls with too little work per thread run on
// fewer threads.
#include <pthread.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <mutex>
#include <new>
#include <numeric>
#include <thread>

#include "internal.h"

namespace lowbit {

// ---- cache sizes -----------------------------------------------------------------------

namespace {

int64_t sysfs_cache(int level, bool data) {
  for (int idx = 0; idx < 16; ++idx) {
    const std::string base = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(idx) + "/";
    std::ifstream lv(base + "level"), ty(base + "type"), sz(base + "size");
    int l = 0;
    std::string type, size;
    if (!(lv >> l) || !(ty >> type) || !(sz >> size) || l != level) continue;
    if (data && type == "Instruction") continue;
    int64_t v = std::atoll(size.c_str());
    if (size.back() == 'K') v <<= 10;
    if (size.back() == 'M') v <<= 20;
    return v;
  }
  return 0;
}

}  // namespace

const CacheSizes& cache_sizes() {
  static const CacheSizes c = [] {
    // The kernel's view (sysfs, what lscpu prints) first: glibc's sysconf decodes CPUID
    // itself and on an AMD EPYC (Zen 3) KVM guest said L3 = 256 MiB where sysfs and lscpu
    // say 32 MiB.
    CacheSizes s{sysfs_cache(1, true), sysfs_cache(2, true), sysfs_cache(3, true)};
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE) && defined(_SC_LEVEL3_CACHE_SIZE)
    if (!s.l1d) s.l1d = std::max<long>(0, sysconf(_SC_LEVEL1_DCACHE_SIZE));
    if (!s.l2) s.l2 = std::max<long>(0, sysconf(_SC_LEVEL2_CACHE_SIZE));
    if (!s.l3) s.l3 = std::max<long>(0, sysconf(_SC_LEVEL3_CACHE_SIZE));
#endif
    return s;
  }();
  return c;
}

// ---- persistent thread pool ------------------------------------------------------------

namespace {

using TaskFn = std::function<void(int64_t)>;

// Waits briefly by spinning before blocking: waking a parked thread through the kernel costs
// tens of microseconds on a virtual machine (more when its idle vCPU has halted), more than a
// small GEMM takes.  The spin is bounded in time (100 us, or LOWBIT_SPIN_US), so an idle pool
// parks and burns no core.
int64_t spin_ns() {
  static const int64_t ns = [] {
    const char* e = std::getenv("LOWBIT_SPIN_US");
    const long long us = e && *e ? std::atoll(e) : 100;
    return int64_t(std::clamp<long long>(us, 0, 100000)) * 1000;
  }();
  return ns;
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until pred() or spin_ns() elapsed; returns pred().  No sched_yield in the loop: on a
// shared machine a yield hands the core to another process for a whole time slice, and a
// parked thread that is woken preempts such a process sooner than a yielding one gets back.
template <typename Pred>
bool spin_until(Pred pred) {
  if (pred()) return true;
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    for (int i = 0; i < 16; ++i) {
      if (pred()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() - t0 > std::chrono::nanoseconds(spin_ns())) return pred();
  }
}

class Pool {
 public:
  // Never destroyed: at exit the workers may still be parked on the condition variable.
  static Pool& get() {
    static Pool* p = [] {
      Pool* q = new Pool;
      pthread_atfork(nullptr, nullptr, [] { get().after_fork(); });
      return q;
    }();
    return *p;
  }
  int capacity() const { return capacity_; }

  // Runs fn(t) for every t in [0, ntasks) on up to `threads` threads, the caller included,
  // and rethrows the exception of the lowest-numbered failing task.  When another caller
  // holds the pool, runs every task on the calling thread (same result, no waiting).
  // The call returns when every task is done, not when every helper has shown up: a helper
  // that is slow to wake (parked, or its vCPU descheduled) finds no task left and the caller
  // has not waited for it.
  void run(int64_t threads, int64_t ntasks, const TaskFn& fn) {
    std::unique_lock<std::mutex> busy(busy_, std::defer_lock);
    if (threads > 1 && ntasks > 1 && ntasks <= kField) busy.try_lock();
    if (!busy.owns_lock()) {
      for (int64_t t = 0; t < ntasks; ++t) fn(t);
      return;
    }
    const int helpers = int(std::min<int64_t>({threads, ntasks, capacity_}) - 1);
    start_workers(helpers);
    fn_ = &fn;
    error_ = nullptr;
    error_task_ = INT64_MAX;
    done_.store(0, std::memory_order_relaxed);
    bool sleepers;
    {
      // Under m_: a worker about to park re-checks the state under m_ too.
      std::lock_guard<std::mutex> l(m_);
      const uint64_t gen = (state_.load(std::memory_order_relaxed) >> 16) + 1;
      // The tasks are published before the generation, so a woken helper finds them.
      next_.store((gen & kGenMask) << 40 | uint64_t(ntasks) << 20, std::memory_order_release);
      state_.store(gen << 16 | uint64_t(helpers), std::memory_order_release);
      sleepers = sleepers_ > 0;
    }
    if (sleepers) wake_.notify_all();
    work();
    auto all_done = [&] { return done_.load(std::memory_order_acquire) == ntasks; };
    if (!spin_until(all_done)) {
      std::unique_lock<std::mutex> l(m_);
      finished_.wait(l, all_done);
    }
    fn_ = nullptr;
    if (error_) {
      std::exception_ptr e = error_;
      error_ = nullptr;
      std::rethrow_exception(e);
    }
  }

 private:
  Pool() {
    const int hw = int(std::thread::hardware_concurrency());
    capacity_ = std::clamp(2 * hw, 8, 256);
    workers_ = new std::vector<std::thread>;
  }

  void start_workers(int n) {
    while (int(workers_->size()) < n) {
      const int id = int(workers_->size());
      const uint64_t gen = state_.load(std::memory_order_acquire);
      try {
        workers_->emplace_back([this, id, gen] { worker(id, gen); });
      } catch (const std::exception& e) {
        throw std::runtime_error("could not start worker thread " + std::to_string(id + 2) +
                                 " of " + std::to_string(n + 1) + " (" + e.what() +
                                 "); the call did not run: retry with fewer threads");
      }
    }
  }

  // next_ = generation << 40 | ntasks << 20 | next task: a claim is one compare-exchange on
  // the run's own word, so a helper that woke for an earlier run cannot take (or count) a task
  // of a later one.  A claimed task keeps its run open, so fn_ is that run's while it runs.
  static constexpr int64_t kField = (int64_t(1) << 20) - 1;
  static constexpr uint64_t kGenMask = (uint64_t(1) << 24) - 1;
  bool claim(int64_t& task, int64_t& ntasks) {
    uint64_t v = next_.load(std::memory_order_acquire);
    for (;;) {
      const uint64_t n = (v >> 20) & uint64_t(kField), i = v & uint64_t(kField);
      if (i >= n) return false;
      if (next_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        task = int64_t(i);
        ntasks = int64_t(n);
        return true;
      }
    }
  }

  void work() {
    int64_t t, n;
    while (claim(t, n)) {
      try {
        (*fn_)(t);
      } catch (...) {
        std::lock_guard<std::mutex> l(m_);
        if (t < error_task_) {
          error_task_ = t;
          error_ = std::current_exception();
        }
      }
      if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == n) {
        std::lock_guard<std::mutex> l(m_);  // the caller may be parking on finished_
        finished_.notify_one();
      }
    }
  }

  void worker(int id, uint64_t seen) {
    for (;;) {
      auto fresh = [&] { return state_.load(std::memory_order_acquire) != seen; };
      if (!spin_until(fresh)) {
        std::unique_lock<std::mutex> l(m_);
        ++sleepers_;
        wake_.wait(l, fresh);
        --sleepers_;
      }
      // One load: the generation and its participant count together (a worker that sat
      // out a generation must not pair it with the next one's count).
      seen = state_.load(std::memory_order_acquire);
      if (id >= int(seen & 0xFFFF)) continue;
      work();
    }
  }

  // The child of a fork has none of the parent's threads: forget them (their std::thread
  // objects are leaked, never joined) and start afresh.
  void after_fork() {
    workers_ = new std::vector<std::thread>;
    new (&busy_) std::mutex;
    new (&m_) std::mutex;
    new (&wake_) std::condition_variable;
    new (&finished_) std::condition_variable;
    next_.store(0);
    done_.store(0);
    sleepers_ = 0;
  }

  int capacity_ = 8;
  std::vector<std::thread>* workers_;
  std::mutex busy_;  // one parallel call at a time
  std::mutex m_;     // parking (wake_, finished_) and the first error
  std::condition_variable wake_, finished_;
  // generation << 16 | participants: one new generation per run (workers wait for a change);
  // workers with id < participants take part in it.
  std::atomic<uint64_t> state_{0};
  int sleepers_ = 0;  // workers parked on wake_ (under m_)
  const TaskFn* fn_ = nullptr;
  std::atomic<uint64_t> next_{0};    // see claim()
  std::atomic<int64_t> done_{0};     // tasks of the current run finished
  std::exception_ptr error_;
  int64_t error_task_ = INT64_MAX;
};

// ---- blocking and partition ------------------------------------------------------------

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
int64_t round_down(int64_t v, int64_t m) { return v / m * m; }
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct Blocking {
  int64_t KC;   // depth per micro-kernel call (multiple of kpad, <= flush period)
  int64_t MCp;  // micro-panels of A per ic block
  int64_t NCp;  // B panels per jc block
};

// From the cache sizes (descriptor defaults where the OS does not say): a B micro-panel
// (nr x KC) and an A micro-panel (mr x KC) in 7/8 of L1, an A block (MC x KC) in half of
// L2, a B block (KC x NC) in a quarter of L3.  Depth blocks are balanced so the last one is
// not a sliver.
Blocking blocking(const KernelDesc& d, int64_t flush_k, int64_t Kp) {
  const CacheSizes& cs = cache_sizes();
  const int64_t kpad = d.kpad();
  const int64_t a_bits = int64_t(elem_bits(d.a_elem)), b_bits = int64_t(elem_bits(d.b_elem));
  const int64_t pair_bits = d.nr * b_bits + d.mr * a_bits;  // both micro-panels, per k
  // LOWBIT_BLOCKING=defaults: the descriptor's values; =KC,MC,NC (elements; 0 keeps the
  // computed one): fixed values for tuning experiments.  Rounded and capped as usual.
  struct Override {
    bool defaults = false;
    int64_t kc = 0, mc = 0, nc = 0;
  };
  static const Override ov = [] {
    Override o;
    const char* e = std::getenv("LOWBIT_BLOCKING");
    if (!e) return o;
    if (std::string(e) == "defaults") {
      o.defaults = true;
      return o;
    }
    long long k = 0, m = 0, n = 0;
    if (std::sscanf(e, "%lld,%lld,%lld", &k, &m, &n) == 3 && k >= 0 && m >= 0 && n >= 0) {
      o.kc = k;
      o.mc = m;
      o.nc = n;
    }
    return o;
  }();
  int64_t kc = d.kc, mc = d.mc, nc = d.nc;
  if (!ov.defaults) {
    // A B micro-panel and the A micro-panel it meets together in 7/8 of L1 (the B panel
    // stays there while the A panels stream past it).  Fewer depth blocks also mean fewer
    // passes over C: on Zen 4, int8 3136x1024x576 (avx512vnni) took 12.4 ms with two blocks
    // of 288 (the B panel alone in half of L1), 9.8 ms with one of 576.  Tile (AMX) kernels
    // reload and store their C tiles at every depth block: a B micro-panel in the whole of
    // L1 halves those reloads.
    if (cs.l1d > 0)
      kc = d.thread_begin ? cs.l1d * 8 / (d.nr * b_bits)
                          : cs.l1d * 7 / 8 * 8 / pair_bits;
    // 32-bit integer vector kernels: each depth block is one more pass over C, which costs
    // more than B micro-panels streaming from L2 (the prefetchers keep up): the two panels
    // in an eighth of L2.  Zen 4, avx512vnni, one thread, KC 588 (L1 rule) -> 2048:
    // 512x4096x4096 45.3 -> 40.0 ms, 64x11008x4096 15.9 -> 13.9 ms; neutral on 1024^3,
    // 196x256x2304, 49x512x4608.  (16-bit kernels are capped by their flush period.)
    // fp32 (twice the bytes per k, so fewer k per L1): the two panels in a quarter of L2.
    // Zen 4, avx512 (12x32 tile), one thread, KC 162 (L1 rule) -> 1366-1489: 1024^3 47-52
    // -> 54-55 GMAC/s, 512x4096x4096 47 -> 55, 64x11008x4096 47 -> 54, 49x512x4608 50 -> 54.
    if (cs.l2 > 0 && d.acc_bits == 32 && !d.thread_begin)
      kc = std::max(kc, (d.format == Format::kFp32 ? cs.l2 / 4 : cs.l2 / 8) * 8 / pair_bits);
    kc = std::clamp<int64_t>(kc, 128, 4096);
    if (ov.kc) kc = ov.kc;
  }
  kc = std::max(kpad, round_down(kc, kpad));
  if (flush_k) kc = std::min(kc, flush_k);
  // Depth blocks balanced, so the last one is not a sliver; vector kernels take a depth up
  // to 5/4 of the target as one block (each block is one more pass over C: fp32 avx512 on
  // Zen 4, 1500x4224x176 ran two blocks of 88 at 0.83x OpenBLAS, one of 176 at 1.01x).
  int64_t nblocks = ceil_div(Kp, kc);
  if (nblocks == 2 && !d.thread_begin && Kp <= kc + kc / 4 && (!flush_k || Kp <= flush_k))
    nblocks = 1;
  kc = std::min(nblocks == 1 ? Kp : kc, round_up(ceil_div(Kp, nblocks), kpad));
  if (!ov.defaults) {
    if (cs.l2 > 0) mc = cs.l2 / 2 * 8 / (kc * a_bits);
    if (cs.l3 > 0) nc = cs.l3 / 4 * 8 / (kc * b_bits);
    if (ov.mc) mc = ov.mc;
    if (ov.nc) nc = ov.nc;
    mc = std::clamp<int64_t>(mc, d.mr, 1024);
    nc = std::clamp<int64_t>(nc, d.nr, 1 << 16);
  }
  return {kc, std::max<int64_t>(1, mc / d.mr), std::max<int64_t>(1, nc / d.nr)};
}

// The (tm x tn) grid of regions over mp A micro-panels x np B panels for T threads: the
// least per-thread work (its tile area times K), then the least operand traffic (every
// N group reads all of A, every M group all of B; a byte weighs about 3 MACs).
void choose_grid(int64_t mp, int64_t np, int64_t T, const KernelDesc& d, int64_t K,
                 int64_t& tm, int64_t& tn) {
  const double a_bytes = double(mp) * d.mr * K * double(elem_bits(d.a_elem)) / 8;
  const double b_bytes = double(np) * d.nr * K * double(elem_bits(d.b_elem)) / 8;
  double best = 0;
  tm = tn = 1;
  for (int64_t m = 1; m <= std::min(T, mp); ++m)
    for (int64_t n = 1; n <= std::min(T / m, np); ++n) {
      const double work = double(ceil_div(mp, m) * d.mr) * double(ceil_div(np, n) * d.nr) * K;
      const double cost = work + 3.0 * (double(m) * b_bytes + double(n) * a_bytes) / double(m * n);
      if (best == 0 || cost < best) {
        best = cost;
        tm = m;
        tn = n;
      }
    }
}

// Below this many multiply-adds per thread (about 10 us of one thread's work on a 2020s
// x86 core: fp32 ~80 GMAC/s; integer vector tiers ~2x that, x2; tile (AMX) kernels ~1
// TMAC/s, x16), another thread costs more than it saves: such calls run on fewer threads.
// Adjustable (thread_min_macs) so the tests can force every split on small shapes.
std::atomic<int64_t> g_min_macs_per_thread{int64_t(1) << 20};
// Vector kernels read A in place only in calls of at most this many B panels (gemm_on).
constexpr int64_t kDirectPanels = 8;
// Whether the mr rows of an in-place micro-panel, ldx_bytes apart, spread over L1's sets
// (read in place by wider calls too).  x86 L1 data caches index 64 sets of 64-byte lines
// with the address bits below 4 KB, so rows whose stride is a multiple of 1-4 KB share a
// few sets and, re-read for every B panel, evict each other: at most 4 rows per set
// (counted with row 0 at a line boundary).
// Zen 4, avx512vnni, one thread, vs onnxruntime: 1024^3 0.99 -> 1.01x, 784x512x1152
// 0.98 -> 1.03x, 49x512x4608 1.00 -> 1.04x in place; 64x4096x4096 (one set) 1.07 -> 0.82x.
bool rows_spread_in_l1(int64_t ldx_bytes, int64_t mr) {
  int count[64] = {};
  int most = 0;
  for (int64_t r = 0; r < mr; ++r) most = std::max(most, ++count[(r * ldx_bytes / 64) % 64]);
  return most <= 4;
}
// Rows an in-place tile takes when its rows crowd L1 (not rows_spread_in_l1; call_tiles).
constexpr int64_t kCrowdedRows = 8;
// Whether an fp32 call on d with np B panels reads A in place (gemm_on): LOWBIT_F32_DIRECT=0
// turns it off (the bits are the same either way).
bool f32_in_place(const KernelDesc& d, int64_t np) {
  static const bool off = [] {
    const char* e = std::getenv("LOWBIT_F32_DIRECT");
    return e && std::string(e) == "0";
  }();
  return !off && d.ukernel_direct && np <= kDirectPanels;
}
// Whether a call on d (a tile of b0's family; narrow: its exact-but-faster form) with
// activation zero point zx and x rows ldx elements apart reads A in place (gemm_on):
//   fp32: f32_in_place;
//   integer: the variant has an in-place form and nothing about a row needs computing
//   first: every u8 code is valid (nothing to check, so nothing a concurrent writer could
//   slip past a check), the weight zero point leaves no row term (B0 == 0), and
//   K * max|x - zx| * max|w - zw| fits int32 (no row can overflow, whatever its codes).
//   Vector (non-tile) kernels re-read x's strided rows for every B panel: only for narrow
//   calls (at most kDirectPanels B panels) or rows that spread over L1's sets
//   (rows_spread_in_l1).  Zen 4, one thread, avx512vnni: 3136x16x576 vs onnxruntime
//   0.66 -> 1.18x in place, but 64x4096x4096 0.74x in place (rows 4 KB apart share one L1
//   set; every panel re-reads them).
bool reads_in_place(const PackedB& b0, const KernelDesc& d, bool narrow, int32_t zx,
                    int64_t ldx) {  // ldx: elements (integer formats: u8 codes, so bytes)
  const int64_t np = b0.n_panels;
  if (d.format == Format::kFp32) return f32_in_place(d, np);
  if (narrow || !d.ukernel_direct || d.a_elem != Elem::kU8) return false;
  const FormatRanges& r = b0.ranges;
  const int a_off = d.a_offset ? d.a_offset(b0.params) : 0;
  if (a_off != 0 || r.x_min != 0 || r.x_max != 255 || int64_t(b0.b_offset) + b0.zero_point != 0)
    return false;
  const int64_t max_dx = std::max<int64_t>(zx, 255 - zx);
  const int64_t max_dw = std::max(std::llabs(b0.w_dev_min), std::llabs(b0.w_dev_max));
  return double(b0.K) * double(max_dx) * double(max_dw) <= double(INT32_MAX) &&
         (d.thread_begin || np <= kDirectPanels || rows_spread_in_l1(ldx, d.mr));
}
// Packed A of one M chunk at most this large (it stays in the last-level cache).
constexpr int64_t kMinAChunkBytes = int64_t(4) << 20, kMaxAChunkBytes = int64_t(16) << 20;

// Per-calling-thread scratch, kept between calls: small calls allocate nothing.
struct Scratch {
  AlignedBytes a;
  size_t a_size = 0;
  std::vector<ARowStats> stats;
  std::vector<uint32_t> rowterm;
  std::vector<uint32_t> colterm;
  uint8_t* abuf(size_t n) {
    if (n > a_size) {
      a.reset();
      a = aligned_bytes(n, false);
      a_size = n;
    }
    return a.get();
  }
};
thread_local Scratch tl_scratch;

struct Call {
  const PackedB* b;
  const KernelDesc* d;
  int64_t Kp;  // depth of A and B as this variant packs them
  const void* x;
  int64_t M, ldx;
  void* c;
  int64_t ldc;
  Blocking blk;
  bool is_float;
  // pack
  const ACheck* check;
  uint8_t* abuf;
  int64_t apanel_bytes;  // one packed micro-panel (mr x Kp)
  ARowStats* stats;
  // corrections: C[i, j] += rowterm[i] + colterm[j]  (mod 2^32)
  bool correct;
  uint32_t* rowterm;         // indexed by row within the chunk
  const uint32_t* colterm;   // nA0 * colsum32[j], once per call (the tile loop only adds)
  uint32_t nA0;
  int64_t B0, A0;
  bool merge_zmm;  // merge_tile's 64-byte form (merge_width, set by gemm_on)
  // Micro-panels [0, direct_end) of the whole call are read in place from x by `direct`
  // (no packing, no per-row statistics needed: see gemm_on); 0 = every panel is packed.
  DirectAFn direct;
  int64_t direct_end;
  // The partial last micro-panel (M % mr rows) runs a shorter tile of the family, packed
  // in that tile's layout in the same slot: mr - M % mr rows of work fewer (M = 8 on a 6-row
  // tile computed 12 rows before).  nullptr: the main tile runs it, rows padded.
  const KernelDesc* dt;
  int64_t tail_panel;  // index (in the whole call) of that panel
  const KernelDesc& tile_of(int64_t panel) const { return dt && panel == tail_panel ? *dt : *d; }
};

// Packs micro-panels [q0, q1) of the chunk starting at panel p0; checks the int32 range of
// each real row's result and fills its row correction.
void pack_panels(const Call& cl, int64_t p0, int64_t q0, int64_t q1) {
  const KernelDesc& d = *cl.d;
  const PackedB& b = *cl.b;
  const int64_t K = b.K;
  for (int64_t q = q0; q < q1; ++q) {
    const int64_t i0 = (p0 + q) * d.mr;
    if (p0 + q < cl.direct_end) {  // read in place: B0 == 0, so the row term is 0
      if (cl.correct) std::fill_n(cl.rowterm + q * d.mr, d.mr, 0u);
      continue;
    }
    ARowStats* st = cl.stats + q * d.mr;
    pack_a(cl.tile_of(p0 + q), cl.x, cl.M, K, cl.Kp, cl.ldx, i0, cl.check, cl.abuf + q * cl.apanel_bytes, st);
    if (cl.is_float) continue;
    for (int64_t r = 0; r < d.mr && i0 + r < cl.M; ++r) {
      // With P and Q the sums of the positive and negative parts of x - zx over k,
      // P*wmin - Q*wmax <= result <= P*wmax - Q*wmin  (w - zw in [wmin, wmax]).
      const int64_t P = st[r].pos, Q = P - (st[r].sum - K * int64_t(cl.check->zx));
      const int64_t hi = P * b.w_dev_max - Q * b.w_dev_min;
      const int64_t lo = P * b.w_dev_min - Q * b.w_dev_max;
      if (hi > INT32_MAX || lo < INT32_MIN)
        throw std::invalid_argument(
            "exact result of row " + std::to_string(i0 + r) + " could reach " +
            std::to_string(hi > INT32_MAX ? hi : lo) + ", beyond int32 (K=" +
            std::to_string(K) + "); split K or use smaller zero points");
      if (cl.correct)
        cl.rowterm[q * d.mr + r] =
            uint32_t(uint64_t(-cl.B0 * (st[r].sum + K * cl.check->a_offset) + K * cl.A0 * cl.B0));
    }
  }
}

// A tile (tile, nr elements a row; it may be C itself, nr = ldc) merged into C:
// C = (accumulate ? C : 0) + tile, plus, with rowterm (the last depth block of a corrected
// call), rowterm[r] + colterm[q]: the fused epilogue, while the tile is in L1.  Where C rows
// are long, compute_region computes corrected full tiles aside, so that C is written once
// and not read back right after the kernel stored it (those loads waited on stores whose
// lines were still being fetched).  Zen 4, avx512vnni, one thread, the time with
// zero_point 128 over the time with 0 (the cost of the correction), the scalar multiply-add
// loop before / this: 1500x3072x128 1.42-1.46 -> 1.13-1.16, 1024^3 1.06-1.07 -> 1.02,
// 3136x64x576 1.07-1.10 -> 1.03.
enum class MergeWidth { kBaseline, kZmm };
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx512f"))) void merge_tile_zmm(int32_t* c, int64_t ldc,
                                                        const int32_t* tile, int64_t nr,
                                                        int64_t rows, int64_t cols,
                                                        int accumulate, const uint32_t* rowterm,
                                                        const uint32_t* colterm) {
  for (int64_t r = 0; r < rows; ++r) {
    int32_t* crow = c + r * ldc;
    const int32_t* trow = tile + r * nr;
    const __m512i rt = _mm512_set1_epi32(rowterm ? int(rowterm[r]) : 0);
    for (int64_t q = 0; q < cols; q += 16) {
      const __mmask16 m = cols - q >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (cols - q)) - 1);
      __m512i v = _mm512_maskz_loadu_epi32(m, trow + q);
      if (accumulate) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(m, crow + q));
      if (rowterm)
        v = _mm512_add_epi32(v, _mm512_add_epi32(rt, _mm512_maskz_loadu_epi32(m, colterm + q)));
      _mm512_mask_storeu_epi32(crow + q, m, v);
    }
  }
}
#endif
// The merge for d's tiles: 64-byte vectors for the AVX-512 tiers' (and AMX's) on a CPU that
// runs AVX-512 (the emulated tiers run on CPUs without it), the baseline loop otherwise (so
// the tests of the other tiers cover it).
MergeWidth merge_width(const KernelDesc& d) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool zmm = __builtin_cpu_supports("avx512f");
  if (zmm && (std::strncmp(d.tier, "avx512", 6) == 0 || std::strcmp(d.tier, "amx") == 0))
    return MergeWidth::kZmm;
#else
  (void)d;
#endif
  return MergeWidth::kBaseline;
}
inline void merge_tile(const Call& cl, int32_t* c, const int32_t* tile, int64_t nr, int64_t rows,
                       int64_t cols, int accumulate, const uint32_t* rowterm,
                       const uint32_t* colterm) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (cl.merge_zmm) {
    merge_tile_zmm(c, cl.ldc, tile, nr, rows, cols, accumulate, rowterm, colterm);
    return;
  }
#endif
  for (int64_t r = 0; r < rows; ++r) {
    uint32_t* crow = reinterpret_cast<uint32_t*>(c + r * cl.ldc);
    const uint32_t* trow = reinterpret_cast<const uint32_t*>(tile + r * nr);
    const uint32_t rt = rowterm ? rowterm[r] : 0;
    for (int64_t v = 0; v < cols; ++v)
      crow[v] = (accumulate ? crow[v] : 0u) + trow[v] + (rowterm ? rt + colterm[v] : 0u);
  }
}

// Whether d's edge forms (packed: ukernel_edge; in place: ukernel_direct_edge) cover a B
// panel with nv real columns.
inline bool edge_panel(const KernelDesc& d, int64_t nv) {
  return nv < d.nr && (d.edge_cols == 0 || nv <= d.edge_cols);
}
inline bool edge2_panel(const KernelDesc& d, int64_t nv) {
  return nv < d.nr && nv <= d.edge2_cols;
}
// The packed kernel for a B panel with nv real columns: the narrowest form that covers it.
inline UKernelFn packed_kernel(const KernelDesc& d, int64_t nv) {
  if (d.ukernel_edge2 && edge2_panel(d, nv)) return d.ukernel_edge2;
  return d.ukernel_edge && edge_panel(d, nv) ? d.ukernel_edge : d.ukernel;
}
// The in-place kernel for a B panel with nv real columns (cl.direct is d's ukernel_direct).
inline DirectAFn direct_kernel(const Call& cl, int64_t nv) {
  const KernelDesc& d = *cl.d;
  if (d.ukernel_direct_edge2 && edge2_panel(d, nv)) return d.ukernel_direct_edge2;
  return d.ukernel_direct_edge && edge_panel(d, nv) ? d.ukernel_direct_edge : cl.direct;
}

// One region: A micro-panels [q0, q1) of the chunk starting at panel p0 x B panels [j0, j1).
// Loop order per depth block: BLIS's (each B micro-panel in L1 while the A panels of the MC
// block stream past it) or, where the whole B block sits in half of L2 and C rows are long
// (>= kRowOrderCols columns), A panel outer: each A micro-panel in L1 while the B panels
// stream from L2, and the tile stores run along C's rows instead of down its columns (a
// column sweep of a 1500 x 4224 int32 C touches a new page every row).
constexpr int64_t kRowOrderCols = 1024;
// Whether a column block of `panels` B panels, depth kc, runs A panel outer.
inline bool row_order(const KernelDesc& d, int64_t panels, int64_t kc) {
  const int64_t l2 = cache_sizes().l2;
  return !d.ukernel_wide && !d.thread_begin && l2 > 0 && panels * d.nr >= kRowOrderCols &&
         panels * d.nr * kc * int64_t(elem_bits(d.b_elem)) / 8 <= l2 / 2;
}
void compute_region(const Call& cl, int64_t p0, int64_t q0, int64_t q1, int64_t j0, int64_t j1) {
  const KernelDesc& d = *cl.d;
  const PackedB& b = *cl.b;
  const int64_t mr = d.mr, nr = d.nr;
  const int64_t a_bits = int64_t(elem_bits(d.a_elem)), b_bits = int64_t(elem_bits(d.b_elem));
  alignas(64) int32_t tile_i[64 * 64];  // mr x nr <= 4096 (checked at registration)
  float* tile_f = reinterpret_cast<float*>(tile_i);
  const Blocking& blk = cl.blk;

  if (d.thread_begin) d.thread_begin();
  for (int64_t jc = j0; jc < j1; jc += blk.NCp) {
    const int64_t jc_end = std::min(j1, jc + blk.NCp);
    for (int64_t pc = 0; pc < cl.Kp; pc += blk.KC) {
      const int64_t kc = std::min(blk.KC, cl.Kp - pc);
      const int accumulate = pc > 0;
      const bool last = pc + kc >= cl.Kp;
      // Tile (q, jr): A micro-panel q of the chunk times B panel jr, depth block pc.
      auto tile = [&](int64_t q, int64_t jr, bool multi) {
        const uint8_t* bp = b.data.get() + jr * b.panel_bytes + pc * nr * b_bits / 8;
        const int64_t n0 = jr * nr;
        const int64_t nv = std::min(nr, b.N - n0);
        const KernelDesc& dq = cl.tile_of(p0 + q);
        // In place: row i of x, from depth pc (elements of a_bits; lda in bytes).
        const bool direct = p0 + q < cl.direct_end;
        const uint8_t* ax = direct ? static_cast<const uint8_t*>(cl.x) +
                                         ((p0 + q) * mr * cl.ldx + pc) * a_bits / 8
                                   : nullptr;
        const uint8_t* ap = cl.abuf + q * cl.apanel_bytes + pc * dq.mr * a_bits / 8;
        const int64_t i = (p0 + q) * mr;
        const int64_t mv = std::min<int64_t>(dq.mr, cl.M - i);
        if (cl.is_float) {
          float* cp = static_cast<float*>(cl.c) + i * cl.ldc + n0;
          if (multi) {
            d.ukernel_wide(kc, ap, bp, b.panel_bytes, cp, accumulate);
            return;
          }
          if (direct) {  // a full micro-panel; an edge panel goes through the tile
            if (nv == nr) {
              cl.direct(kc, ax, cl.ldx * 4, bp, cp, cl.ldc, accumulate);
              return;
            }
            direct_kernel(cl, nv)(kc, ax, cl.ldx * 4, bp, tile_f, nr, 0);
          } else if (mv == dq.mr && nv == nr) {
            dq.ukernel(kc, ap, bp, cp, cl.ldc, accumulate);
            return;
          } else {
            packed_kernel(dq, nv)(kc, ap, bp, tile_f, nr, 0);
          }
          for (int64_t r = 0; r < mv; ++r)
            for (int64_t v = 0; v < nv; ++v)
              cp[r * cl.ldc + v] = accumulate ? cp[r * cl.ldc + v] + tile_f[r * nr + v]
                                              : tile_f[r * nr + v];
          return;
        }
        int32_t* cp = static_cast<int32_t*>(cl.c) + i * cl.ldc + n0;
        const bool fix = last && cl.correct;  // the corrections go in with this block
        // Full tiles are computed aside for their corrections only where the merge is the
        // 64-byte one and C rows are long (a store there misses: C rows of kRowOrderCols
        // columns or more); elsewhere they are corrected in place, after the store.  Zen 4,
        // avx512vnni, one thread, aside / in place: 1500x3072x128 int8 1.19x, int4 1.08x,
        // 4.6bit 1.14x; 1024^3 1.01-1.03x; 3136x64x576 and 196x256x2304 0.96-1.04x.
        const bool aside = fix && cl.merge_zmm && b.N >= kRowOrderCols;
        if (mv == dq.mr && nv == nr && !aside) {
          if (direct)
            cl.direct(kc, ax, cl.ldx, bp, cp, cl.ldc, accumulate);
          else
            dq.ukernel(kc, ap, bp, cp, cl.ldc, accumulate);
          if (fix) merge_tile(cl, cp, cp, cl.ldc, mv, nv, 0, cl.rowterm + q * mr, cl.colterm + n0);
          return;
        }
        // Computed aside (an edge tile, or a corrected one), then merged.  The kernel fetches
        // the C tile it stores (the aside one): fetch the real one here.
        for (int64_t r = 0; r < mv; ++r)
          for (int64_t v = 0; v < nv; v += 16) __builtin_prefetch(cp + r * cl.ldc + v, 1);
        if (direct)
          direct_kernel(cl, nv)(kc, ax, cl.ldx, bp, tile_i, nr, 0);
        else
          packed_kernel(dq, nv)(kc, ap, bp, tile_i, nr, 0);
        merge_tile(cl, cp, tile_i, nr, mv, nv, accumulate, fix ? cl.rowterm + q * mr : nullptr,
                   fix ? cl.colterm + n0 : nullptr);
      };
      const bool by_rows = row_order(d, jc_end - jc, kc);
      for (int64_t ic = q0; ic < q1; ic += blk.MCp) {
        const int64_t ic_end = std::min(q1, ic + blk.MCp);
        if (by_rows) {
          for (int64_t q = ic; q < ic_end; ++q)
            for (int64_t jr = jc; jr < jc_end; ++jr) tile(q, jr, false);
          continue;
        }
        for (int64_t jr = jc; jr < jc_end; ++jr) {
          // Several full panels at once (one-row fp32 tiles: several memory streams); mr == 1.
          const int64_t wide = d.wide_panels;
          const bool multi = d.ukernel_wide && jr + wide <= jc_end && (jr + wide) * nr <= b.N;
          for (int64_t q = ic; q < ic_end; ++q) tile(q, jr, multi);
          if (multi) jr += wide - 1;
        }
      }
    }
  }
  if (d.thread_end) d.thread_end();
}

// One attempt of a call on variant d.  narrow: d is a narrow variant (KernelDesc::narrow),
// its B the narrow packing, and its pack check the narrower code range (NarrowMiss when a
// code is outside it).
void gemm_on(const PackedB& b0, const KernelDesc& d, const KernelDesc* tail, int64_t flush_k,
             bool narrow, const void* x, int64_t M, int64_t ldx, int32_t zx, void* c,
             int64_t ldc, int threads) {
  const bool is_float = d.format == Format::kFp32;
  const int64_t Kp = round_up(b0.K, d.kpad());
  Call cl{};
  cl.b = &b0;  // shape, ranges, sums; replaced by the narrow packing before computing
  cl.d = &d;
  cl.x = x;
  cl.M = M;
  cl.ldx = ldx;
  cl.c = c;
  cl.ldc = ldc;
  cl.is_float = is_float;
  cl.blk = blocking(d, flush_k, Kp);
  cl.Kp = Kp;

  ACheck check{};
  if (!is_float) {
    const FormatRanges& r = b0.ranges;
    if (zx < r.zx_min || zx > r.zx_max)
      throw std::invalid_argument(std::string(format_name(b0.format)) + ": activation zero_point " +
                                  std::to_string(zx) + " outside [" + std::to_string(r.zx_min) +
                                  ", " + std::to_string(r.zx_max) + "]");
    const int a_off = d.a_offset ? d.a_offset(b0.params) : 0;
    check = {r.x_min, narrow ? std::min(r.x_max, b0.desc->narrow_x_max) : r.x_max, a_off, zx,
             format_name(b0.format), narrow};
    cl.check = &check;
    // x - zx = s_a - A0 and w - zw = s_b - B0 for stored values s (docs/formats.md):
    // sum (s_a - A0)(s_b - B0) = S - B0*rowsum(s_a) - A0*colsum(s_b) + K*A0*B0.
    cl.A0 = int64_t(a_off) + zx;
    cl.B0 = int64_t(b0.b_offset) + b0.zero_point;
    cl.correct = cl.A0 != 0 || cl.B0 != 0;
    cl.merge_zmm = merge_width(d) == MergeWidth::kZmm;
    cl.nA0 = uint32_t(uint64_t(-cl.A0));
  }

  const int64_t mr = d.mr;
  const int64_t mp = ceil_div(M, mr), np = b0.n_panels;
  cl.dt = tail;
  cl.tail_panel = mp - 1;
  // A read in place (XNNPACK-style; reads_in_place says when).  Integer formats: only
  // panels whose tile loads stay inside x: a row's loads reach k = Kp - 1, past K on the
  // last group (those bytes meet B's zero padding), so the last rows are packed.  fp32:
  // every full micro-panel (the partial last one is packed).  fp32 is read in place only in
  // narrow calls (at most 8 B panels), where packing A costs a large share of the call:
  // measured on Zen 3, one thread, M = 3136, K = 576: N = 16 28 -> 46 GFMA/s, N = 64 38 ->
  // 44, but N = 256 43 -> 41 (every B panel re-reads A's strided rows).  LOWBIT_F32_DIRECT=0
  // turns it off (the bits are the same either way).
  cl.direct = reads_in_place(b0, d, narrow, zx, ldx) ? d.ukernel_direct : nullptr;
  cl.direct_end = 0;
  if (cl.direct && is_float) {
    cl.direct_end = M / mr;
  } else if (cl.direct) {
    const int64_t over = Kp - b0.K;  // bytes a row's loads reach past K
    const int64_t last_row = M - 1 - (over ? ceil_div(over, ldx) : 0);
    cl.direct_end = std::max<int64_t>(0, last_row + 1) / mr;
  }
  // One micro-panel of A (GEMV-like): no B micro-panel is reused across rows, so depth
  // blocks only cut B's stream; take the whole depth (up to the flush period).
  if (mp == 1) cl.blk.KC = flush_k ? std::min(flush_k, Kp) : Kp;
  // C rows of at least kRowOrderCols columns whose B block would not fit in half of L2:
  // column blocks narrowed until it does, so compute_region takes the A-panel-outer order
  // (tile stores along C's rows).  Zen 4, one thread, 1500x4224x176: int8 0.87 -> 1.03x
  // onnxruntime, fp32 0.83 -> 1.01x OpenBLAS (with two depth blocks; 1.02x with one).
  {
    const int64_t fit = cache_sizes().l2 / 2 * 8 / (cl.blk.KC * d.nr * int64_t(elem_bits(d.b_elem)));
    if (fit > 0 && std::min(cl.blk.NCp, np) > fit) {
      const int64_t ncp = ceil_div(np, ceil_div(np, fit));  // balanced blocks of <= fit
      if (row_order(d, ncp, cl.blk.KC)) cl.blk.NCp = ncp;
    }
  }
  cl.apanel_bytes = mr * Kp * int64_t(elem_bits(d.a_elem)) / 8;
  // Threads: what was asked, at most the pool's capacity, the tiles and the work.
  const double macs = double(M) * double(b0.N) * double(b0.K);
  // One micro-panel of A (GEMV-like): bound by the weight stream (about 80 GB/s from L2 or
  // L3 on Zen 4 whatever the format), so the floor counts weight bytes instead: 2^18 per
  // thread at the default (3 us; two threads from 6 us of one thread's work).  Zen 4, 1 / 2
  // threads: int8 1x1000x1024 12.9 / 6.8 us; fp32 1x1000x512 24.2 / 14.0 us.  Smaller calls
  // gain less (fp32 1x64x1216 3.8 / 3.2 us back to back) and on a busy 2-core VM the second
  // thread's share sometimes waited on a descheduled vCPU (7 us).
  const double base = double(g_min_macs_per_thread.load(std::memory_order_relaxed));
  const double min_macs = mp == 1 ? base * 2 / double(elem_bits(d.b_elem))
                                  : base * (is_float ? 1 : d.thread_begin ? 16 : 2);
  const int64_t T = std::max<int64_t>(
      1, std::min<int64_t>({int64_t(threads), int64_t(max_threads()), mp * np,
                            int64_t(std::min(macs / std::max(min_macs, 1.0), 1e9))}));
  const int64_t budget = std::clamp<int64_t>(cache_sizes().l3 / 2, kMinAChunkBytes, kMaxAChunkBytes);
  const int64_t chunk = std::clamp<int64_t>(budget / cl.apanel_bytes, std::min<int64_t>(T, mp), mp);

  Scratch& s = tl_scratch;
  cl.abuf = s.abuf(size_t(chunk * cl.apanel_bytes));
  if (s.stats.size() < size_t(chunk * mr)) s.stats.resize(size_t(chunk * mr));
  cl.stats = s.stats.data();
  if (cl.correct) {
    if (s.rowterm.size() < size_t(chunk * mr)) s.rowterm.resize(size_t(chunk * mr));
    cl.rowterm = s.rowterm.data();
    if (s.colterm.size() < size_t(b0.N)) s.colterm.resize(size_t(b0.N));
    for (int64_t j = 0; j < b0.N; ++j) s.colterm[size_t(j)] = cl.nA0 * b0.colsum32[size_t(j)];
    cl.colterm = s.colterm.data();
  }

  // Where all of B fits in L2, A is packed and consumed in blocks of half of L2 (a tall,
  // skinny call: packed A then never leaves L2, and B costs nothing to sweep again per
  // block); otherwise the whole range is packed first and B swept once per range.
  // (3136x16x576 fp32, Zen 3, one thread: 21 -> 28 GFMA/s; packed A had gone to L3 and back.)
  const int64_t b_bytes = b0.K * b0.N * int64_t(elem_bits(d.b_elem)) / 8;
  const int64_t l2 = cache_sizes().l2;
  const int64_t sub = l2 > 0 && b_bytes <= l2 ? std::max<int64_t>(1, l2 / 2 / cl.apanel_bytes)
                                              : INT64_MAX;
  auto pack_and_compute = [&](int64_t p0, int64_t q0, int64_t q1) {
    for (int64_t s0 = q0; s0 < q1;) {
      const int64_t s1 = q1 - s0 <= sub ? q1 : s0 + sub;  // sub may be INT64_MAX
      pack_panels(cl, p0, s0, s1);
      // Every code of the block passed the check: now the B this variant reads (a narrow
      // attempt reads the narrow B only for panels already checked).
      if (narrow && cl.b == &b0) cl.b = &narrow_packing(b0);
      compute_region(cl, p0, s0, s1, 0, np);
      s0 = s1;
    }
  };
  Pool& pool = Pool::get();
  for (int64_t p0 = 0; p0 < mp; p0 += chunk) {
    const int64_t cp = std::min(chunk, mp - p0);
    if (T == 1) {
      pack_and_compute(p0, 0, cp);
      continue;
    }
    int64_t tm = 1, tn = 1;
    choose_grid(cp, np, T, d, b0.K, tm, tn);
    // Whole C rows per region where they run A panel outer: an N split would cut them below
    // kRowOrderCols and send the tile stores down C's columns.  Zen 4, int8, 2 threads, vs
    // onnxruntime: 1500x3072x128 (had been cut into 8 groups of 384 columns) 0.80 -> 0.98x,
    // 1500x4224x176 0.86 -> 0.96x.
    if (tn > 1 && cp >= T && row_order(d, std::min(cl.blk.NCp, np), cl.blk.KC) &&
        !row_order(d, std::min(cl.blk.NCp, ceil_div(np, tm == 1 ? 4 * tn : tn)), cl.blk.KC)) {
      tm = std::min<int64_t>(T, cp);
      tn = 1;
    }
    if (tn == 1) {
      // M split only: every task packs the micro-panels it computes on (nothing shared, one
      // pool run, no barrier).  A few tasks per thread, taken dynamically, so a thread that
      // starts late (a busy machine) leaves its share to the others.  A narrow attempt reads
      // the narrow B only for panels its own task has checked.
      if (narrow && cl.b == &b0) cl.b = &narrow_packing(b0);
      const int64_t ntasks = std::min(cp, 4 * T);
      pool.run(T, ntasks, [&](int64_t t) {
        pack_and_compute(p0, cp * t / ntasks, cp * (t + 1) / ntasks);
      });
      continue;
    }
    const int64_t packers = std::min(T, cp);
    if (packers > 1) {
      pool.run(packers, packers, [&](int64_t t) {
        pack_panels(cl, p0, cp * t / packers, cp * (t + 1) / packers);
      });
    } else {
      pack_panels(cl, p0, 0, cp);  // one micro-panel (GEMV-like): not worth a pool run
    }
    if (narrow && cl.b == &b0) cl.b = &narrow_packing(b0);
    // N groups cut finer (several tasks per thread, taken dynamically) when the M split is
    // trivial, for the same reason as above.
    const int64_t sn = tm == 1 ? std::min(np, 4 * tn) : tn;
    pool.run(T, tm * sn, [&](int64_t t) {
      const int64_t gm = t / sn, gn = t % sn;
      compute_region(cl, p0, cp * gm / tm, cp * (gm + 1) / tm, np * gn / sn, np * (gn + 1) / sn);
    });
  }
}

// Whether the codes of x's first row begin inside the narrow range: a cheap look that spares
// a narrow attempt bound to miss (the attempt itself checks every code it packs).
bool narrow_plausible(const uint8_t* x, int64_t K, int x_max) {
  const int64_t n = std::min<int64_t>(K, 256);
  uint8_t hi = 0;
  for (int64_t k = 0; k < n; ++k) hi = std::max(hi, x[k]);
  return hi <= x_max;
}

}  // namespace

int max_threads() { return Pool::get().capacity(); }

int64_t thread_min_macs(int64_t v) {
  if (v >= 0) g_min_macs_per_thread.store(v);
  return g_min_macs_per_thread.load();
}

CallTiles call_tiles(const PackedB& b, int64_t M, int64_t ldx, int32_t zx, bool narrow) {
  const KernelFamily& f = *b.family;
  int tile = f.tile_for(M, b.tile);
  // A read in place by a vector tile whose rows crowd into a few of L1's sets (more than 4
  // rows in one: a row stride of a multiple of 2 KB, K a multiple of 512 floats or 2048
  // codes; rows_spread_in_l1): the family's tallest in-place tile of at most kCrowdedRows
  // rows, so a micro-panel's rows stay in L1 (8 ways) while the tile consumes their cache
  // lines.  Zen 4, one thread, 12/14 -> 8 rows: fp32 (avx512) 700x35x2048 1.48-1.92 ->
  // 1.14-1.24 ms, 700x200x4096 17.6-19.2 -> 11.3-13.6 ms, 700x64x1024 1.30-1.39 ->
  // 0.88-1.00 ms; int8 (avx512vnni) vs onnxruntime 700x200x4096 0.69-0.77 -> 1.14x,
  // 49x128x4096 0.75 -> 1.20-1.32x; rows that spread (fp32 K = 2032) or sit in four sets
  // (int8 K = 1024) within noise.
  const KernelDesc& top = *f.tiles[tile];
  const int64_t ldx_bytes = top.format == Format::kFp32 ? ldx * 4 : ldx;  // x: float or u8
  if (!narrow && !top.thread_begin && top.mr > kCrowdedRows &&
      !rows_spread_in_l1(ldx_bytes, top.mr) && reads_in_place(b, top, narrow, zx, ldx)) {
    int best = -1;
    for (int i = 0; i < f.count; ++i) {
      const KernelDesc& t = *f.tiles[i];
      if (t.mr <= kCrowdedRows && t.ukernel_direct && !t.thread_begin && t.kb == top.kb &&
          t.nr == top.nr && (best < 0 || t.mr > f.tiles[best]->mr))
        best = i;
    }
    if (best >= 0 && M >= f.tiles[best]->mr) tile = best;
  }
  const KernelDesc& d = *f.tiles[tile];
  CallTiles out{&d, nullptr, b.tile_flush_k[size_t(tile)]};
  // The rows past the last full tile: the family's shortest tile that holds them, when it is
  // shorter than d, takes d's depth blocks (flush period no shorter, kpad dividing d's) and
  // needs no per-thread set-up (tile kernels configure their tile shape per thread).
  auto fits = [](const KernelDesc& m, int64_t mflush, const KernelDesc& t, int64_t tflush) {
    return t.mr < m.mr && !m.thread_begin && !t.thread_begin && t.kb == m.kb && t.nr == m.nr &&
           m.kpad() % t.kpad() == 0 && (tflush == 0 || (mflush != 0 && tflush >= mflush));
  };
  const int64_t rem = M % d.mr;
  const int ti = rem ? int(f.by_m[rem]) : 0;
  if (ti && fits(d, out.flush_k, *f.tiles[ti], b.tile_flush_k[size_t(ti)])) out.tail = f.tiles[ti];
  if (!narrow) return out;
  const KernelDesc* nd = d.narrow;
  if (!nd || !b.desc->narrow || nd->kb != b.desc->narrow->kb || nd->nr != b.desc->narrow->nr)
    return {};
  const int64_t nflush = flush_period(*nd, b.params);
  const KernelDesc* nt = out.tail ? out.tail->narrow : nullptr;
  if (nt && !fits(*nd, nflush, *nt, flush_period(*nt, b.params))) nt = nullptr;
  return {nd, nt, nflush};
}

void gemm(const PackedB& b, const void* x, int64_t M, int64_t ldx, int32_t zx, void* c,
          int64_t ldc, int threads) {
  if (threads < 1) throw std::invalid_argument("threads must be >= 1");
  if (M < 1) return;
  const CallTiles t = call_tiles(b, M, ldx, zx, false);
  if (t.main->format == Format::kFp32 && zx != 0)
    throw std::invalid_argument("fp32 activations take no zero point");
  // The exact-but-faster variant when the codes allow it (the pack check decides).
  if (t.main->narrow &&
      narrow_plausible(static_cast<const uint8_t*>(x), b.K, b.desc->narrow_x_max)) {
    const CallTiles n = call_tiles(b, M, ldx, zx, true);
    if (n.main) {
      try {
        gemm_on(b, *n.main, n.tail, n.flush_k, true, x, M, ldx, zx, c, ldc, threads);
        return;
      } catch (const NarrowMiss&) {
      }
    }
  }
  gemm_on(b, *t.main, t.tail, t.flush_k, false, x, M, ldx, zx, c, ldc, threads);
}

}  // namespace lowbit
