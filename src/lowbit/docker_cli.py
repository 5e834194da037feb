"""lowbit-docker: build the lowbit images and run the tests and benchmarks inside them.

    lowbit-docker build --platform linux/arm64
    lowbit-docker test  --platform linux/arm64 [--qemu-cpu cortex-a72] [-- PYTEST ARGS]
    lowbit-docker bench [--platform linux/arm64] [-- LOWBIT-BENCH ARGS]
    lowbit-docker history [--platform linux/arm64] [--out .asv/results-arm64]

`bench` with no arguments is `make bench` in the image: the default suite, then its report
(reports/results/default.json and .md, copied here as default.linux-<arch>.{json,md}).

`history` records asv results for the image's commit in the image lowbit-history:<arch>
(docker/history-image.sh) and copies the asv results folder out, ready for
`make dashboard MERGE="<out> ..."` (ci/README.md, "History").

The build context is made by `docker/build-stage.sh` (`make arm-build`): the extension is
compiled on the host, so images need no compiler.  A foreign platform runs under QEMU
through binfmt_misc (`docker/binfmt.sh`); its benchmark results are tagged
`"emulated": true` (`"run": "emulated"`) and must never be reported as that CPU's
performance; on the board itself they say `"run": "native"`.
"""

from __future__ import annotations

import argparse
import io
import json
import platform as host_platform
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

ARCH_ALIASES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
IMAGE_REPO = "lowbit"
APP_DIR = "/opt/lowbit"
CONTAINER_RESULTS = f"{APP_DIR}/reports/results"
PROFILES = ("full", "sanitize", "emulated")
FINGERPRINT_KEYS = ("fingerprint", "machine_info")
# `lowbit-docker bench` without arguments: what `make bench` runs (Makefile SUITE ?= default).
DEFAULT_BENCH_ARGS = ("run", "--suite", "default")
# `lowbit-docker history`: the image made by docker/history-image.sh, the asv results folder
# inside it, and what it records by default. Under QEMU (~30x slower) the selection is tiny:
# the GOP/s benchmarks of two small shapes of the quick suite, no peers; the parameter grid
# is the full suite's, so the folder merges with every other machine's.
HISTORY_REPO = "lowbit-history"
CONTAINER_ASV = "/tmp/lowbit-asv/results"
COMMIT_FILE = f"{APP_DIR}/asv-commit.json"
HISTORY_BENCH = {"emulated": r"gemm\.(Throughput|TimePerOp)", "native": None}
HISTORY_SHAPES = {"emulated": "square.256,cifar_cnn.conv2", "native": ""}
ASV_EMULATED_SUFFIX = "-emulated"  # = ci/asv_history.py EMULATED_SUFFIX


# ---------------------------------------------------------------- pure logic (unit-tested)


def parse_platform(text: str) -> str:
    """'linux/arm64' (or linux/aarch64, arm64, ...) -> Debian/Docker arch name 'arm64'."""
    os_name, _, arch = text.rpartition("/")
    if os_name not in ("", "linux") or arch not in ARCH_ALIASES:
        raise argparse.ArgumentTypeError(
            f"unsupported platform {text!r}: use linux/amd64 or linux/arm64"
        )
    return ARCH_ALIASES[arch]


def host_arch() -> str:
    return ARCH_ALIASES.get(host_platform.machine(), host_platform.machine())


def is_emulated(arch: str, host: str | None = None) -> bool:
    """A container of another architecture than the host's runs under qemu-user."""
    return arch != (host or host_arch())


def image_tag(arch: str) -> str:
    return f"{IMAGE_REPO}:{arch}"


def debian_codename(os_release: Path = Path("/etc/os-release")) -> str:
    for line in os_release.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "VERSION_CODENAME" and value:
            return value.strip('"')
    raise RuntimeError(f"no VERSION_CODENAME in {os_release}")


def offline_base_tag(arch: str, codename: str) -> str:
    """Tag given by docker/import-base.sh to the image imported from the debootstrap rootfs."""
    return f"lowbit-base:{codename}-{arch}"


