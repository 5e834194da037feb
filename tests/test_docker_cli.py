"""Pure logic of lowbit-docker: argument parsing, emulation detection, result tagging.

No Docker daemon is needed: result extraction is fed an in-memory tar stream of the kind
`container.get_archive` returns.
"""

import argparse
import io
import json
import tarfile

import pytest

from lowbit import docker_cli as dc


@pytest.mark.parametrize(
    "text, arch",
    [
        ("linux/arm64", "arm64"),
        ("linux/aarch64", "arm64"),
        ("arm64", "arm64"),
        ("linux/amd64", "amd64"),
        ("linux/x86_64", "amd64"),
    ],
)
def test_parse_platform_normalises(text, arch):
    assert dc.parse_platform(text) == arch


@pytest.mark.parametrize("text", ["linux/riscv64", "windows/amd64", "darwin/arm64", "", "linux/"])
def test_parse_platform_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError, match="unsupported platform"):
        dc.parse_platform(text)


def test_bad_platform_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        dc.build_parser().parse_args(["test", "--platform", "linux/s390x"])
    assert exc.value.code == 2
    assert "unsupported platform" in capsys.readouterr().err


def test_emulation_follows_host_arch():
    assert dc.is_emulated("arm64", host="amd64")
    assert not dc.is_emulated("arm64", host="arm64")
    assert not dc.is_emulated("amd64", host="amd64")
    assert dc.default_profile("arm64", host="amd64") == "emulated"
    assert dc.default_profile("amd64", host="amd64") == "full"


def test_test_args_and_pytest_passthrough():
    args = dc.build_parser().parse_args(
        ["test", "--platform", "linux/arm64", "--qemu-cpu", "cortex-a72", "--", "-k", "dispatch"]
    )
    assert (args.command, args.platform, args.qemu_cpu) == ("test", "arm64", "cortex-a72")
    assert dc._strip_dashdash(args.pytest_args) == ["-k", "dispatch"]
    assert args.profile is None


def test_pytest_command_defaults_to_whole_suite():
    assert dc.pytest_command([])[-1] == "tests"
    cmd = dc.pytest_command(["tests/test_api.py", "-x"])
    assert cmd[-2:] == ["tests/test_api.py", "-x"] and "tests" not in cmd


def test_bench_args():
    args = dc.build_parser().parse_args(
        ["bench", "--platform", "linux/arm64", "--", "run", "--suite", "quick"]
    )
    assert dc._strip_dashdash(args.bench_args) == ["run", "--suite", "quick"]
    assert args.container_results == dc.CONTAINER_RESULTS


def test_bench_command_starts_from_an_empty_results_dir():
    cmd = dc.bench_command("/opt/lowbit/reports/results", ["run", "--suite", "quick"])
    assert cmd[:2] == ["sh", "-c"]
    assert cmd[2].startswith('rm -rf "$0"') and 'lowbit-bench "$@"' in cmd[2]
    assert cmd[3:] == ["/opt/lowbit/reports/results", "run", "--suite", "quick"]


def test_bench_command_default_is_make_bench():
    assert dc.bench_command("/r", [])[3:] == ["/r", "run", "--suite", "default"]


@pytest.mark.parametrize("args,reports", [(["run", "--suite", "quick"], ["quick.md"]),
                                          (["fingerprint"], [])])
def test_bench_command_renders_a_report_after_a_run(tmp_path, args, reports):
    """The container script itself, run here with a stand-in lowbit-bench on PATH."""
    import shutil
    import subprocess

    if shutil.which("sh") is None:
        pytest.skip("no sh")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "lowbit-bench"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = run ]; then echo "{}" > "$RESULTS/quick.json"; fi\n'
        'if [ "$1" = report ]; then echo "# report of $2" > "$4"; fi\n'
    )
    fake.chmod(0o755)
    results = tmp_path / "results"
    results.mkdir()
    (results / "stale.json").write_text("{}")  # the image's committed results: removed
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "RESULTS": str(results)}
    subprocess.run(dc.bench_command(str(results), args), check=True, env=env)
    assert sorted(p.name for p in results.glob("*.md")) == reports
    assert not (results / "stale.json").exists()


