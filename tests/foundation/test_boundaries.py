"""The one-way dependency line: ``tools`` never loads assistant, langgraph, openai or textual."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import tools

FORBIDDEN = ("assistant", "langgraph", "openai", "textual")


def test_importing_every_tools_module_loads_nothing_forbidden() -> None:
    modules = [m.name for m in pkgutil.walk_packages(tools.__path__, prefix="tools.")]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""
    assert "tools.embeddings" in modules


def test_only_the_llm_layer_imports_openai() -> None:
    from pathlib import Path

    import assistant

    root = Path(assistant.__path__[0])
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "llm" not in path.relative_to(root).parts
        and any(line.strip().startswith(("import openai", "from openai")) for line in path.read_text().splitlines())
    ]
    assert offenders == []
