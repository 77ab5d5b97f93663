"""tools.runfiles: what a kernel can plant in its directory never makes the host follow, block, or overread.

Each test plants one thing (a symlink, a FIFO, a socket, a hard link, a huge or malformed file) where the host reads
or writes, and checks the host refuses with a message naming the file, and that nothing outside the run changed.
"""

from __future__ import annotations

import io
import os
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from tools.runfiles import ArraySpec, RunFileError, RunFiles, read_file


@pytest.fixture
def run(tmp_path: Path) -> Path:
    (tmp_path / "run").mkdir()
    return tmp_path / "run"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.txt"
    path.parent.mkdir()
    path.write_text("host secret\n")
    return path


def _untouched(secret: Path) -> None:
    assert secret.read_text() == "host secret\n"
    assert sorted(p.name for p in secret.parent.iterdir()) == ["secret.txt"]


def test_regular_files_round_trip_and_parents_are_made(run: Path) -> None:
    with RunFiles(run) as files:
        files.write_text("cells/00.py", "print(1)\n")
        files.append("events.jsonl", b'{"a": 1}\n')
        files.append("events.jsonl", b'{"a": 2}\n')
        assert files.read_text("cells/00.py") == "print(1)\n"
        assert files.read_bytes("events.jsonl") == b'{"a": 1}\n{"a": 2}\n'
        assert files.kind("cells") == "dir"
        assert files.kind("nothing") == "missing"
        assert files.walk_files() == ["cells/00.py", "events.jsonl"]
    assert sorted(p.name for p in (run / "cells").iterdir()) == ["00.py"], "no temporary file is left behind"


def test_a_planted_symlink_is_never_read_and_never_written_through(run: Path, secret: Path) -> None:
    (run / "results.json").symlink_to(secret)
    (run / "events.jsonl").symlink_to(secret)
    with RunFiles(run) as files:
        with pytest.raises(RunFileError, match=r"results\.json is a symbolic link; ara reads only regular files"):
            files.read_bytes("results.json")
        with pytest.raises(RunFileError, match=r"events\.jsonl is a symbolic link; ara appends only"):
            files.append("events.jsonl", b"pgr;$(touch X)\n")
        assert files.kind("results.json") == "link"
        files.write_text("results.json", '{"host": true}')
    _untouched(secret)
    assert not (run / "results.json").is_symlink(), "the write replaced the link, not its target"
    assert (run / "results.json").read_text() == '{"host": true}'


def test_a_symlinked_directory_in_the_path_is_refused_both_ways(run: Path, secret: Path) -> None:
    (run / "figures").symlink_to(secret.parent)
    with RunFiles(run) as files:
        with pytest.raises(RunFileError, match=r"figures is not a directory \(a link or a file planted"):
            files.write_bytes("figures/secret.txt", b"overwritten")
        with pytest.raises(RunFileError, match=r"figures is not a directory"):
            files.read_bytes("figures/secret.txt")
        assert files.kind("figures/secret.txt") == "link"
        assert files.walk_files() == []
    _untouched(secret)
    with pytest.raises(RunFileError, match=r"secret\.txt is outside the run directory .*; it is not read"):
        read_file(secret, below=run)
    with pytest.raises(RunFileError, match=r"figures is not a directory"):
        read_file(run / "figures" / "secret.txt", below=run)
    (run / "figure.png").symlink_to(secret)
    with pytest.raises(RunFileError, match=r"figure\.png is a symbolic link"):
        read_file(run / "figure.png")  # without a root the file itself is still never followed


def test_a_fifo_neither_blocks_a_reader_nor_a_writer(run: Path) -> None:
    os.mkfifo(run / "events.jsonl")
    os.mkfifo(run / "results.json")
    done: list[str] = []

    def attempt() -> None:
        with RunFiles(run) as files:
            for call in (lambda: files.append("events.jsonl", b"{}\n"), lambda: files.read_bytes("results.json")):
                try:
                    call()
                except RunFileError as err:
                    done.append(str(err))

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "opening a FIFO blocked the host"
    assert len(done) == 2
    assert "events.jsonl is a FIFO" in done[0] or "events.jsonl is a socket or device" in done[0]
    assert "results.json is a FIFO; ara reads only regular files" in done[1]


