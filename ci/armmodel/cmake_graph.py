"""The cycle model's compile commands, from CMake (ci/armmodel/model.py and x86.py).

The model has no compile settings of its own.  It configures the library's native-tests
build graph (CMakeLists.txt with cmake/native-tests.cmake: the static library
`lowbit_native` of the library's sources, each tier TU with its row of the tier table
kernels/src/tiers.def) with CMAKE_EXPORT_COMPILE_COMMANDS=ON, twice:

- `aarch64`: cross, with cmake/aarch64-native-tests.cmake, as `make arm-native-test`
  configures it;
- `x86`: the host graph (x86-64), as `make x86-emulated-test` configures it (without SIMDe:
  only `lowbit_native` and `registry_dump` are of use here).

and takes each tier TU's command from that graph's compile_commands.json: for the ARM
blocks with `-c` replaced by `-S` and `-DLOWBIT_MCA` added, for the x86 objects as it is;
only the output path (`-o`) moves, and the command runs in the entry's directory.  The
registry dump is the graph's own `registry_dump` target, built by CMake and run with the
command of its ctest test (CMake's cross-compiling emulator, qemu-aarch64-static).

The x86 graph is the native-tests one, not the extension's: the extension's commands add
include paths of this machine's Python and pybind11 (and -fvisibility=hidden, defines of
build_info()) that would make the report's `flags` depend on the machine; the tier TUs'
object code is the same (checked with GCC 12.2: every function of avx2.o and avx512.o).

Build directories: build/arm-model/<graph> (git-ignored), created by the first run.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build/arm-model"
# graph -> (build directory under BUILD, options of its own)
GRAPHS = {
    "arm": ("aarch64", ("--toolchain", str(ROOT / "cmake/aarch64-native-tests.cmake"))),
    "x86": ("x86", ()),
}
OPTIONS = ("-DLOWBIT_EXTENSION=OFF", "-DLOWBIT_NATIVE_TESTS=ON",
           "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON")


@dataclass(frozen=True)
class Command:
    """One entry of compile_commands.json: `argv` runs in `directory` and compiles `file`."""

    argv: tuple[str, ...]
    directory: Path
    file: Path

    @property
    def compiler(self) -> str:
        return self.argv[0]

    def derive(self, output: Path, step: str = "-c", defines: tuple[str, ...] = ()) -> list[str]:
        """The same command writing `output`; `step` replaces its -c (-S: assembly) and
        `defines` go in front of its -o."""
        argv = list(self.argv)
        o = argv.index("-o")
        argv[o + 1] = str(output)
        argv[argv.index("-c")] = step
        argv[o:o] = defines
        return argv

    def flags(self) -> str:
        """The options alone (no compiler, -o, -c or source), paths inside the repository
        relative to it: the `flags` of the report, the same on every checkout."""
        argv, out = list(self.argv[1:]), []
        while argv:
            a = argv.pop(0)
            if a == "-o":
                argv.pop(0)
            elif a != "-c" and Path(a) != self.file:
                out.append(a.replace(f"{ROOT}/", ""))
        return shlex.join(out)


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    """argv, its output shown only when it fails."""
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode:
        raise SystemExit(f"{shlex.join(argv)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r


@functools.lru_cache(maxsize=None)
def configure(graph: str) -> Path:
    """Configures (or re-configures: a second of CMake) the graph; its build directory."""
    sub, own = GRAPHS[graph]
    build = BUILD / sub
    _run(["cmake", "-S", str(ROOT), "-B", str(build), *own, *OPTIONS])
    return build


@functools.lru_cache(maxsize=None)
def commands(graph: str) -> dict[Path, Command]:
    """{source: its command} from the graph's compile_commands.json."""
    out = {}
    for e in json.loads((configure(graph) / "compile_commands.json").read_text()):
        argv = tuple(e["arguments"]) if "arguments" in e else tuple(shlex.split(e["command"]))
        if argv.count("-o") != 1 or argv.count("-c") != 1:
            raise SystemExit(f"compile_commands.json: {e['file']}: not one -c and one -o")
        out[Path(e["file"])] = Command(argv, Path(e["directory"]), Path(e["file"]))
    return out


def tier_command(graph: str, tier: str) -> Command:
    """The command of the tier's TU, kernels/src/<graph>/<tier>.cpp."""
    src = ROOT / f"kernels/src/{graph}/{tier}.cpp"
    cmd = commands(graph).get(src)
    if cmd is None:
        raise SystemExit(f"{src.relative_to(ROOT)} is not a source of the {graph} graph "
                         f"({BUILD / GRAPHS[graph][0]}): not a tier of that host or toolchain")
    return cmd


def run_test_program(graph: str, name: str, jobs: int, env: dict[str, str]) -> str:
    """Builds target `name` and runs it as its ctest test `name` runs it (through the
    graph's emulator); its standard output."""
    build = configure(graph)
    _run(["cmake", "--build", str(build), "--target", name, "--parallel", str(jobs)])
    shown = json.loads(_run(["ctest", "--show-only=json-v1", "-R", f"^{name}$"],
                            cwd=build).stdout)
    (test,) = [t for t in shown["tests"] if t["name"] == name]
    return _run(test["command"], cwd=build, env=dict(os.environ, **env)).stdout