def container_env(profile: str, qemu_cpu: str | None) -> dict[str, str]:
    env = {"LOWBIT_TEST_PROFILE": profile}
    if qemu_cpu:
        # qemu-user reads QEMU_CPU from the environment of the program binfmt hands it.
        env["QEMU_CPU"] = qemu_cpu
    return env


def default_profile(arch: str, host: str | None = None) -> str:
    return "emulated" if is_emulated(arch, host) else "full"


def tag_result(data: dict, *, arch: str, emulated: bool, image: str, qemu_cpu: str | None) -> dict:
    """Mark a results document with where it ran.

    The machine fingerprint travels with every result (`fingerprint` in lowbit-bench's
    documents, `machine_info` in pytest-benchmark's), so the tag goes there as well as at
    the top level.
    """
    tag = {"platform": f"linux/{arch}", "emulated": emulated, "image": image,
           "run": "emulated" if emulated else "native"}
    if qemu_cpu:
        tag["qemu_cpu"] = qemu_cpu
    tagged = {**data, **tag}
    for key in FINGERPRINT_KEYS:
        if isinstance(data.get(key), dict):
            tagged[key] = {**data[key], **tag}
    return tagged


def result_name(name: str, arch: str) -> str:
    """bench-default.json -> bench-default.linux-arm64.json (host results keep their name)."""
    path = Path(name)
    suffix = f".linux-{arch}"
    stem = path.stem if path.stem.endswith(suffix) else path.stem + suffix
    return stem + path.suffix


def _atomic():
    """lowbit's one atomic writer (src/lowbit/bench/atomic.py). On a board this file runs on its
    own (`python3 src/lowbit/docker_cli.py`, no lowbit built there: importing the package needs its
    C++ extension), so the module, standard library only, is then loaded from its file."""
    if __package__:
        from .bench import atomic

        return atomic
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "lowbit_atomic", Path(__file__).resolve().parent / "bench" / "atomic.py")
    atomic = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(atomic)
    return atomic


def write_json_atomic(path: Path, data: dict) -> None:
    _atomic().write_json(path, data, indent=2, sort_keys=True)


def report_tag(arch: str, emulated: bool, image: str, qemu_cpu: str | None) -> str:
    """The line put on top of a report copied out of a container."""
    how = (f"**emulated** (QEMU{f', {qemu_cpu}' if qemu_cpu else ''}): timings are not "
           "this CPU's performance" if emulated else "**native**")
    return f"> Run in `{image}` on linux/{arch}: {how}.\n\n"


def extract_results(
    tar_chunks: Iterable[bytes],
    dest: Path,
    *,
    arch: str,
    emulated: bool,
    image: str,
    qemu_cpu: str | None = None,
) -> list[Path]:
    """Copy the JSON files of a `docker cp`-style tar stream into dest, tagged and renamed;
    markdown reports rendered from them come along with the same tag as their first line."""
    written = []
    with tarfile.open(fileobj=io.BytesIO(b"".join(tar_chunks))) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".md"):
                path = dest / result_name(Path(member.name).name, arch)
                text = tar.extractfile(member).read().decode()
                _atomic().write_text(path, report_tag(arch, emulated, image, qemu_cpu) + text)
                written.append(path)
                continue
            if not (member.isfile() and member.name.endswith(".json")):
                continue
            data = json.load(tar.extractfile(member))
            if not isinstance(data, dict):
                raise ValueError(f"{member.name}: results JSON is not an object")
            path = dest / result_name(Path(member.name).name, arch)
            write_json_atomic(
                path, tag_result(data, arch=arch, emulated=emulated, image=image, qemu_cpu=qemu_cpu)
            )
            written.append(path)
    return written


def history_out(arch: str, out: Path | None = None) -> Path:
    """Where `lowbit-docker history` puts the asv results folder (--out, else
    .asv/results-<arch>, next to this machine's .asv/results)."""
    return out if out is not None else Path(".asv") / f"results-{arch}"