def test_bench_command_fails_with_the_bench(tmp_path):
    """A failing lowbit-bench fails the container command (no report is rendered)."""
    import subprocess

    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "lowbit-bench"
    fake.write_text('#!/bin/sh\n[ "$1" = report ] && touch "$4"\nexit 3\n')
    fake.chmod(0o755)
    results = tmp_path / "results"
    env = {"PATH": f"{bindir}:/usr/bin:/bin"}
    done = subprocess.run(dc.bench_command(str(results), ["run"]), env=env)
    assert done.returncode == 3 and not list(results.glob("*.md"))


def test_profile_must_be_known():
    with pytest.raises(SystemExit):
        dc.build_parser().parse_args(["test", "--profile", "fast"])


def test_container_env():
    assert dc.container_env("emulated", None) == {"LOWBIT_TEST_PROFILE": "emulated"}
    assert dc.container_env("full", "cortex-a72") == {
        "LOWBIT_TEST_PROFILE": "full",
        "QEMU_CPU": "cortex-a72",
    }


def test_offline_base_tag_and_codename(tmp_path):
    osr = tmp_path / "os-release"
    osr.write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\n')
    assert dc.offline_base_tag("arm64", dc.debian_codename(osr)) == "lowbit-base:bookworm-arm64"
    osr.write_text("NAME=x\n")
    with pytest.raises(RuntimeError):
        dc.debian_codename(osr)


def test_result_name_tags_once():
    assert dc.result_name("bench-quick.json", "arm64") == "bench-quick.linux-arm64.json"
    assert dc.result_name("bench-quick.linux-arm64.json", "arm64") == "bench-quick.linux-arm64.json"


def test_tag_result_top_level_and_machine_info():
    doc = {"benchmarks": [1], "machine_info": {"cpu": "x"}}
    tagged = dc.tag_result(
        doc, arch="arm64", emulated=True, image="lowbit:arm64", qemu_cpu="cortex-a72"
    )
    for where in (tagged, tagged["machine_info"]):
        assert where["platform"] == "linux/arm64"
        assert where["emulated"] is True
        assert where["qemu_cpu"] == "cortex-a72"
    assert tagged["machine_info"]["cpu"] == "x"
    assert tagged["benchmarks"] == [1]
    assert "platform" not in doc["machine_info"]  # input left untouched


def test_tag_result_lowbit_bench_fingerprint():
    doc = {"fingerprint": {"arch": "aarch64"}, "records": []}
    tagged = dc.tag_result(doc, arch="arm64", emulated=True, image="i", qemu_cpu=None)
    assert tagged["fingerprint"] == {
        "arch": "aarch64",
        "platform": "linux/arm64",
        "emulated": True,
        "image": "i",
        "run": "emulated",
    }


def test_tag_result_native_run():
    tagged = dc.tag_result({"a": 1}, arch="amd64", emulated=False, image="img", qemu_cpu=None)
    assert tagged == {"a": 1, "platform": "linux/amd64", "emulated": False, "image": "img",
                      "run": "native"}


def test_extract_results_brings_the_report_tagged(tmp_path):
    stream = _tar_stream({"results/default.json": json.dumps({"records": []}),
                          "results/default.md": "# lowbit benchmark report\n"})
    written = dc.extract_results(stream, tmp_path, arch="arm64", emulated=False, image="lowbit:arm64")
    assert sorted(p.name for p in written) == ["default.linux-arm64.json", "default.linux-arm64.md"]
    md = (tmp_path / "default.linux-arm64.md").read_text()
    assert md.startswith("> Run in `lowbit:arm64` on linux/arm64: **native**.")
    assert md.endswith("# lowbit benchmark report\n")
    assert json.loads((tmp_path / "default.linux-arm64.json").read_text())["run"] == "native"
    stream = _tar_stream({"results/q.md": "x"})
    dc.extract_results(stream, tmp_path, arch="arm64", emulated=True, image="i", qemu_cpu="max")
    assert "**emulated** (QEMU, max)" in (tmp_path / "q.linux-arm64.md").read_text()