def test_sockets_directories_and_hard_links_are_refused(run: Path, secret: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(run / "config.json"))
    (run / "task.json").mkdir()
    os.link(secret, run / "linked.json")
    try:
        with RunFiles(run) as files:
            with pytest.raises(RunFileError, match=r"config\.json is a socket or device"):
                files.read_bytes("config.json")
            with pytest.raises(RunFileError, match=r"task\.json is a directory"):
                files.read_bytes("task.json")
            with pytest.raises(RunFileError, match=r"task\.json is a directory; the host writes a file"):
                files.write_text("task.json", "{}")
            with pytest.raises(RunFileError, match=r"linked\.json has 2 hard links"):
                files.read_bytes("linked.json")
    finally:
        server.close()
    _untouched(secret)


def test_sizes_are_capped_before_reading_and_paths_stay_inside(run: Path) -> None:
    (run / "results.json").write_bytes(b" " * 5000)
    with RunFiles(run) as files:
        with pytest.raises(RunFileError, match=r"results\.json is 5,000 bytes, over the 4,096-byte limit"):
            files.read_bytes("results.json", limit=4096)
        with pytest.raises(RunFileError, match=r"leaves the run directory"):
            files.read_bytes("../outside/secret.txt")
        with pytest.raises(RunFileError, match=r"is not a path inside the run directory"):
            files.write_text("/etc/passwd", "x")
    (run / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with RunFiles(run) as files, pytest.raises(RunFileError, match=r"deep\.json is not valid JSON \(RecursionError"):
        files.read_json("deep.json")


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.full((4, 1), 0.5), r"has shape \(4, 1\); expected \(4,\)"),
        (np.full(3, 0.5), r"has shape \(3,\); expected \(4,\)"),
        (np.array([0.5, 0.5, 0.5, 0.5j]), r"holds complex128 values; submissions must be real numbers"),
        (np.array([0.5, 0.5, 0.5, 1e30]), r"holds 1e\+30, above the allowed maximum 1\.0"),
        (np.array([0.5, 0.5, 0.5, -0.1]), r"holds -0\.1, below the allowed minimum 0\.0"),
        (np.array([0.5, np.nan, 0.5, 0.5]), r"holds 1 NaN or infinite values"),
        (np.array([{"x": 1}, 1, 2, 3], dtype=object), r"holds object values"),
        (np.zeros(4, dtype=[("a", "f4")]), r"values; submissions must be real numbers"),
    ],
)
def test_submitted_arrays_are_checked_before_and_after_their_data_is_read(
    run: Path, array: np.ndarray, message: str
) -> None:
    (run / "sub.npy").write_bytes(_npy(array))
    with RunFiles(run) as files, pytest.raises(RunFileError, match=message):
        files.load_array("sub.npy", ArraySpec(length=4))


def test_good_arrays_load_and_labels_are_checked(run: Path) -> None:
    with RunFiles(run) as files:
        files.save_array("probs.npy", np.array([0.0, 0.25, 1.0, 0.5], dtype=np.float32))
        files.save_array("hard.npy", np.array([True, False, True, True]))
        assert files.load_array("probs.npy", ArraySpec(length=4)).tolist() == [0.0, 0.25, 1.0, 0.5]
        assert files.load_array("hard.npy", ArraySpec(length=4, labels=frozenset({0.0, 1.0}))).tolist() == [
            1.0,
            0.0,
            1.0,
            1.0,
        ]
        files.save_array("three.npy", np.array([0, 1, 2, 1]))
        with pytest.raises(RunFileError, match=r"values \[2\.0\] outside the label set \[0\.0, 1\.0\]"):
            files.load_array("three.npy", ArraySpec(length=4, high=None, labels=frozenset({0.0, 1.0})))
    (run / "huge.npy").write_bytes(_npy(np.zeros(1_000_000)))
    with RunFiles(run) as files, pytest.raises(RunFileError, match=r"huge\.npy is 8,000,128 bytes, over the"):
        files.load_array("huge.npy", ArraySpec(length=4))
    (run / "junk.npy").write_bytes(b"not numpy at all")
    with RunFiles(run) as files, pytest.raises(RunFileError, match=r"junk\.npy is not a \.npy array"):
        files.load_array("junk.npy", ArraySpec(length=4))


def test_sub_directories_and_unlink_never_follow_links(run: Path, secret: Path) -> None:
    (run / "work").mkdir()
    (run / "work" / "results.json").symlink_to(secret)
    with RunFiles(run) as files, files.sub("work") as work:
        work.unlink("results.json")
        assert work.listdir() == []
    with RunFiles(secret.parent) as outside, pytest.raises(RunFileError, match=r"secret\.txt is not a directory"):
        outside.sub("secret.txt")
    _untouched(secret)
