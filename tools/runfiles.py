"""Host-side access to run directories: nothing followed, nothing special opened, every size capped first.

A kernel writes its own directory (``runs/<id>/work/``, see ``KERNEL_DIR``) and may leave symlinks, FIFOs, sockets,
hard links or huge files under any name the host later reads or writes. Every host read or write of a run file goes
through ``RunFiles``: the directory is opened once (``O_DIRECTORY``) and each file is opened relative to that
descriptor, every path component with ``O_NOFOLLOW`` (directories also ``O_DIRECTORY``); only regular files with one
link are read, after their size was checked against a cap (and never more than the cap is read, should the file
grow); writes go to a fresh temporary file in the same directory and are renamed over the name (a planted link is
replaced, never followed); appends refuse anything but a regular file and never block on a FIFO. ``load_array``
parses ``.npy`` submissions from capped bytes and checks the header (1-D, real dtype, exact length) before it reads
the data, then the values (finite, in range or in the label set).

Does not cover what the files mean (``tools.results`` parses results documents, research tools their arrays) or
the kernel's side of the boundary (``tools.kernel``'s sandbox decides what the kernel can reach).
"""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from tools.errors import UserInputError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

KERNEL_DIR = "work"
"""The kernel's writable directory inside a run directory (``runs/<id>/work/``, ``/ara/run`` in the sandbox).
Everything else in ``runs/<id>/`` (the run log, cell records, host-scored results, the report) is the host's."""
MAX_JSON_BYTES = 8 * 1024 * 1024
"""Default cap on a JSON file the host parses (a results document is far smaller)."""
MAX_TEXT_BYTES = 4 * 1024 * 1024
"""Default cap on a text file the host reads (a cell's code, its result record)."""
MAX_FILE_BYTES = 64 * 1024 * 1024
"""Default cap on any other file."""
_NPY_HEADER_BYTES = 64 * 1024
"""Room for an ``.npy`` header on top of the data when capping a submission's size."""

Kind = Literal["file", "dir", "link", "missing", "other"]
"""What a name in a run directory is, seen without following it."""


class RunFileError(UserInputError):
    """A run file is a link, not a regular file, too large or malformed (the message names it and what to do)."""


def _parts(rel: str | os.PathLike[str]) -> list[str]:
    """The components of a relative path; absolute paths and ``..`` are refused (``.`` is dropped)."""
    text = os.fspath(rel)
    path = PurePosixPath(text)
    if path.is_absolute() or not text:
        raise RunFileError(f"{text!r} is not a path inside the run directory; use a relative path like 'results.json'")
    parts = [p for p in path.parts if p != "."]
    if ".." in parts:
        raise RunFileError(f"{text!r} leaves the run directory ('..'); run files are named below it")
    return parts