def history_command(*, emulated: bool, bench: str | None, allow_dirty: bool,
                    results_dir: str = CONTAINER_ASV) -> list[str]:
    """ci/asv_history.py record in the image: the pinned commit, no git."""
    cmd = ["python3", "ci/asv_history.py", "record", "--pinned", COMMIT_FILE,
           "--results-dir", results_dir]
    if emulated:
        cmd.append("--emulated")
    if bench:
        cmd += ["--bench", bench]
    if allow_dirty:
        cmd.append("--allow-dirty")
    return cmd


def history_env(emulated: bool, shapes: str | None, qemu_cpu: str | None) -> dict[str, str]:
    run = "emulated" if emulated else "native"
    env = container_env("full", qemu_cpu)
    env["LOWBIT_ASV_SHAPES"] = HISTORY_SHAPES[run] if shapes is None else shapes
    if emulated:
        env["LOWBIT_ASV_PEERS"] = "0"
    return env


def extract_asv_results(tar_chunks: Iterable[bytes], dest: Path, *, emulated: bool) -> list[Path]:
    """Copy an asv results folder out of a `docker cp`-style tar stream into dest.

    The stream holds one folder (its name is dropped): benchmarks.json and
    <machine>/{machine.json, <commit>-<env>.json}. Everything is checked before anything is
    written: every JSON file parses, each machine folder has a machine.json naming it and at
    least one results file with a commit hash, and a run under QEMU carries the emulated
    machine name (its timings must never pass for the board's). Files are written atomically;
    other machines' folders already in dest are left alone."""
    files: dict[tuple[str, ...], dict] = {}
    with tarfile.open(fileobj=io.BytesIO(b"".join(tar_chunks))) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts[1:]
            if not (member.isfile() and member.name.endswith(".json") and parts):
                continue
            if len(parts) > 2 or ".." in parts:
                raise ValueError(f"{member.name}: not where asv puts results")
            try:
                files[parts] = json.load(tar.extractfile(member))
            except ValueError as exc:
                raise ValueError(f"{member.name}: unreadable JSON ({exc})") from None
    machines = sorted({p[0] for p in files if len(p) == 2})
    if not machines:
        raise ValueError("no asv machine folder (<machine>/machine.json) in the results")
    for m in machines:
        info = files.get((m, "machine.json"))
        if not isinstance(info, dict) or info.get("machine") != m:
            raise ValueError(f"{m}/machine.json: missing or not naming machine {m!r}")
        results = [k for k in files if len(k) == 2 and k[0] == m and k[1] != "machine.json"]
        if not results:
            raise ValueError(f"{m}: no results file")
        for k in results:
            if not (isinstance(files[k], dict) and files[k].get("commit_hash")):
                raise ValueError(f"{'/'.join(k)}: not an asv results file (no commit_hash)")
        if emulated and not m.endswith(ASV_EMULATED_SUFFIX):
            raise ValueError(f"machine {m!r} ran under QEMU but is not named "
                             f"...{ASV_EMULATED_SUFFIX}")
    written = []
    for parts, doc in sorted(files.items()):
        path = dest.joinpath(*parts)
        write_json_atomic(path, doc)
        written.append(path)
    return written


def pytest_command(pytest_args: list[str]) -> list[str]:
    """pytest in the image's /opt/lowbit; the whole suite unless paths or options are given."""
    return ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", *(pytest_args or ["tests"])]