def _tar_stream(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in files.items():
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    # get_archive yields chunks; split to check they are joined.
    return [raw[:700], raw[700:]]


def test_extract_results_tags_and_renames(tmp_path):
    stream = _tar_stream(
        {
            "results/bench-quick.json": json.dumps({"machine_info": {}, "benchmarks": []}),
            "results/notes.txt": "not a result",
        }
    )
    written = dc.extract_results(
        stream, tmp_path, arch="arm64", emulated=True, image="lowbit:arm64"
    )
    assert written == [tmp_path / "bench-quick.linux-arm64.json"]
    doc = json.loads(written[0].read_text())
    assert doc["emulated"] is True and doc["machine_info"]["platform"] == "linux/arm64"
    assert doc["run"] == "emulated"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench-quick.linux-arm64.json"]


def test_extract_results_rejects_non_object(tmp_path):
    stream = _tar_stream({"results/x.json": "[1, 2]"})
    with pytest.raises(ValueError, match="not an object"):
        dc.extract_results(stream, tmp_path, arch="arm64", emulated=True, image="i")


# ---------------------------------------------------------------- lowbit-docker history

EMU = "aarch64-cortex-a72-0f1e2d-neon-emulated"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _asv_tree(machine=EMU, results=None):
    """A results folder as `docker cp` of /tmp/lowbit-asv/results streams it."""
    files = {"results/benchmarks.json": json.dumps({"version": 2}),
             f"results/{machine}/machine.json": json.dumps({"machine": machine, "version": 1})}
    for name, doc in (results or {f"{COMMIT[:8]}-existing-venv.json":
                                  {"commit_hash": COMMIT, "results": {}}}).items():
        files[f"results/{machine}/{name}"] = doc if isinstance(doc, str) else json.dumps(doc)
    return files


def test_history_args_and_defaults():
    a = dc.build_parser().parse_args(["history", "--platform", "linux/arm64"])
    assert (a.platform, a.out, a.bench, a.shapes, a.allow_dirty) == ("arm64", None, None,
                                                                     None, False)
    assert dc.history_out("arm64") == dc.Path(".asv/results-arm64")
    assert dc.history_out("arm64", dc.Path("/x/y")) == dc.Path("/x/y")
    a = dc.build_parser().parse_args(["history", "--out", "o", "--bench", "gemm", "--shapes",
                                      "", "--allow-dirty"])
    assert (a.out, a.bench, a.shapes, a.allow_dirty) == (dc.Path("o"), "gemm", "", True)


def test_history_command_records_the_pinned_commit_tagged_when_emulated():
    cmd = dc.history_command(emulated=True, bench="gemm", allow_dirty=False)
    assert cmd[:3] == ["python3", "ci/asv_history.py", "record"]
    assert cmd[cmd.index("--pinned") + 1] == dc.COMMIT_FILE
    assert cmd[cmd.index("--results-dir") + 1] == dc.CONTAINER_ASV
    assert "--emulated" in cmd and cmd[cmd.index("--bench") + 1] == "gemm"
    assert "--allow-dirty" not in cmd
    native = dc.history_command(emulated=False, bench=None, allow_dirty=True)
    assert "--emulated" not in native and "--bench" not in native and "--allow-dirty" in native


def test_history_env_is_tiny_under_qemu_and_whole_natively():
    emu = dc.history_env(True, None, "cortex-a72")
    assert emu["LOWBIT_ASV_SHAPES"] == dc.HISTORY_SHAPES["emulated"] != ""
    assert emu["LOWBIT_ASV_PEERS"] == "0" and emu["QEMU_CPU"] == "cortex-a72"
    native = dc.history_env(False, None, None)
    assert native["LOWBIT_ASV_SHAPES"] == "" and "LOWBIT_ASV_PEERS" not in native
    assert dc.history_env(True, "square.256", None)["LOWBIT_ASV_SHAPES"] == "square.256"


def test_extract_asv_results_copies_the_tree_without_its_top_folder(tmp_path):
    (tmp_path / "other-machine").mkdir()
    (tmp_path / "other-machine" / "machine.json").write_text("{}")
    written = dc.extract_asv_results(_tar_stream(_asv_tree()), tmp_path, emulated=True)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        f"{EMU}/{COMMIT[:8]}-existing-venv.json", f"{EMU}/machine.json", "benchmarks.json"]
    assert json.loads((tmp_path / EMU / "machine.json").read_text())["machine"] == EMU
    assert (tmp_path / "other-machine" / "machine.json").read_text() == "{}"  # left alone
    assert not list(tmp_path.rglob("*.tmp"))


