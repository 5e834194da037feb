# Commands people type. Each target sets up what it needs from a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SUITE ?= default
export PIP_DISABLE_PIP_VERSION_CHECK := 1

SOURCES := $(shell find kernels src -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.py' -o -name 'CMakeLists.txt' \) 2>/dev/null) CMakeLists.txt pyproject.toml

.PHONY: help venv install test test-sanitize bench bench-report accuracy history dashboard workflow-check regress baseline arm-test arm-model docker clean
.PHONY: arm-native-test peers

help:
	@echo "make test           build into .venv and run the test suite"
	@echo "make bench          build, run the benchmark suite under pytest-benchmark (SUITE=default|quick|square|cnn|llm|deepbench), write reports/latest.md"
	@echo "make bench-report   re-render the benchmark report from reports/results/\$$(SUITE).json"
	@echo "make test-sanitize  build with ASan+UBSan into .venv-sanitize and run the tests"
	@echo "make accuracy       quantization-error and accuracy study"
	@echo "make arm-test       cross-build for aarch64 and run the tests under QEMU in the arm64 image"
	@echo "make arm-sysroot    debootstrap the arm64 rootfs;  make arm-build  cross-build the aarch64 package"
	@echo "make docker         images lowbit:amd64 and lowbit:arm64 (docker/README.md)"
	@echo "make arm-model      llvm-mca + OSACA cycle models of the aarch64 micro-kernels (reports/arm-model.*)"
	@echo "make arm-model-report  the same after measuring this machine's x86 kernels (the error bars)"
	@echo "make arm-native-test  aarch64 micro-kernels bit-exact under qemu (standalone, ~30 s)"
	@echo "make peers          lowbit int8/fp32 against onnxruntime/numpy on every suite, 1 and 2 threads (reports/peers/)"
	@echo "make regress        CI regression gate;  make baseline refreshes its baselines"
	@echo "make history        record this commit's benchmarks in asv (.asv/results/<machine>/)"
	@echo "make dashboard      asv publish into .asv/html (MERGE=\"dir ...\" merges other machines first)"
	@echo "make workflow-check validate ci/github/lowbit-ci.yml against the GitHub workflow schema"

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "scikit-build-core>=0.10" "pybind11>=2.12" ninja
	touch $@

venv: $(VENV)/.created

# Non-editable install with a persistent build dir: incremental C++ rebuilds.
$(VENV)/.installed: $(VENV)/.created $(SOURCES)
	$(PIP) install -q --no-build-isolation ".[test,bench]"
	touch $@

install: $(VENV)/.installed

test: install
	$(VENV)/bin/pytest -q tests

# ASan + UBSan build of the extension in its own venv and build dir.
SAN_VENV := .venv-sanitize
$(SAN_VENV)/.installed: $(SOURCES)
	$(PYTHON) -m venv $(SAN_VENV)
	$(SAN_VENV)/bin/python -m pip install -q --upgrade pip
	$(SAN_VENV)/bin/python -m pip install -q "scikit-build-core>=0.10" "pybind11>=2.12" ninja
	$(SAN_VENV)/bin/python -m pip install -q --no-build-isolation \
	  -C build-dir=build/sanitize -C cmake.build-type=RelWithDebInfo \
	  -C cmake.define.LOWBIT_SANITIZE=ON ".[test]"
	touch $@

test-sanitize: $(SAN_VENV)/.installed
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	LOWBIT_TEST_PROFILE=sanitize $(SAN_VENV)/bin/pytest -q -x tests -p no:cacheprovider

# make bench [SUITE=quick|square|cnn|llm|deepbench] [BENCH_ARGS="--threads 1,2 ..."]
# Results: reports/results/$(SUITE).json, pytest-benchmark JSON (resumed if an earlier run was
# interrupted; a complete earlier run is kept as $(SUITE).prev.json). reports/README.md.
# Report: reports/latest.md for the default suite, reports/latest-$(SUITE).md otherwise.
BENCH_REPORT = $(if $(filter default,$(SUITE)),reports/latest.md,reports/latest-$(SUITE).md)
BENCH_ARGS ?=

# torch peers: installed only when a local wheel provides torch 2.13.0 (pip's configured
# find-links, no index): the registry's build of that version pulls GBs of CUDA packages.
# Without it the torch peers are reported as skipped.
$(VENV)/.torch: $(VENV)/.created
	@if $(PIP) install -q --no-index --no-deps "torch==2.13.0" 2>/dev/null && \
	    $(PIP) install -q "torch==2.13.0"; then echo "bench: torch peers enabled"; \
	else echo "bench: no local torch 2.13.0 wheel; torch peers will be skipped"; fi
	touch $@

bench: install $(VENV)/.torch
	$(VENV)/bin/lowbit-bench run --suite $(SUITE) $(BENCH_ARGS)
	@if grep -q '^accuracy:' Makefile; then \
	  $(MAKE) accuracy || echo "bench: make accuracy failed; the report notes it is missing"; \
	else echo "bench: no 'make accuracy' target; the report has no accuracy section"; fi
	$(VENV)/bin/lowbit-bench report reports/results/$(SUITE).json --out $(BENCH_REPORT)

# Re-render the report from existing results without measuring again.
bench-report: install
	$(VENV)/bin/lowbit-bench report reports/results/$(SUITE).json --out $(BENCH_REPORT)

# The driver against the production peers (README's peer tables): every suite at 1 and 2
# threads, full-range int8 codes and (int8 only) codes 0..127, where onnxruntime's AVX2 path
# is exact.  One file per suite and range under reports/peers/, each written when its run is
# complete (an interrupted run keeps the suites it finished).  About 12 min on 2 cores.
PEER_SUITES ?= default square cnn llm deepbench
PEER_THREADS ?= 1,2
peers: install
	@for s in $(PEER_SUITES); do \
	  $(VENV)/bin/lowbit-bench peers --suite $$s --threads $(PEER_THREADS) \
	    --out reports/peers/$$s.md > /dev/null || exit 1; \
	  $(VENV)/bin/lowbit-bench peers --suite $$s --threads $(PEER_THREADS) --x127 --formats int8 \
	    --out reports/peers/$$s-x127.md > /dev/null || exit 1; \
	done

# Regression gate (ci/README.md). Run as a script with the venv's interpreter so the installed
# lowbit (with its C++ extension) is imported, not the source tree's.
# make regress [REGRESS_ARGS="--only callgrind"];  make baseline
REGRESS_ARGS ?=
regress: install
	$(PY) ci/regress.py run $(REGRESS_ARGS)

baseline: install
	$(PY) ci/regress.py baseline $(REGRESS_ARGS)

# Benchmark history on asv (ci/README.md, "History"): the installed package in .venv is the
# asv environment ("existing"), so recording a commit never rebuilds it.
# make history [ALLOW_DIRTY=1] [HISTORY_BENCH=regex];  make dashboard [MERGE="dir ..."]
ALLOW_DIRTY ?=
HISTORY_BENCH ?=
MERGE ?=
history: install
	$(PY) ci/asv_history.py record $(if $(ALLOW_DIRTY),--allow-dirty) \
	  $(if $(HISTORY_BENCH),--bench '$(HISTORY_BENCH)')

# Publishing needs asv only, not the package: a merge-only machine (the CI dashboard job)
# does not build lowbit.
$(VENV)/.asv: $(VENV)/.created
	$(PIP) install -q "asv>=0.6.4"
	touch $@

dashboard: $(VENV)/.asv
	$(PY) ci/asv_history.py dashboard $(if $(strip $(MERGE)),--merge $(MERGE))

$(VENV)/.check-jsonschema: $(VENV)/.created
	$(PIP) install -q "check-jsonschema==0.39.0"
	touch $@

workflow-check: $(VENV)/.check-jsonschema
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows ci/github/lowbit-ci.yml

# aarch64 micro-kernels: standalone bit-exact harness under qemu-aarch64-static (default,
# max and cortex-a72 CPU models), independent of the Python build.
# CMake builds the harnesses from the tier table's sources and flags (cmake/native-tests.cmake);
# ctest runs each under qemu-aarch64-static once per QEMU CPU model.
ARM_NATIVE := build/arm-native-ctest
arm-native-test:
	bash ci/armmodel/tools.sh native
	cmake -S . -B $(ARM_NATIVE) --toolchain cmake/aarch64-native-tests.cmake \
	  -DLOWBIT_EXTENSION=OFF -DLOWBIT_NATIVE_TESTS=ON >/dev/null
	cmake --build $(ARM_NATIVE) -j2
	ctest --test-dir $(ARM_NATIVE) --output-on-failure

# Two cycle models (llvm-mca, OSACA) of the aarch64 micro-kernels and of the x86 kernels ->
# reports/arm-model.json (exact regression baseline) and reports/arm-model.md, the error bars
# from the committed measurement reports/arm-model-x86.json: deterministic, so a CI run
# leaves the committed reports as they are.  arm-model-report also measures this machine's
# x86 kernels first (rewrites reports/arm-model-x86.json): run it to regenerate the reports.
# The kernels are compiled with CMake's own commands: model.py configures the native-tests
# graphs (aarch64 as arm-native-test does, and the host) in build/arm-model/ and reads their
# compile_commands.json (ci/armmodel/cmake_graph.py).
.PHONY: arm-model-report
arm-model arm-model-report: install
	bash ci/armmodel/tools.sh model
	$(PIP) install -q "tabulate>=0.9" "osaca==0.7.1"
	$(PY) ci/armmodel/model.py $(if $(filter arm-model-report,$@),--measure)

# Quantization error + end-to-end accuracy/time study: reports/accuracy.md, reports/results/accuracy.json.
# Trains the digits CNN once and fetches the PP-OCRv4 model once (both cached in .cache/lowbit).
# QUICK=1 for a fast smoke run; `make bench SUITE=quick` (CI) runs it quick too. The quick run
# writes reports/accuracy-quick.md, reports/results/accuracy-quick.json and
# reports/plots/accuracy-quick-ocr-pareto.png (ignored), never the committed full report.
accuracy: install
	$(VENV)/bin/lowbit-accuracy --out reports $(if $(or $(QUICK),$(filter quick,$(SUITE))),--quick)

clean:
	rm -rf build $(VENV) $(SAN_VENV) dist *.egg-info

# The wide x86 tiers (avx512, avxvnni, avx512vnni, amx) checked exactly on any x86-64 CPU,
# including ones without those ISAs: their sources built against SIMDe (header-only
# AVX-512/VNNI emulation, from PyPI as cmeel-simde) and a software AMX model, every
# descriptor held to an int64 reference (kernels/tests_native/x86/).
.PHONY: x86-emulated-test
# CMake builds it (cmake/native-tests.cmake) from the tier table's rows with emulated = 1.
X86EMU := build/x86-emulated-ctest

$(VENV)/.simde: $(VENV)/.created
	$(PIP) install -q "cmeel-simde==0.8.2"
	touch $@

x86-emulated-test: $(VENV)/.simde
	inc=$$(ls -d $(abspath $(VENV))/lib/python3*/site-packages/cmeel.prefix/include | head -n 1) && \
	cmake -S . -B $(X86EMU) -DLOWBIT_EXTENSION=OFF -DLOWBIT_NATIVE_TESTS=ON \
	  -DLOWBIT_SIMDE_INCLUDE="$$inc" >/dev/null
	cmake --build $(X86EMU) -j2 --target test_x86_tiers
	ctest --test-dir $(X86EMU) -R x86_emulated --output-on-failure

# ARM and Docker (docker/README.md).  Root for debootstrap, binfmt_misc and dockerd.
.PHONY: arm-sysroot arm-build
LOWBIT_DOCKER := $(abspath $(VENV))/bin/lowbit-docker

arm-sysroot:
	docker/make-rootfs.sh arm64 .cache/rootfs-arm64

# pip of the venv fetches the peers' wheels for the image's platform (docker/peers.sh).
arm-build arm-test docker: export LOWBIT_PIP = $(abspath $(PY)) -m pip

# Cross-compiled on the host with the venv's pybind11, staged as the image's build context.
arm-build: venv arm-sysroot
	LOWBIT_PYBIND11_DIR="$$($(PY) -m pybind11 --cmakedir)" \
	  docker/build-stage.sh arm64 .cache/rootfs-arm64 .cache/stage-arm64

arm-test: install arm-build
	LOWBIT_DOCKER=$(LOWBIT_DOCKER) docker/arm-test.sh

docker: install arm-build
	LOWBIT_PYBIND11_DIR="$$($(PY) -m pybind11 --cmakedir)" LOWBIT_DOCKER=$(LOWBIT_DOCKER) \
	  bash -c 'trap "docker/dockerd.sh stop" EXIT; docker/image.sh amd64 && docker/image.sh arm64'

# asv history of the arm64 image (docker/README.md): image lowbit-history:arm64, then
# `lowbit-docker history` under QEMU into .asv/results-arm64 (machine ...-emulated), for
# `make dashboard MERGE=.asv/results-arm64`.
.PHONY: arm-history
arm-history: export LOWBIT_PIP = $(abspath $(PY)) -m pip
arm-history: install arm-build
	LOWBIT_PYBIND11_DIR="$$($(PY) -m pybind11 --cmakedir)" LOWBIT_DOCKER=$(LOWBIT_DOCKER) \
	  bash -c 'trap "docker/dockerd.sh stop" EXIT; docker/history-image.sh arm64 && \
	  $(LOWBIT_DOCKER) history --platform linux/arm64 $(HISTORY_ARGS)'
