#!/usr/bin/env python3
"""Assemble a Docker build context from a host build of lowbit._core.

    docker/stage.py --ext build/docker-arm64/_core.cpython-311-aarch64-linux-gnu.so \
        --ext-suffix .cpython-311-aarch64-linux-gnu.so --machine aarch64 .cache/stage-arm64

The context holds the pure-Python package plus the extension (site/lowbit), wrappers for
the console scripts of pyproject.toml (bin/), the checkout's other tracked files (app/:
tests, benchmark suites, docs, committed reports), the onnxruntime peers installed from the
target's wheels (peers/, docker/peers.sh) and the Dockerfile.  The image then needs
no compiler and no pip: the extension was built on the host, with the cross-compiler for
arm64 (compiling under QEMU is ~30x slower).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parent.parent
# The package lives in site/ (src/lowbit in the checkout), not in app/.
NOT_IN_APP = ("src/lowbit/",)
ELF_MACHINE = {"aarch64": 0xB7, "x86_64": 0x3E}

WRAPPER = """#!/usr/bin/env python3
import sys
from {module} import {func}
sys.exit({func}())
"""


def atomic():
    """src/lowbit/bench/atomic.py (the project's one atomic writer), loaded from its file:
    stage.py runs with the host's python3, outside the venv, where the lowbit package is not
    installed (and importing it from the checkout would need its compiled extension).
    atomic.py uses the standard library only, so loading it by path is enough."""
    spec = importlib.util.spec_from_file_location("lowbit_atomic", REPO / "src/lowbit/bench/atomic.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def elf_machine(path: Path) -> int:
    head = path.read_bytes()[:20]
    if head[:4] != b"\x7fELF":
        raise SystemExit(f"{path} is not an ELF file")
    return int.from_bytes(head[18:20], "little")


def console_scripts(pyproject: Path) -> dict[str, str]:
    with pyproject.open("rb") as f:
        return tomllib.load(f).get("project", {}).get("scripts", {})


def tracked_files(repo: Path) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z"], check=True, capture_output=True, text=True
    ).stdout
    return [f for f in out.split("\0") if f and (repo / f).is_file()]


def ignore(_dir: str, names: list[str]) -> set[str]:
    # Host build products must not leak into the image of another architecture.
    return {n for n in names if n == "__pycache__" or n.endswith((".so", ".pyc"))}


def stage(ext: Path, ext_suffix: str, machine: str, out: Path, peers: Path | None = None) -> None:
    if not ext.name.endswith(ext_suffix):
        raise SystemExit(f"{ext.name} does not end with the target's suffix {ext_suffix}")
    if elf_machine(ext) != ELF_MACHINE[machine]:
        raise SystemExit(f"{ext} is not an {machine} binary")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    pkg = tmp / "site" / "lowbit"
    shutil.copytree(REPO / "src" / "lowbit", pkg, ignore=ignore)
    shutil.copy2(ext, pkg / ext.name)
    # The tests read files of the checkout too (docs, committed reports, ci/ scripts).
    for rel in tracked_files(REPO):
        if not rel.startswith(NOT_IN_APP):
            dest = tmp / "app" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest)
    bindir = tmp / "bin"
    bindir.mkdir()
    write_text = atomic().write_text
    for name, target in console_scripts(REPO / "pyproject.toml").items():
        module, func = target.split(":")
        script = write_text(bindir / name, WRAPPER.format(module=module, func=func))
        script.chmod(0o755)
    # The peers' site tree (docker/peers.sh), or an empty one: the image always has the
    # folder, and its stamp file tells the tests whether the peers must be there.
    if peers is not None:
        shutil.copytree(peers, tmp / "peers", ignore=shutil.ignore_patterns("__pycache__"))
    else:
        (tmp / "peers").mkdir()
    shutil.copy2(REPO / "docker" / "Dockerfile", tmp / "Dockerfile")
    # The context is a directory, which atomic.py does not write: it is built whole in tmp
    # and swapped in by rename, so a failed run never leaves half a context at `out`.
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ext", type=Path, required=True, help="built _core extension")
    p.add_argument("--ext-suffix", required=True, help="target EXT_SUFFIX")
    p.add_argument("--machine", choices=sorted(ELF_MACHINE), required=True)
    p.add_argument("--peers", type=Path, help="site tree of the peers (docker/peers.sh)")
    p.add_argument("out", type=Path)
    a = p.parse_args(argv)
    stage(a.ext, a.ext_suffix, a.machine, a.out, a.peers)
    print(f"staged {a.ext.name} into {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
