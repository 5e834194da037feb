// The vpdpbusd micro-kernels in zmm registers, shared by the `avx512vnni` tier and the
// small-M companions of the `amx` tier (which read the same packed B).  Included inside
// `namespace lowbit { namespace {` by translation units compiled with at least
// -mavx512f -mavx512bw -mavx512vl -mavx512vnni, so each TU gets its own internal copy.
// The kernels themselves are written once for both widths (x86/ukernels.h).
#pragma once

#include "ukernels.h"

constexpr int kNR = nr_of<x86::Zmm>();  // columns: two zmm of 16 int32

template <int MR>
constexpr UKernelFn u8s8_x32c4 = &dot_c4<x86::Zmm, MR, false>;