def test_extract_asv_results_refuses_an_emulated_run_named_as_the_board(tmp_path):
    board = EMU[: -len("-emulated")]
    with pytest.raises(ValueError, match="ran under QEMU"):
        dc.extract_asv_results(_tar_stream(_asv_tree(board)), tmp_path, emulated=True)
    assert not list(tmp_path.iterdir())  # nothing written
    dc.extract_asv_results(_tar_stream(_asv_tree(board)), tmp_path, emulated=False)
    assert (tmp_path / board / "machine.json").is_file()


@pytest.mark.parametrize("files, match", [
    ({"results/benchmarks.json": "{}"}, "no asv machine folder"),
    ({**_asv_tree(), f"results/{EMU}/machine.json": json.dumps({"machine": "x"})},
     "not naming machine"),
    (_asv_tree(results={"a.json": "{not json"}), "unreadable JSON"),
    (_asv_tree(results={"a.json": {"results": {}}}), "no commit_hash"),
    ({f"results/{EMU}/machine.json": json.dumps({"machine": EMU})}, "no results file"),
])
def test_extract_asv_results_rejects_a_broken_folder_before_writing(tmp_path, files, match):
    with pytest.raises(ValueError, match=match):
        dc.extract_asv_results(_tar_stream(files), tmp_path, emulated=True)
    assert not list(tmp_path.iterdir())


def test_results_are_written_by_lowbit_atomic_writer_also_as_a_bare_file(tmp_path):
    """On a board the file runs on its own (`python3 src/lowbit/docker_cli.py`), without a built
    lowbit: it still writes through src/lowbit/bench/atomic.py, loaded from its path. `-S` leaves
    out site-packages, so neither lowbit nor numpy can be imported there."""
    import subprocess
    import sys
    from pathlib import Path

    src = Path(dc.__file__).resolve().parents[1] / "lowbit" / "docker_cli.py"
    if not src.is_file():  # installed copy: the checkout's file next to the tests
        src = Path(__file__).resolve().parents[1] / "src" / "lowbit" / "docker_cli.py"
    out = tmp_path / "r" / "x.json"
    code = ("import runpy, sys; from pathlib import Path; m = runpy.run_path(sys.argv[1]); "
            "m['write_json_atomic'](Path(sys.argv[2]), {'b': 1, 'a': [2]}); "
            "print(m['_atomic']().__name__, 'lowbit' in sys.modules, 'numpy' in sys.modules)")
    r = subprocess.run([sys.executable, "-S", "-c", code, str(src), str(out)],
                       capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["lowbit_atomic", "False", "False"]
    assert out.read_text() == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n'
    assert [p.name for p in out.parent.iterdir()] == ["x.json"]  # no temporary left
    # Imported as the package's module it uses the package's writer.
    assert dc._atomic().__name__ == "lowbit.bench.atomic"
