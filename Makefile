# Commands people type. Each target sets up what it needs from a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SUITE ?= default
export PIP_DISABLE_PIP_VERSION_CHECK := 1

SOURCES := $(shell find kernels lowbit -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.py' -o -name 'CMakeLists.txt' \) 2>/dev/null) CMakeLists.txt pyproject.toml

.PHONY: help venv install test test-sanitize bench accuracy report regress baseline arm-test arm-model docker clean

help:
	@echo "make test           build into .venv and run the test suite"
	@echo "make bench          build and run the benchmark suite (SUITE=default|quick|square|cnn|llm|deepbench)"
	@echo "make test-sanitize  build with ASan+UBSan into .venv-sanitize and run the tests"
	@echo "make accuracy       quantization-error and accuracy study"
	@echo "make arm-test       cross-build for aarch64 and run the tests under QEMU in the arm64 image"
	@echo "make arm-model      llvm-mca cycle model of the aarch64 micro-kernels"
	@echo "make regress        CI regression gate;  make baseline refreshes its baselines"

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

bench: install
	$(VENV)/bin/lowbit-bench run --suite $(SUITE)

clean:
	rm -rf build $(VENV) $(SAN_VENV) dist *.egg-info

# ARM and Docker (docker/README.md).  Root for debootstrap, binfmt_misc and dockerd.
.PHONY: arm-sysroot arm-build
LOWBIT_DOCKER := $(abspath $(VENV))/bin/lowbit-docker

arm-sysroot:
	docker/make-rootfs.sh arm64 .cache/rootfs-arm64

# Cross-compiled on the host with the venv's pybind11, staged as the image's build context.
arm-build: venv arm-sysroot
	LOWBIT_PYBIND11_DIR="$$($(PY) -m pybind11 --cmakedir)" \
	  docker/build-stage.sh arm64 .cache/rootfs-arm64 .cache/stage-arm64

arm-test: install arm-build
	LOWBIT_DOCKER=$(LOWBIT_DOCKER) docker/arm-test.sh

docker: install arm-build
	LOWBIT_PYBIND11_DIR="$$($(PY) -m pybind11 --cmakedir)" LOWBIT_DOCKER=$(LOWBIT_DOCKER) \
	  bash -c 'trap "docker/dockerd.sh stop" EXIT; docker/image.sh amd64 && docker/image.sh arm64'
