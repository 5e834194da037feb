// Roofline measurements for the benchmark report (src/lowbit/bench/roofline.py):
//   roofline_probes()                       the compiled probes and whether each can run here
//   roofline_peak(name, threads, ...)       best ops/s of one probe, `threads` copies at once
//   roofline_bandwidth(bytes, threads, ...) best streaming-read bytes/s over `bytes` in total
// A probe runs only where its tier is runnable on this CPU (tier_runnable: CPU features, and
// the AMX tile permission); LOWBIT_MAX_TIER does not hide probes, which describe the machine.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "internal.h"
#include "roofline.h"

namespace py = pybind11;

namespace lowbit {
namespace roofline {
namespace {

uint64_t read_scalar(const void* p, size_t bytes) {
  const uint64_t* v = static_cast<const uint64_t*>(p);
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i < bytes / 8; i += 4) {
    s0 += v[i];
    s1 += v[i + 1];
    s2 += v[i + 2];
    s3 += v[i + 3];
  }
  return s0 + s1 + s2 + s3;
}
const Reader kScalarReader = {"read.u64", "scalar", read_scalar};

std::vector<List> lists() {
  return {
#if defined(LOWBIT_ARCH_X86)
      list_avx2(), list_avx512(), list_avxvnni(), list_avx512vnni(), list_amx(),
#elif defined(LOWBIT_ARCH_AARCH64)
      list_neon(), list_dotprod(), list_i8mm(),
#endif
  };
}

const Probe& find_probe(const std::string& name) {
  for (const List& l : lists())
    for (size_t i = 0; i < l.n_probes; ++i)
      if (name == l.probes[i].name) return l.probes[i];
  throw std::invalid_argument("unknown roofline probe '" + name + "'");
}

// The widest runnable reader (the kernels' widest loads).
const Reader& best_reader() {
  const Reader* best = &kScalarReader;
  for (const List& l : lists())
    for (size_t i = 0; i < l.n_readers; ++i)
      if (tier_runnable(l.readers[i].tier)) best = &l.readers[i];
  return *best;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Runs work(thread index) on `threads` threads released together; returns the wall time from
// the release to the last one's end.
template <class F>
double run_parallel(int threads, F work) {
  if (threads == 1) {
    const double t0 = now_s();
    work(0);
    return now_s() - t0;
  }
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      work(t);
    });
  while (ready.load() < threads) std::this_thread::yield();
  const double t0 = now_s();
  go.store(true, std::memory_order_release);
  for (auto& th : pool) th.join();
  return now_s() - t0;
}

void check_threads(int threads) {
  if (threads < 1 || threads > 1024)
    throw std::invalid_argument("threads must be in 1..1024, got " + std::to_string(threads));
}

// Best ops/s over `trials` runs of at least `min_time_s` each.
double peak(const std::string& name, int threads, double min_time_s, int trials) {
  check_threads(threads);
  const Probe& p = find_probe(name);
  if (!tier_runnable(p.tier))
    throw std::invalid_argument(std::string("roofline probe '") + name + "' needs tier '" +
                                p.tier + "', which cannot run on this CPU");
  int64_t iters = 1000;
  while (run_parallel(1, [&](int) { p.run(iters); }) < min_time_s / 4 && iters < (1ll << 40))
    iters *= 2;
  iters *= 4;
  double best = 0;
  for (int i = 0; i < std::max(trials, 1); ++i) {
    const double dt = run_parallel(threads, [&](int) { p.run(iters); });
    best = std::max(best, p.ops_per_iter * double(iters) * threads / dt);
  }
  return best;
}

struct Aligned {
  void operator()(uint8_t* p) const { std::free(p); }
};

// Best bytes/s reading `bytes` in total, split over `threads` private buffers.
py::dict bandwidth(int64_t bytes, int threads, double min_time_s, int trials) {
  check_threads(threads);
  if (bytes < 4096 || bytes > (int64_t(1) << 36))
    throw std::invalid_argument("bytes must be in 4 KiB .. 64 GiB");
  const Reader& r = best_reader();
  const size_t per = (size_t(bytes) / size_t(threads) + 255) & ~size_t(255);
  std::vector<std::unique_ptr<uint8_t, Aligned>> bufs;
  for (int t = 0; t < threads; ++t) {
    void* p = std::aligned_alloc(64, per);
    if (!p) throw std::bad_alloc();
    std::memset(p, 1, per);  // touch every page
    bufs.emplace_back(static_cast<uint8_t*>(p));
  }
  std::vector<uint64_t> sink(threads);
  int64_t passes = 1;
  while (run_parallel(1, [&](int) {
           for (int64_t i = 0; i < passes; ++i) sink[0] += r.read(bufs[0].get(), per);
         }) < min_time_s / 4 && passes < (1ll << 30))
    passes *= 2;
  passes = std::max<int64_t>(1, passes * 4 / threads);
  double best = 0;
  for (int i = 0; i < std::max(trials, 1); ++i) {
    const double dt = run_parallel(threads, [&](int t) {
      for (int64_t k = 0; k < passes; ++k) sink[t] += r.read(bufs[t].get(), per);
    });
    best = std::max(best, double(per) * threads * passes / dt);
  }
  volatile uint64_t keep = 0;
  for (uint64_t s : sink) keep = keep + s;
  py::dict d;
  d["bytes_per_s"] = best;
  d["bytes"] = int64_t(per) * threads;
  d["reader"] = r.name;
  return d;
}

}  // namespace
}  // namespace roofline
}  // namespace lowbit

void register_roofline(py::module_& m) {
  using namespace lowbit::roofline;
  m.def("roofline_probes", [] {
    py::list out;
    for (const List& l : lists())
      for (size_t i = 0; i < l.n_probes; ++i) {
        const Probe& p = l.probes[i];
        py::dict d;
        d["name"] = p.name;
        d["tier"] = p.tier;
        d["what"] = p.what;
        d["runnable"] = lowbit::tier_runnable(p.tier);
        out.append(d);
      }
    return out;
  });
  m.def("roofline_peak", &peak, py::arg("name"), py::arg("threads") = 1,
        py::arg("min_time_s") = 0.02, py::arg("trials") = 5,
        py::call_guard<py::gil_scoped_release>(),
        "Best operations per second (2 per multiply-accumulate) of one probe on `threads` "
        "threads at once.");
  m.def(
      "roofline_bandwidth",
      [](int64_t bytes, int threads, double min_time_s, int trials) {
        return bandwidth(bytes, threads, min_time_s, trials);
      },
      py::arg("bytes"), py::arg("threads") = 1, py::arg("min_time_s") = 0.02,
      py::arg("trials") = 5,
      "Best streaming-read bandwidth over `bytes` in total, split over `threads` buffers.");
}