def _describe(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


@dataclass(frozen=True)
class ArraySpec:
    """What a submitted array must be: 1-D of ``length`` finite real numbers, in ``[low, high]`` or in ``labels``.

    Attributes:
        length: The exact number of values (one per held-out example).
        low: Smallest allowed value (None: unbounded).
        high: Largest allowed value (None: unbounded).
        labels: When given, every value must be one of these (hard labels).
    """

    length: int
    low: float | None = 0.0
    high: float | None = 1.0
    labels: frozenset[float] | None = None


class RunFiles:
    """One run directory opened once; every file below it is reached without following links.

    Args:
        root: The directory (chosen by the host: a run directory, or a kernel directory inside one).
        create: Make ``root`` and its parents when missing.

    Example:
        >>> with RunFiles(tmp, create=True) as files:                 # doctest: +SKIP
        ...     files.write_text("cells/00.py", "print(1)\\n")
        ...     files.read_text("cells/00.py")
        'print(1)\\n'
    """

    def __init__(self, root: Path | str, *, create: bool = False) -> None:
        self.root = Path(root)
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        try:
            self.fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise RunFileError(f"run directory {self.root} does not exist; check the run id") from None
        except NotADirectoryError:
            raise RunFileError(f"{self.root} is not a directory; a run directory was expected") from None

    def close(self) -> None:
        """Close the directory descriptor (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> RunFiles:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "fd", -1) >= 0:
            self.close()

    def __repr__(self) -> str:
        return f"RunFiles({str(self.root)!r})"

    # ----------------------------------------------------------------------------------------- walking
    def _where(self, rel: str | os.PathLike[str]) -> str:
        return str(self.root / os.fspath(rel))

    def _open_dir(self, parts: list[str], *, create: bool) -> int:
        """A new descriptor of the directory ``parts`` below the root, every component opened with ``O_NOFOLLOW``."""
        fd = os.dup(self.fd)
        try:
            for i, part in enumerate(parts):
                try:
                    child = _opendir(part, fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=fd)
                    child = _opendir(part, fd)
                except _NotADir:
                    raise RunFileError(
                        f"{self._where('/'.join(parts[: i + 1]))} is not a directory (a link or a file planted in its "
                        "place); ara never follows links in a run directory. Remove it and run the step again."
                    ) from None
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    @contextmanager
    def _parent(self, rel: str | os.PathLike[str], *, create: bool = False) -> Iterator[tuple[int, str]]:
        """The descriptor of ``rel``'s directory (walked with ``O_NOFOLLOW``) and its last component."""
        parts = _parts(rel)
        if not parts:
            raise RunFileError(f"{os.fspath(rel)!r} names the run directory itself, not a file in it")
        if len(parts) == 1:
            yield self.fd, parts[0]
            return
        fd = self._open_dir(parts[:-1], create=create)
        try:
            yield fd, parts[-1]
        finally:
            os.close(fd)

    def kind(self, rel: str | os.PathLike[str]) -> Kind:
        """What ``rel`` is, without following it (a link inside the path counts as ``link``)."""
        _parts(rel)
        try:
            with self._parent(rel) as (fd, name):
                mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return "missing"
        except RunFileError:
            return "link"
        if stat.S_ISREG(mode):
            return "file"
        if stat.S_ISDIR(mode):
            return "dir"
        return "link" if stat.S_ISLNK(mode) else "other"

    def is_file(self, rel: str | os.PathLike[str]) -> bool:
        """True when ``rel`` is a regular file reached without any link."""
        return self.kind(rel) == "file"

    def sub(self, rel: str | os.PathLike[str], *, create: bool = False) -> RunFiles:
        """The directory ``rel`` below this one, reached without following links (made when ``create``).

        Raises:
            FileNotFoundError: missing (and not ``create``).
            RunFileError: a component is a link or a file.
        """
        child = RunFiles.__new__(RunFiles)
        child.root = self.root / os.fspath(rel)
        child.fd = self._open_dir(_parts(rel), create=create)
        return child

    def listdir(self, rel: str | os.PathLike[str] = ".") -> list[str]:
        """Names in the directory ``rel`` (sorted); links and special files are listed, never entered."""
        if not _parts(rel):
            return sorted(os.listdir(self.fd))
        with self.sub(rel) as child:
            return sorted(os.listdir(child.fd))

    def walk_files(self, rel: str | os.PathLike[str] = ".") -> list[str]:
        """Relative paths of every regular file below ``rel``, not entering links (links and FIFOs are skipped)."""
        found: list[str] = []
        base = _parts(rel)
        for name in self.listdir(rel):
            child = "/".join([*base, name])
            kind = self.kind(child)
            if kind == "file":
                found.append(child)
            elif kind == "dir":
                found.extend(self.walk_files(child))
        return found

    # ----------------------------------------------------------------------------------------- reading
    @contextmanager
    def _open_regular(self, rel: str | os.PathLike[str], limit: int) -> Iterator[tuple[int, int]]:
        """An fd of the regular file ``rel`` and its size, after the link, type, hard-link and size checks."""
        where = self._where(rel)
        with self._parent(rel) as (parent, name):
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent)
            except FileNotFoundError:
                raise
            except OSError as err:
                if err.errno in (errno.ELOOP, errno.ENXIO, errno.EOPNOTSUPP):
                    what = "a symbolic link" if err.errno == errno.ELOOP else "a socket or device"
                    raise RunFileError(
                        f"{where} is {what}; ara reads only regular files in a run directory (the experiment code "
                        "may have planted it). Remove it and run the step again."
                    ) from None
                raise
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise RunFileError(
                    f"{where} is {_describe(info.st_mode)}; ara reads only regular files in a run directory "
                    "(the experiment code may have planted it). Remove it and run the step again."
                )
            if info.st_nlink > 1:
                raise RunFileError(
                    f"{where} has {info.st_nlink} hard links; a run file the host reads must be the only name of its "
                    "content (a hard link could expose a file from elsewhere). Copy it instead of linking it."
                )
            if info.st_size > limit:
                raise RunFileError(
                    f"{where} is {info.st_size:,} bytes, over the {limit:,}-byte limit for this file; the experiment "
                    "wrote far more than this file should hold. Write less (summaries, not raw data) and re-run."
                )
            yield fd, info.st_size
        finally:
            os.close(fd)

    @contextmanager
    def open_read(self, rel: str | os.PathLike[str], *, limit: int = MAX_FILE_BYTES) -> Iterator[io.BufferedReader]:
        """The regular file ``rel`` open for reading (binary), after the checks of ``read_bytes``; for line-by-line
        readers of large files (a run log). Only the size at opening is capped.

        Raises:
            FileNotFoundError: ``rel`` does not exist.
            RunFileError: as ``read_bytes``.
        """
        with self._open_regular(rel, limit) as (fd, _size):
            handle = os.fdopen(os.dup(fd), "rb")
        with handle:
            yield handle

    def read_bytes(self, rel: str | os.PathLike[str], *, limit: int = MAX_FILE_BYTES) -> bytes:
        """The content of the regular file ``rel``, at most ``limit`` bytes.

        Raises:
            FileNotFoundError: ``rel`` does not exist.
            RunFileError: a link (anywhere in the path), a FIFO, socket, device or directory, a hard-linked file,
                or more than ``limit`` bytes.
        """
        with self._open_regular(rel, limit) as (fd, _size):
            chunks: list[bytes] = []
            total = 0
            while True:
                chunk = os.read(fd, min(1 << 20, limit + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if total > limit:
                    raise RunFileError(
                        f"{self._where(rel)} grew past the {limit:,}-byte limit while it was read; something is still "
                        "writing it. Stop the experiment and run the step again."
                    )
            return b"".join(chunks)

    def read_text(self, rel: str | os.PathLike[str], *, limit: int = MAX_TEXT_BYTES) -> str:
        """``read_bytes`` decoded as UTF-8 (undecodable bytes replaced)."""
        return self.read_bytes(rel, limit=limit).decode("utf-8", errors="replace")

    def read_json(self, rel: str | os.PathLike[str], *, limit: int = MAX_JSON_BYTES) -> Any:
        """``read_bytes`` parsed as JSON.

        Raises:
            RunFileError: as ``read_bytes``, or the content is not JSON (or nested too deeply to parse).
        """
        data = self.read_bytes(rel, limit=limit)
        try:
            return json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
            raise RunFileError(f"{self._where(rel)} is not valid JSON ({type(err).__name__}: {err})") from None

    def load_array(self, rel: str | os.PathLike[str], spec: ArraySpec) -> npt.NDArray[np.float64]:
        """A submitted ``.npy`` array as float64, checked against ``spec`` before and after its data is read.

        The header is checked first (a 1-D array of exactly ``spec.length`` real numbers: bool, integer or float;
        no objects, complex numbers, structured or 2-D arrays), then every value (finite, within ``[low, high]``,
        in ``labels`` when given).

        Raises:
            FileNotFoundError: ``rel`` does not exist.
            RunFileError: a link or special file, too large for its declared length, or an array that breaks ``spec``.
        """
        import numpy as np

        where = self._where(rel)
        data = self.read_bytes(rel, limit=_NPY_HEADER_BYTES + 16 * spec.length)
        stream = io.BytesIO(data)
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version in ((2, 0), (3, 0)):
                shape, _fortran, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise ValueError(f"unknown .npy format version {version}")
        except (ValueError, SyntaxError, EOFError) as err:
            raise RunFileError(
                f"{where} is not a .npy array ({err}); submit with numpy.save / KernelTask.submit"
            ) from None
        if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biuf":
            raise RunFileError(
                f"{where} holds {dtype} values; submissions must be real numbers (bool, int or float), "
                "not complex, object or structured arrays"
            )
        if tuple(shape) != (spec.length,):
            raise RunFileError(
                f"{where} has shape {tuple(shape)}; expected ({spec.length},): one value per held-out example, "
                "as a 1-D array (flatten (n, 1) arrays before submitting)"
            )
        stream.seek(0)
        try:
            values = np.load(stream, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise RunFileError(f"{where} could not be read as a .npy array ({err}); submit it again") from None
        array = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(array)):
            raise RunFileError(f"{where} holds {int(np.sum(~np.isfinite(array)))} NaN or infinite values")
        if spec.low is not None and array.size and float(array.min()) < spec.low:
            raise RunFileError(f"{where} holds {float(array.min())!r}, below the allowed minimum {spec.low}")
        if spec.high is not None and array.size and float(array.max()) > spec.high:
            raise RunFileError(f"{where} holds {float(array.max())!r}, above the allowed maximum {spec.high}")
        if spec.labels is not None:
            outside = sorted({float(v) for v in np.unique(array)} - set(spec.labels))
            if outside:
                raise RunFileError(f"{where} holds values {outside[:5]} outside the label set {sorted(spec.labels)}")
        return array

    # ----------------------------------------------------------------------------------------- writing
    def write_bytes(self, rel: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> Path:
        """Write ``data`` to ``rel`` through a new temporary file renamed over it (parents made as needed).

        A link or file planted under the name is replaced, never written through.

        Raises:
            RunFileError: a component of the path is a link or a file, or ``rel`` is a directory.
        """
        with self._parent(rel, create=True) as (parent, name):
            tmp = f".{name}.{uuid.uuid4().hex[:12]}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    if fsync:
                        os.fsync(handle.fileno())
                try:
                    os.rename(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
                except IsADirectoryError:
                    raise RunFileError(
                        f"{self._where(rel)} is a directory; the host writes a file under that name. Remove the "
                        "directory and run the step again."
                    ) from None
            except BaseException:
                with suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=parent)
                raise
        return self.root / os.fspath(rel)

    def write_text(self, rel: str | os.PathLike[str], text: str, *, fsync: bool = True) -> Path:
        """``write_bytes`` of ``text`` as UTF-8."""
        return self.write_bytes(rel, text.encode("utf-8"), fsync=fsync)

    def write_json(self, rel: str | os.PathLike[str], value: Any, *, indent: int | None = 2) -> Path:
        """``write_text`` of ``value`` as JSON (ending in a newline)."""
        return self.write_text(rel, json.dumps(value, indent=indent, default=str) + "\n")

    def append(self, rel: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> None:
        """Append ``data`` to the regular file ``rel`` (created when missing) in one write.

        Raises:
            RunFileError: ``rel`` is a link, FIFO, socket, device or directory, or a path component is a link.
        """
        where = self._where(rel)
        with self._parent(rel, create=True) as (parent, name):
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            try:
                fd = os.open(name, flags, 0o644, dir_fd=parent)
            except OSError as err:
                if err.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR, errno.EOPNOTSUPP):
                    mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
                    raise RunFileError(
                        f"{where} is {_describe(mode)}; ara appends only to a regular file it made. Remove it and "
                        "resume the run."
                    ) from None
                raise
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
                what = _describe(info.st_mode) if not stat.S_ISREG(info.st_mode) else "hard-linked elsewhere"
                raise RunFileError(f"{where} is {what}; ara appends only to a regular file it made. Remove it.")
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def unlink(self, rel: str | os.PathLike[str], *, missing_ok: bool = True) -> None:
        """Remove the name ``rel`` (a link is removed itself, its target untouched)."""
        try:
            with self._parent(rel) as (parent, name):
                os.unlink(name, dir_fd=parent)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def save_array(self, rel: str | os.PathLike[str], array: npt.ArrayLike) -> Path:
        """Write ``array`` as ``.npy`` (``write_bytes``)."""
        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, np.asarray(array), allow_pickle=False)
        return self.write_bytes(rel, buffer.getvalue())

    def save_npz(self, rel: str | os.PathLike[str], arrays: dict[str, npt.NDArray[Any]]) -> Path:
        """Write ``arrays`` as an uncompressed ``.npz`` (``write_bytes``)."""
        import numpy as np

        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        return self.write_bytes(rel, buffer.getvalue())


class _NotADir(Exception):
    """A path component is a link or a file where a directory was expected."""


def _opendir(name: str, dir_fd: int) -> int:
    try:
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _NotADir(name) from None
        raise


def read_file(path: Path, *, limit: int = MAX_FILE_BYTES, below: Path | None = None) -> bytes:
    """The bytes of one run file given by path: walked from ``below`` without links, else only its name unfollowed.

    For callers that hold a path, not a ``RunFiles`` (a viewer opening a figure): with ``below`` (a directory the
    host trusts, e.g. the run directory) every component under it is checked; without it the directory part is
    trusted and only the file itself is opened with ``O_NOFOLLOW`` and checked.

    Raises:
        FileNotFoundError: missing.
        RunFileError: as ``RunFiles.read_bytes``, or ``path`` is not below ``below``.
    """
    if below is not None:
        try:
            rel = Path(os.path.normpath(path)).relative_to(os.path.normpath(below))
        except ValueError:
            raise RunFileError(f"{path} is outside the run directory {below}; it is not read") from None
        with RunFiles(below) as files:
            return files.read_bytes(rel, limit=limit)
    with RunFiles(path.parent) as files:
        return files.read_bytes(path.name, limit=limit)
