"""``ara kernel run FILE.py|-`` and ``ara kernel check``: run code in a fresh sandboxed kernel, or test the sandbox.

Covers mapping ``KernelSettings`` onto ``tools.kernel.KernelConfig`` (``kernel_config``), running a script's
cells (split at ``# %%``) locally or on the configured gateway, and printing outputs safely (terminal escapes
from the kernel are neutralised). Does not keep kernels between invocations.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import sys
from pathlib import Path
from typing import TextIO

import click

from assistant.cli.common import echo_json, settings_from
from assistant.errors import AssistantError
from assistant.kernels import kernel_config
from assistant.paths import ensure_state_dir
from assistant.settings import Settings
from tools.errors import ToolError, UserInputError
from tools.kernel import (
    CellResult,
    GatewaySession,
    KernelConfig,
    KernelPool,
    bwrap_status,
    split_cells,
)
from tools.kernel.results import printable


async def _run_cells(
    settings: Settings, config: KernelConfig, cells: list[str], run_dir: Path, timeout: float | None, keep_going: bool
) -> list[CellResult]:
    results: list[CellResult] = []
    k = settings.kernel
    if k.gateway_url:
        token = k.gateway_token.get_secret_value() if k.gateway_token else None
        session = await GatewaySession.start(k.gateway_url, token, run_dir, config)
        try:
            for cell in cells:
                results.append(await session.execute(cell, timeout))
                if results[-1].status != "ok" and not keep_going:
                    break
        finally:
            await session.close()
        return results
    pool = KernelPool(config, size=0)
    await pool.start()
    try:
        async with pool.session(run_dir) as local:
            for cell in cells:
                results.append(await local.execute(cell, timeout))
                if results[-1].status != "ok" and not keep_going:
                    break
    finally:
        await pool.shutdown()
    return results


def _print_result(index: int, result: CellResult) -> None:
    colour = {"ok": "green", "error": "red"}.get(result.status, "yellow")
    extra = f", peak {result.peak_memory_mb:.0f} MB" if result.peak_memory_mb is not None else ""
    click.secho(f"[cell {index}: {result.status}, {result.wall_s:.2f} s{extra}]", fg=colour, err=True)
    if result.stdout:
        click.echo(printable(result.stdout), nl=not result.stdout.endswith("\n"))
    if result.stderr:
        click.echo(printable(result.stderr), nl=not result.stderr.endswith("\n"), err=True)
    for out in result.outputs:
        if out.kind == "image/png":
            click.echo(f"[image: {out.path}]")
        elif out.kind == "application/json":
            click.echo(printable(json.dumps(out.data, indent=2, default=str)))
        elif out.kind == "text/plain" and out.text is not None:
            click.echo(printable(out.text))
    if result.status == "error":
        click.echo(printable("\n".join(result.traceback)) or f"{result.error_name}: {result.error_value}", err=True)
    elif result.status != "ok":
        click.echo(f"{result.error_name}: {printable(result.error_value or '')}", err=True)


@click.group()
def kernel() -> None:
    """Sandboxed Python kernels (bubblewrap + seccomp + rlimits, or a remote gateway)."""


@kernel.command("run")
@click.argument("source", type=click.File("r", encoding="utf-8"))
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The only directory the kernel may write (default: <workspace>/.ara/kernel-runs/<time>).")  # fmt: skip
@click.option("--timeout", type=float, default=None, help="Seconds per cell (default: kernel.cell_timeout_s).")
@click.option("--keep-going", is_flag=True, help="Run the remaining cells after one fails.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_context
def run(
    ctx: click.Context, source: TextIO, run_dir: Path | None, timeout: float | None,
    keep_going: bool, as_json: bool,
) -> None:  # fmt: skip
    """Run FILE.py (or - for stdin) in a fresh sandboxed kernel; cells are split at '# %%' lines.

    Exits 0 when every cell succeeded and 2 when one failed, timed out or the kernel died.
    """
    settings = settings_from(ctx)
    code = source.read()
    if not code.strip():
        raise AssistantError(f"{source.name} holds no code to run", title="Nothing to run")
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    run_dir = (run_dir or ensure_state_dir(settings.workspace, "kernel-runs") / stamp).resolve()
    config = kernel_config(settings)
    try:
        results = asyncio.run(_run_cells(settings, config, split_cells(code), run_dir, timeout, keep_going))
    except (ToolError, UserInputError) as err:
        raise AssistantError(str(err), title="Kernel failed") from err
    if as_json:
        echo_json({"run_dir": str(run_dir), "results": [r.model_dump(mode="json") for r in results]})
    else:
        for i, result in enumerate(results, 1):
            _print_result(i, result)
        click.secho(f"[run directory: {run_dir}]", err=True, dim=True)
    if any(r.status != "ok" for r in results):
        sys.exit(2)


@kernel.command("check")
def check() -> None:
    """Say whether bubblewrap can sandbox kernels on this machine."""
    ok, why = bwrap_status()
    click.echo("sandbox ok: bubblewrap can create every namespace" if ok else f"sandbox unavailable: {why}")
    if not ok:
        sys.exit(2)