def bench_command(results_dir: str, bench_args: list[str]) -> list[str]:
    """lowbit-bench in the image, its results folder emptied first: the image carries the
    checkout's committed results, which must not come back tagged as this platform's.
    After a `run`, each results file gets its report, as `make bench` renders it (no plots:
    the image has no matplotlib).  No arguments: `make bench`'s default suite."""
    script = (
        'rm -rf "$0" && mkdir -p "$0" && lowbit-bench "$@" || exit $?\n'
        '[ "$1" = run ] || exit 0\n'
        'for f in "$0"/*.json; do\n'
        '  lowbit-bench report "$f" --out "${f%.json}.md" --no-plots || exit $?\n'
        "done"
    )
    return ["sh", "-c", script, results_dir, *(bench_args or DEFAULT_BENCH_ARGS)]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lowbit-docker", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--platform",
            type=parse_platform,
            default=host_arch(),
            help="linux/amd64 or linux/arm64 (default: the host's)",
        )
        sp.add_argument("--image", help="image tag (default: lowbit:<arch>)")

    b = sub.add_parser("build", help="build the image from a staged context")
    common(b)
    b.add_argument("--context", type=Path, help="build context (default: .cache/stage-<arch>)")
    b.add_argument(
        "--base-image",
        help="FROM image (default: lowbit-base:<release>-<arch> when imported, "
        "else debian:<release>-slim)",
    )

    t = sub.add_parser("test", help="run the pytest suite in the image")
    common(t)
    t.add_argument(
        "--profile", choices=PROFILES, help="LOWBIT_TEST_PROFILE (default: emulated under QEMU)"
    )
    t.add_argument("--qemu-cpu", help="QEMU_CPU model for an emulated run, e.g. cortex-a72")
    t.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: arguments for pytest")

    r = sub.add_parser("bench", help="run lowbit-bench in the image and copy its results back")
    common(r)
    r.add_argument("--qemu-cpu", help="QEMU_CPU model for an emulated run")
    r.add_argument("--results-dir", type=Path, default=Path("reports/results"))
    r.add_argument(
        "--container-results", default=CONTAINER_RESULTS, help="results folder in the image"
    )
    r.add_argument(
        "bench_args",
        nargs=argparse.REMAINDER,
        help="after --: arguments for lowbit-bench (default: run --suite default, then its report)",
    )

    h = sub.add_parser("history", help="record asv results in the image and copy them out")
    common(h)
    h.add_argument("--qemu-cpu", help="QEMU_CPU model for an emulated run")
    h.add_argument("--out", type=Path,
                   help="asv results folder here (default: .asv/results-<arch>)")
    h.add_argument("--bench", help="asv --bench regex (default under QEMU: "
                   f"{HISTORY_BENCH['emulated']}; natively: the whole suite)")
    h.add_argument("--shapes", help="LOWBIT_ASV_SHAPES, comma-separated shape names of the "
                   f"quick suite (default under QEMU: {HISTORY_SHAPES['emulated']}; "
                   "natively: all); '' for all")
    h.add_argument("--allow-dirty", action="store_true",
                   help="record even if the image was built from uncommitted changes")
    return p


def _strip_dashdash(args: list[str]) -> list[str]:
    return args[1:] if args[:1] == ["--"] else args


# ---------------------------------------------------------------- Docker (needs a daemon)


