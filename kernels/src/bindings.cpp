// pybind11 module lowbit._core.  The Python layer (src/lowbit/__init__.py) does the friendly
// argument checking of the set-up calls; matmul, called per layer, is checked whole here, and
// this layer re-checks what memory safety depends on everywhere.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "internal.h"

namespace py = pybind11;
using namespace lowbit;

namespace {

struct PackedWeights {
  std::unique_ptr<PackedB> b;
};

const char* elem_name(Elem e) {
  switch (e) {
    case Elem::kF32: return "f32";
    case Elem::kU8: return "u8";
    case Elem::kS8: return "s8";
    case Elem::kS16: return "s16";
    case Elem::kU4: return "u4";
  }
  return "?";
}

py::dict params_dict(Format f, const FormatParams& p) {
  py::dict d;
  if (f == Format::kQ46) {
    d["act_levels"] = p.act_levels;
    d["weight_levels"] = p.weight_levels;
  }
  return d;
}

// Level counts as Python gives them: None = not given (the format's default or rule).
std::optional<int> level_arg(const std::optional<py::int_>& v, const char* what);

FormatParams make_params(Format f, const std::optional<py::int_>& act_levels,
                         const std::optional<py::int_>& weight_levels) {
  return format_params(f, level_arg(act_levels, "act_levels"),
                       level_arg(weight_levels, "weight_levels"));
}

// Messages are built only on failure: str(dtype) is a Python call, too slow per matmul.
void check_matrix(const py::array& a, const char* what, const py::dtype& dt) {
  if (a.ndim() != 2) throw py::type_error(std::string(what) + " must be a 2-D array");
  if (!a.dtype().is(dt) && !a.dtype().equal(dt))
    throw py::type_error(std::string(what) + " has dtype " + std::string(py::str(a.dtype())) +
                         ", expected " + std::string(py::str(dt)));
  if (!(a.flags() & py::array::c_style))
    throw py::type_error(std::string(what) + " must be C-contiguous");
}

py::dtype x_dtype(Format f) {
  return f == Format::kFp32 ? py::dtype::of<float>() : py::dtype::of<uint8_t>();
}
py::dtype w_dtype(Format f) {
  switch (f) {
    case Format::kFp32: return py::dtype::of<float>();
    case Format::kInt4: return py::dtype::of<uint8_t>();
    default: return py::dtype::of<int8_t>();
  }
}

// Python ints of any size: a clear ValueError for what int32 cannot hold (not pybind's
// "incompatible function arguments").
int64_t to_i64(const py::int_& v, const char* what) {
  int overflow = 0;
  const long long r = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
  if (r == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow) throw py::value_error(std::string(what) + " " + std::string(py::str(v)) + " is out of range");
  return r;
}

int32_t to_i32(const py::int_& v, const char* what) {
  const int64_t r = to_i64(v, what);
  if (r < INT32_MIN || r > INT32_MAX)
    throw py::value_error(std::string(what) + " " + std::to_string(r) + " is out of range");
  return int32_t(r);
}

std::optional<int> level_arg(const std::optional<py::int_>& v, const char* what) {
  if (!v) return std::nullopt;
  return to_i32(*v, what);
}

std::string type_name(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }

// An integer argument as Python's int: int itself (bool excluded) or a numpy integer.
py::int_ int_arg(py::handle v, const char* what) {
  if (PyLong_CheckExact(v.ptr())) return py::reinterpret_borrow<py::int_>(v);
  static const py::handle np_integer = py::object(py::module_::import("numpy").attr("integer")).release();
  static const py::handle np_bool = py::object(py::module_::import("numpy").attr("bool_")).release();
  if (PyBool_Check(v.ptr()) || py::isinstance(v, np_bool) ||
      !(PyLong_Check(v.ptr()) || py::isinstance(v, np_integer)))
    throw py::type_error(std::string(what) + " must be an integer, got " + type_name(v));
  return py::reinterpret_steal<py::int_>(PyNumber_Index(v.ptr()));
}

// matmul's x: a 2-D numpy array of the format's activation dtype with K columns; any strides
// (transposed views, slices, Fortran order) are accepted and copied to C order.
py::array activation_matrix(py::handle h, const py::dtype& dt, int64_t K) {
  if (!py::isinstance<py::array>(h))
    throw py::type_error("x must be a numpy.ndarray, got " + type_name(h));
  py::array a = py::reinterpret_borrow<py::array>(h);
  if (a.ndim() != 2)
    throw py::value_error("x must be 2-D, got shape " + std::string(py::str(a.attr("shape"))));
  if (!a.dtype().is(dt) && !a.dtype().equal(dt))
    throw py::type_error("x has dtype " + std::string(py::str(a.dtype())) + ", expected " +
                         std::string(py::str(dt)) + " for this format");
  if (a.shape(1) != K)
    throw py::value_error("shape mismatch: x is " + std::string(py::str(a.attr("shape"))) +
                          " but the packed weights have K=" + std::to_string(K) +
                          " (x must be (M, " + std::to_string(K) + "))");
  if (!(a.flags() & py::array::c_style)) a = py::array::ensure(a, py::array::c_style);
  if (!a) throw py::error_already_set();
  return a;
}

py::object range_or_none(Format f, int lo, int hi) {
  if (f == Format::kFp32) return py::none();
  return py::make_tuple(lo, hi);
}

// What lowbit.format_spec() returns, from the one set of rules above (formats.cpp).
py::dict format_info(Format f, const FormatParams& p) {
  const FormatRanges r = format_ranges(f, p);
  py::dict d;
  d["name"] = format_name(f);
  d["x_dtype"] = x_dtype(f);
  d["w_dtype"] = w_dtype(f);
  d["x_range"] = range_or_none(f, r.x_min, r.x_max);
  d["w_range"] = range_or_none(f, r.w_min, r.w_max);
  d["zx_range"] = py::make_tuple(r.zx_min, r.zx_max);
  d["zw_range"] = py::make_tuple(r.zw_min, r.zw_max);
  d["params"] = params_dict(f, p);
  return d;
}

// An activation or weight zero point that int32 cannot hold is outside every format's range:
// say so with the format's range.
int32_t zero_point_arg(const py::int_& v, Format f, const FormatParams& p, bool activation) {
  const int64_t z = to_i64(v, "zero_point");
  if (z >= INT32_MIN && z <= INT32_MAX) return int32_t(z);
  const std::string side = activation ? "activation" : "weight";
  if (f == Format::kFp32)
    throw py::value_error("fp32 " + side + "s take no zero point");
  const FormatRanges r = format_ranges(f, p);
  const int lo = activation ? r.zx_min : r.zw_min, hi = activation ? r.zx_max : r.zw_max;
  throw py::value_error(std::string(format_name(f)) + ": " + side + " zero_point " +
                        std::to_string(z) + " outside [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "]");
}

py::dict variant_dict(const KernelDesc& d) {
  py::dict v;
  v["name"] = d.name;
  v["format"] = format_name(d.format);
  v["tier"] = d.tier;
  v["mr"] = d.mr;
  v["nr"] = d.nr;
  v["ka"] = d.ka;
  v["kb"] = d.kb;
  v["kpad"] = d.kpad();
  v["a_elem"] = elem_name(d.a_elem);
  v["b_elem"] = elem_name(d.b_elem);
  v["acc_bits"] = d.acc_bits;
  v["mc"] = d.mc;
  v["kc"] = d.kc;
  v["nc"] = d.nc;
  v["runnable"] = tier_allowed(d.tier);
  v["in_place"] = d.ukernel_direct != nullptr;
  v["edge_cols"] = d.ukernel_edge ? (d.edge_cols ? d.edge_cols : d.nr) : 0;
  v["edge2_cols"] = d.ukernel_edge2 ? d.edge2_cols : 0;
  return v;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "lowbit C++ kernels";

  py::class_<PackedWeights>(m, "PackedWeights", "Weights packed once for one kernel variant.")
      .def_property_readonly("format", [](const PackedWeights& p) { return format_name(p.b->format); })
      .def_property_readonly("tier", [](const PackedWeights& p) { return p.b->desc->tier; })
      .def_property_readonly("kernel", [](const PackedWeights& p) { return p.b->desc->name; })
      .def_property_readonly("k", [](const PackedWeights& p) { return p.b->K; })
      .def_property_readonly("n", [](const PackedWeights& p) { return p.b->N; })
      .def_property_readonly("zero_point", [](const PackedWeights& p) { return p.b->zero_point; })
      .def_property_readonly("params", [](const PackedWeights& p) { return params_dict(p.b->format, p.b->params); })
      .def_property_readonly("nbytes", [](const PackedWeights& p) { return p.b->data_bytes; })
      .def_property_readonly("flush_period", [](const PackedWeights& p) -> std::optional<int64_t> {
        if (p.b->flush_k == 0) return std::nullopt;
        return p.b->flush_k;
      })
      .def("__repr__", [](const PackedWeights& p) {
        return "<PackedWeights " + std::string(format_name(p.b->format)) + " K=" +
               std::to_string(p.b->K) + " N=" + std::to_string(p.b->N) + " kernel=" +
               p.b->desc->name + ">";
      });

  m.def("pack_weights",
        [](py::array w, const std::string& fmt, py::int_ zero_point_arg_,
           std::optional<std::string> tier, std::optional<py::int_> act_levels,
           std::optional<py::int_> weight_levels, std::optional<std::string> variant) {
          const Format f = parse_format(fmt);
          const FormatParams p = make_params(f, act_levels, weight_levels);
          const int32_t zero_point = zero_point_arg(zero_point_arg_, f, p, false);
          check_matrix(w, "w", w_dtype(f));
          const std::string t = tier ? *tier : tiers_for(f).front();  // best runnable
          const KernelFamily* fam = &select_family(f, t);
          int tile = 0;
          if (variant) {  // a specific tile of that format and tier (benchmarks, tests)
            fam = nullptr;
            for (const KernelFamily* k : all_families())
              for (int i = 0; i < k->count; ++i)
                if (*variant == k->tiles[i]->name && k->main().format == f && t == k->main().tier) {
                  fam = k;
                  tile = i;
                }
            if (!fam)
              throw py::value_error("no variant '" + *variant + "' for " + fmt + " on tier " + t);
          }
          const int64_t K = w.shape(0), N = w.shape(1);
          const void* data = w.data();
          PackedWeights out;
          {
            py::gil_scoped_release nogil;
            out.b = pack_b(*fam, tile, data, K, N, N, zero_point, p);
          }
          return out;
        },
        py::arg("w"), py::arg("fmt"), py::arg("zero_point") = 0, py::arg("tier") = py::none(),
        py::arg("act_levels") = py::none(), py::arg("weight_levels") = py::none(),
        py::arg("variant") = py::none());

  // lowbit.matmul's whole argument check, here so that a per-layer call pays one boundary
  // crossing (the Python checks it replaced cost about 0.7 us a call).  Same messages and
  // exception types as the Python layer's other checks.
  m.def("matmul",
        [](py::handle x_arg, py::handle packed, py::handle zero_point_arg_,
           py::handle threads_arg) -> py::array {
          if (!py::isinstance<PackedWeights>(packed))
            throw py::type_error("packed must come from lowbit.pack_weights, got " +
                                 type_name(packed));
          const PackedB& b = *packed.cast<const PackedWeights&>().b;
          const py::int_ threads_int = int_arg(threads_arg, "threads");
          const py::int_ zero_point_int = int_arg(zero_point_arg_, "zero_point");
          const int64_t threads64 = to_i64(threads_int, "threads");
          if (threads64 < 1) throw py::value_error("threads must be >= 1, got " + std::to_string(threads64));
          if (threads64 > INT32_MAX)
            throw py::value_error("threads " + std::to_string(threads64) +
                                  " is out of range (at most " + std::to_string(INT32_MAX) +
                                  "; calls use at most " + std::to_string(max_threads()) + ")");
          const int threads = int(threads64);
          const int32_t zero_point = zero_point_arg(zero_point_int, b.format, b.params, true);
          const py::array x = activation_matrix(x_arg, x_dtype(b.format), b.K);
          const int64_t M = x.shape(0), N = b.N;
          const void* xp = x.data();
          if (b.format == Format::kFp32) {
            py::array_t<float> c({M, N});
            float* cp = c.mutable_data();
            py::gil_scoped_release nogil;
            if (M > 0) gemm(b, xp, M, b.K, zero_point, cp, N, threads);
            return std::move(c);
          }
          py::array_t<int32_t> c({M, N});
          int32_t* cp = c.mutable_data();
          py::gil_scoped_release nogil;
          if (M > 0) gemm(b, xp, M, b.K, zero_point, cp, N, threads);
          return std::move(c);
        },
        py::arg("x"), py::arg("packed"), py::arg("zero_point") = 0, py::arg("threads") = 1);

  m.def("call_tiles",
        [](const PackedWeights& pw, int64_t M, bool narrow, int32_t zero_point) -> py::object {
          if (M < 1) throw py::value_error("M must be >= 1, got " + std::to_string(M));
          const CallTiles t = call_tiles(*pw.b, M, pw.b->K, zero_point, narrow);  // x C-contiguous
          if (!t.main) return py::none();
          return py::make_tuple(t.main->name, t.tail ? py::object(py::str(t.tail->name)) : py::none());
        },
        py::arg("packed"), py::arg("M"), py::arg("narrow") = false, py::arg("zero_point") = 0,
        "(main tile, tail tile or None) that a call of M rows (x C-contiguous, activation "
        "zero point zero_point) runs on these weights; narrow: the exact-but-faster "
        "companions (None when there are none)");
  m.def("variants", [] {
    py::list out;
    for (const KernelDesc* d : all_kernels()) out.append(variant_dict(*d));
    return out;
  });
  m.def("formats", [] {
    std::vector<std::string> out;
    for (Format f : all_formats()) out.push_back(format_name(f));
    return out;
  }, "Every format, in API order (lowbit.FORMATS).");
  m.def("format_info", [](const std::string& fmt, std::optional<py::int_> act_levels,
                          std::optional<py::int_> weight_levels) {
    const Format f = parse_format(fmt);
    return format_info(f, make_params(f, act_levels, weight_levels));
  }, py::arg("fmt"), py::arg("act_levels") = py::none(), py::arg("weight_levels") = py::none(),
     "Code ranges, dtypes and validated parameters (defaults filled in) of a format.");
  m.def("flush_period", [](const std::string& name, std::optional<py::int_> act_levels,
                           std::optional<py::int_> weight_levels) -> std::optional<int64_t> {
    for (const KernelDesc* d : all_kernels())
      if (name == d->name) {
        const int64_t k = flush_period(*d, make_params(d->format, act_levels, weight_levels));
        if (k == 0) return std::nullopt;
        return k;
      }
    throw py::value_error("unknown kernel variant '" + name + "'");
  }, py::arg("name"), py::arg("act_levels") = py::none(), py::arg("weight_levels") = py::none());
  m.def("max_threads", [] { return max_threads(); },
        "Most threads one matmul uses (the persistent pool's capacity).");
  m.def("thread_min_macs", [](int64_t v) { return thread_min_macs(v); }, py::arg("value") = -1,
        "Multiply-adds per thread (x2 for integer formats, x16 for AMX tiles; GEMV-like calls "
        "of one A micro-panel: x2 / weight bits) below which a call uses fewer threads; "
        "value >= 0 sets it (tests force every split with 0). Returns the value.");
  m.def("cache_sizes", [] {
    const CacheSizes& c = cache_sizes();
    py::dict d;
    d["l1d"] = c.l1d;
    d["l2"] = c.l2;
    d["l3"] = c.l3;
    return d;
  }, "Cache sizes in bytes the driver's blocking is computed from (0 = unknown).");
  m.def("all_tiers", [] {
    std::vector<std::string> out;
    for (const auto& t : all_tiers()) out.push_back(t.name);
    return out;
  });
  m.def("tier_features", [](const std::string& t) { return tier_info(t).features; });
  m.def("tier_info", [](const std::string& t) {
    const TierInfo& i = tier_info(t);
    py::dict d;
    d["name"] = i.name;
    d["rank"] = i.rank;
    d["features"] = i.features;
    d["flags"] = i.flags;
    return d;
  }, "A row of the tier table (kernels/src/tiers.def) of this build's architecture.");
  m.def("tiers", [](const std::string& fmt) { return tiers_for(parse_format(fmt)); });
  m.def("tier_unavailable_reason", [](const std::string& t) { return tier_unavailable_reason(t); });
  m.def("max_tier", []() -> std::optional<std::string> {
    std::string c = max_tier_cap();
    if (c.empty()) return std::nullopt;
    return c;
  });
  m.def("cpu_info", [] {
    py::dict d;
    d["arch"] = cpu_arch();
    d["model"] = cpu_model();
    d["features"] = cpu_feature_list();
    return d;
  });
  m.def("build_info", [] {
    py::dict d;
    d["compiler"] = LOWBIT_COMPILER;
    d["cxx_flags"] = LOWBIT_CXX_FLAGS;
    d["build_type"] = LOWBIT_BUILD_TYPE;
    d["tier_flags"] = LOWBIT_TIER_FLAGS;
    d["sanitize"] = bool(LOWBIT_SANITIZE_ON);
    return d;
  });
  { void register_roofline(py::module_&); register_roofline(m); }  // roofline.cpp
}
