"""docker/stage.py: the Docker build context of the arm64 image, assembled on the host."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUFFIX = ".cpython-311-aarch64-linux-gnu.so"


def load_stage():
    spec = importlib.util.spec_from_file_location("lowbit_stage", ROOT / "docker/stage.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fake_elf(path: Path, machine: int) -> Path:
    path.write_bytes(b"\x7fELF" + bytes(14) + machine.to_bytes(2, "little") + bytes(44))
    return path


@pytest.mark.skipif(not (ROOT / ".git").exists() or shutil.which("git") is None,
                    reason="stages the checkout's tracked files: needs the git checkout")
def test_stage_assembles_the_context_with_executable_wrappers(tmp_path):
    stage = load_stage()
    ext = fake_elf(tmp_path / f"_core{SUFFIX}", 0xB7)
    out = tmp_path / "ctx"
    stage.stage(ext, SUFFIX, "aarch64", out)
    assert (out / "site/lowbit" / ext.name).read_bytes() == ext.read_bytes()
    assert (out / "site/lowbit/__init__.py").is_file() and (out / "Dockerfile").is_file()
    assert not (out / "app/lowbit").exists()  # the package lives in site/ only
    assert (out / "peers").is_dir() and not (tmp_path / "ctx.tmp").exists()
    scripts = stage.console_scripts(ROOT / "pyproject.toml")
    assert scripts
    for name, target in scripts.items():
        module, func = target.split(":")
        wrapper = out / "bin" / name
        assert wrapper.stat().st_mode & 0o755 == 0o755
        assert f"from {module} import {func}" in wrapper.read_text()


def test_stage_refuses_an_extension_of_another_machine(tmp_path):
    stage = load_stage()
    ext = fake_elf(tmp_path / f"_core{SUFFIX}", 0x3E)  # x86-64
    with pytest.raises(SystemExit, match="not an aarch64 binary"):
        stage.stage(ext, SUFFIX, "aarch64", tmp_path / "ctx")
    with pytest.raises(SystemExit, match="suffix"):
        stage.stage(ext, ".cpython-311-x86_64-linux-gnu.so", "aarch64", tmp_path / "ctx")