def log(msg: str) -> None:
    print(f"[lowbit-docker {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def connect():
    """A docker client; starts the daemon with docker/dockerd.sh when run from a checkout."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
        return client
    except docker.errors.DockerException as exc:
        script = Path("docker/dockerd.sh")
        if not script.is_file():
            raise SystemExit(
                f"lowbit-docker: no Docker daemon ({exc}); start dockerd first"
            ) from exc
    log("no Docker daemon answers: starting one with docker/dockerd.sh")
    subprocess.run([str(script), "start"], check=True)
    return docker.from_env()


def _stream_to(out: IO[bytes], chunks: Iterable[bytes]) -> None:
    for chunk in chunks:
        out.write(chunk)
        out.flush()


def cmd_build(client, args) -> int:
    import docker

    arch = args.platform
    context = args.context or Path(".cache") / f"stage-{arch}"
    if not (context / "Dockerfile").is_file():
        raise SystemExit(
            f"lowbit-docker: no build context in {context}: run `make arm-build` first"
        )
    base = args.base_image
    if base is None:
        codename = debian_codename()
        base = offline_base_tag(arch, codename)
        try:
            client.images.get(base)
        except docker.errors.ImageNotFound:
            base = f"debian:{codename}-slim"
    tag = args.image or image_tag(arch)
    log(f"building {tag} for linux/{arch} FROM {base}")
    for chunk in client.api.build(
        path=str(context),
        tag=tag,
        buildargs={"BASE_IMAGE": base},
        platform=f"linux/{arch}",
        rm=True,
        decode=True,
    ):
        if "stream" in chunk:
            sys.stdout.write(chunk["stream"])
            sys.stdout.flush()
        if "error" in chunk:
            log(f"build failed: {chunk['error']}")
            return 1
    return 0


def run_streamed(client, image: str, arch: str, command: list[str], env: dict[str, str]):
    """Run a container with its output streamed here; returns (exit code, container)."""
    container = client.containers.run(
        image,
        command,
        environment=env,
        platform=f"linux/{arch}",
        network_mode="none",
        detach=True,
    )
    _stream_to(sys.stdout.buffer, container.logs(stream=True, follow=True))
    return container.wait()["StatusCode"], container


def cmd_test(client, args) -> int:
    arch = args.platform
    image = args.image or image_tag(arch)
    env = container_env(args.profile or default_profile(arch), args.qemu_cpu)
    command = pytest_command(_strip_dashdash(args.pytest_args))
    log(f"{image}: {' '.join(command)}  env={env}  emulated={is_emulated(arch)}")
    start = time.monotonic()
    code, container = run_streamed(client, image, arch, command, env)
    container.remove()
    log(f"pytest exited {code} after {time.monotonic() - start:.0f} s")
    return code


def cmd_bench(client, args) -> int:
    arch = args.platform
    image = args.image or image_tag(arch)
    emulated = is_emulated(arch)
    env = container_env("full", args.qemu_cpu)
    command = bench_command(args.container_results, _strip_dashdash(args.bench_args))
    if emulated:
        log("running under QEMU: timings are emulation artefacts, not ARM performance")
    code, container = run_streamed(client, image, arch, command, env)
    try:
        if code != 0:
            log(f"lowbit-bench exited {code}")
            return code
        chunks, _ = container.get_archive(args.container_results)
        written = extract_results(
            chunks,
            args.results_dir,
            arch=arch,
            emulated=emulated,
            image=image,
            qemu_cpu=args.qemu_cpu,
        )
    finally:
        container.remove()
    for path in written:
        log(f"results -> {path}")
    if not written:
        log(f"no results JSON in {args.container_results}")
        return 1
    return 0


def cmd_history(client, args) -> int:
    arch = args.platform
    image = args.image or f"{HISTORY_REPO}:{arch}"
    emulated = is_emulated(arch)
    run = "emulated" if emulated else "native"
    bench = args.bench if args.bench is not None else HISTORY_BENCH[run]
    env = history_env(emulated, args.shapes, args.qemu_cpu)
    command = history_command(emulated=emulated, bench=bench, allow_dirty=args.allow_dirty)
    out = history_out(arch, args.out)
    if emulated:
        log("running under QEMU: the machine is named ...-emulated; its timings are "
            "emulation artefacts, not ARM performance")
    log(f"{image}: {' '.join(command)}  env={env}")
    start = time.monotonic()
    code, container = run_streamed(client, image, arch, command, env)
    try:
        if code != 0:
            log(f"asv history exited {code} after {time.monotonic() - start:.0f} s")
            return code
        chunks, _ = container.get_archive(CONTAINER_ASV)
        written = extract_asv_results(chunks, out, emulated=emulated)
    finally:
        container.remove()
    for path in written:
        log(f"asv results -> {path}")
    log(f"recorded in {time.monotonic() - start:.0f} s; merge it with "
        f"`make dashboard MERGE=\"{out}\"`")
    return 0


COMMANDS = {"build": cmd_build, "test": cmd_test, "bench": cmd_bench, "history": cmd_history}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command](connect(), args)


if __name__ == "__main__":
    sys.exit(main())
