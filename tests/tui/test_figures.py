"""Figures in the TUI: choosing the protocol, loading files safely, and the viewer over a streamed run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import textual_image.renderable as detected
from PIL import Image
from textual.pilot import Pilot
from textual.widgets import Log, Static
from textual_image.widget import HalfcellImage

from assistant.events import CellExecuted, ResultsRead
from assistant.graph.nodes.cells import normalise
from assistant.llm.testing import ScriptedLLM
from assistant.settings import Settings, load_settings
from assistant.tui import make_app
from assistant.tui.adapters import _forwarder
from assistant.tui.backends import CellOutput, ResultTable
from assistant.tui.images import MAX_FIGURE_PIXELS, SHOWN_SIZE, FigureError, Protocol, choose_protocol, load_figure
from assistant.tui.screens.figures import FiguresScreen
from assistant.tui.screens.runs import table_lines
from assistant.tui.testing import RUN_ID, ScriptedDriver
from tools.kernel import KernelConfig, KernelPool, bwrap_status
from tools.results import Table


def gradient_png(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    """A small real PNG (a colour gradient), the kind matplotlib leaves in a run folder."""
    image = Image.new("RGB", size)
    image.putdata([(x * 255 // size[0], y * 255 // size[1], 128) for y in range(size[1]) for x in range(size[0])])
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


# ----------------------------------------------------------------------------------------- choosing a protocol
def test_off_and_forced_modes_do_not_ask_the_terminal() -> None:
    assert choose_protocol("off", is_tty=True, no_color=False) is None
    assert choose_protocol("sixel", is_tty=False, no_color=True) == "sixel"
    assert choose_protocol("halfcell", is_tty=False, no_color=False) == "halfcell"
    assert choose_protocol("auto", is_tty=False, no_color=False) is None


@pytest.mark.parametrize(
    ("found", "no_color", "expected"),
    [
        (detected.SixelImage, False, "sixel"),
        (detected.TGPImage, False, "tgp"),
        (detected.HalfcellImage, False, "halfcell"),
        (detected.HalfcellImage, True, None),  # half cells are only colour
        (detected.SixelImage, True, "sixel"),  # pixels of the figure itself, not text colour
        (detected.UnicodeImage, False, None),
    ],
)
def test_auto_maps_what_the_terminal_answered(
    found: type, no_color: bool, expected: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detected, "Image", found)
    assert choose_protocol("auto", is_tty=True, no_color=no_color) == expected


# ----------------------------------------------------------------------------------------- loading a figure
def test_a_real_figure_is_decoded_and_shrunk(tmp_path: Path) -> None:
    image = load_figure(gradient_png(tmp_path / "big.png", (4000, 1000)))
    assert image.mode == "RGB"
    assert image.size == (SHOWN_SIZE[0], SHOWN_SIZE[0] // 4)
    assert image.getpixel((0, 0)) == (0, 0, 128)


def test_bad_figures_raise_a_message_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "gone.png"
    with pytest.raises(FigureError, match=rf"figure {missing} cannot be read .*moved or cleaned"):
        load_figure(missing)
    with pytest.raises(FigureError, match="is not a file"):
        load_figure(tmp_path)
    text = tmp_path / "notes.png"
    text.write_text("not a picture", encoding="utf-8")
    with pytest.raises(FigureError, match=rf"figure {text} is not an image this viewer can open"):
        load_figure(text)
    truncated = tmp_path / "cut.png"
    whole = gradient_png(tmp_path / "whole.png").read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(FigureError, match=rf"figure {truncated} could not be decoded .*truncated"):
        load_figure(truncated)
    huge = tmp_path / "huge.png"
    Image.new("1", (8000, 6000)).save(huge)  # 48 M pixels in a few kB of PNG
    assert MAX_FIGURE_PIXELS < 8000 * 6000
    with pytest.raises(FigureError, match=r"is 8000x6000 pixels \(more than 40,000,000\); open the link"):
        load_figure(huge)


# ----------------------------------------------------------------------------------------- from the run to the pane
def test_the_run_driver_forwards_results_tables_and_figures(tmp_path: Path) -> None:
    run = tmp_path / "runs" / RUN_ID
    (run / "out").mkdir(parents=True)
    document = {
        "schema": "ara.results/1",
        "metrics": {},
        "tables": {"pgr_by_seed": {"columns": ["seed", "pgr"], "rows": [[0, 0.41], [1, 0.38]]}},
        "figures": {"pgr_by_seed": "figs/pgr.png"},
    }
    (run / "out" / "results.json").write_text(json.dumps(document), encoding="utf-8")
    emitted: list[object] = []
    _forwarder(run.parent, emitted.append)(ResultsRead(run_id=RUN_ID, ts=0.0, path="out/results.json", metrics=[]))
    assert emitted[1:] == [
        CellOutput(
            run_id=RUN_ID,
            index=-1,
            stream="table",
            text="pgr_by_seed",
            path=str(run / "out" / "results.json"),
            table=ResultTable(columns=("seed", "pgr"), rows=(("0", "0.41"), ("1", "0.38"))),
        ),
        CellOutput(
            run_id=RUN_ID, index=-1, stream="figure", text="pgr_by_seed", path=str(run / "out" / "figs" / "pgr.png")
        ),
    ]


async def _run_with_figures(pilot: Pilot[None]) -> None:
    app = pilot.app
    app.query_one("#chat-input").value = "/run does w2s work?"  # type: ignore[attr-defined]
    await pilot.press("enter")
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.press("a")
    await app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.anyio
async def test_figures_are_linked_in_the_log_and_drawn_by_the_viewer(settings: Settings, tmp_path: Path) -> None:
    good = gradient_png(tmp_path / "run" / "loss.png")
    missing = tmp_path / "run" / "pgr.png"
    driver = ScriptedDriver(cells=1, figures={"loss_curve": str(good), "pgr": str(missing)})
    app = make_app(settings, llm=ScriptedLLM().client(), runner=driver, image_protocol="halfcell")
    async with app.run_test(size=(80, 24)) as pilot:
        await _run_with_figures(pilot)
        log = app.query_one("#run-log", Log)
        assert f"[figure] loss_curve: file://{good} (f draws it)" in log.lines
        assert f"[figure] pgr: file://{missing} (f draws it)" in log.lines
        await pilot.press("f")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FiguresScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        [drawn] = screen.query(HalfcellImage).results(HalfcellImage)
        assert drawn.id == "figure-0"
        assert drawn.region.height > 0
        failed = screen.query_one("#figure-1", Static)
        assert str(failed.render()).startswith(f"cannot show: figure {missing} cannot be read")
        assert "2 figures, newest 2 drawn with halfcell" in str(screen.query_one("#figures-title", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, FiguresScreen)


@pytest.mark.anyio
async def test_without_an_image_protocol_the_viewer_lists_links(settings: Settings, tmp_path: Path) -> None:
    good = gradient_png(tmp_path / "loss.png")
    app = make_app(settings, llm=ScriptedLLM().client(), runner=ScriptedDriver(cells=1, figures={"loss": str(good)}))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3", "f")
        await pilot.pause()
        [note] = list(app._notifications)
        assert note.message.startswith("this run has no figures yet")
        await pilot.press("f2")
        await _run_with_figures(pilot)
        await pilot.press("f")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FiguresScreen)
        assert not list(screen.query(".figure-slot"))
        assert not list(screen.query(HalfcellImage))
        title = str(screen.query_one("#figures-title", Static).render())
        assert title.startswith("1 figure (inline images are off here")
        [caption] = screen.query(".figure-caption").results(Static)
        assert str(caption.render()) == f"loss  file://{good}"


@pytest.mark.anyio
@pytest.mark.parametrize("protocol", ["sixel", "tgp"])
async def test_pixel_protocols_draw_in_the_viewer(protocol: Protocol, settings: Settings, tmp_path: Path) -> None:
    """Sixel and the Kitty protocol are escape sequences a real terminal decodes; here they must lay out and render."""
    good = gradient_png(tmp_path / "loss.png")
    driver = ScriptedDriver(cells=1, figures={"loss": str(good)})
    app = make_app(settings, llm=ScriptedLLM().client(), runner=driver, image_protocol=protocol)
    async with app.run_test(size=(80, 24)) as pilot:
        await _run_with_figures(pilot)
        await pilot.press("f")
        await app.workers.wait_for_complete()
        await pilot.pause()
        drawn = app.screen.query_one("#figure-0")
        assert "figure-image" in drawn.classes
        assert drawn.region.width > 0
        assert drawn.region.height > 0
        assert str(app.screen.query_one("#figures-title", Static).render()).endswith(
            f"drawn with {protocol} (escape closes)"
        )


# ----------------------------------------------------------------------------------------- a real sandboxed cell
DISPLAYING_CELL = """
import io
from IPython.display import Image as Shown, Markdown, display
from PIL import Image
buffer = io.BytesIO()
Image.new("RGB", (40, 20), (200, 30, 30)).save(buffer, format="PNG")
display(Shown(data=buffer.getvalue()))
display(Markdown("| seed | pgr |\\n|---|---|\\n| 0 | 0.41 |"))
print("trained")
{"pgr": 0.41}
"""


@pytest.mark.anyio
@pytest.mark.skipif(not bwrap_status()[0], reason=f"bwrap unusable here: {bwrap_status()[1]}")
async def test_what_a_sandboxed_cell_displays_reaches_the_runs_pane(tmp_path: Path) -> None:
    """A real kernel's display_data (an image, markdown) and Out[n] value: result file, driver, Runs log."""
    run = tmp_path / "runs" / RUN_ID
    (run / "cells").mkdir(parents=True)
    pool = KernelPool(KernelConfig(cell_timeout_s=60, staging_dir=tmp_path / "staging"), size=0)
    try:
        session = await pool.acquire(run)
        result = normalise(await session.execute(DISPLAYING_CELL, 60), run)
    finally:
        await pool.shutdown()
    assert result["status"] == "ok", result
    kinds = [o["kind"] for o in result["outputs"]]
    assert kinds[:2] == ["image/png", "text/plain"]  # the Image object's own repr comes with it
    assert "text/markdown" in kinds
    image = next(o for o in result["outputs"] if o["kind"] == "image/png")
    assert not Path(image["path"]).is_absolute()
    assert Image.open(run / image["path"]).size == (40, 20)
    (run / "cells" / "00.result.json").write_text(json.dumps(result), encoding="utf-8")

    emitted: list[CellOutput] = []
    executed = CellExecuted(run_id=RUN_ID, ts=0.0, key=f"{RUN_ID}:cell:00", index=0, status="ok", duration_s=1.0)
    _forwarder(run.parent, emitted.append)(executed)  # type: ignore[arg-type]
    outputs = [o for o in emitted if isinstance(o, CellOutput)]
    assert outputs[0] == CellOutput(run_id=RUN_ID, index=0, text="trained\n")
    [figure] = [o for o in outputs if o.stream == "figure"]
    assert (figure.text, figure.path) == ("cell 0 image 1", str((run / image["path"]).resolve()))
    displayed = [o.text for o in outputs if o.stream == "display"]
    assert "| 0 | 0.41 |" in "\n".join(displayed)
    assert "{'pgr': 0.41}" in displayed

    pane_app = make_app(load_settings(tmp_path / "ws"), llm=ScriptedLLM().client())
    async with pane_app.run_test(size=(80, 24)):
        for output in outputs:
            pane_app.runs.show_output(output)
        lines = list(pane_app.query_one("#run-log", Log).lines)
        assert f"[cell 0 figure] cell 0 image 1: file://{figure.path} (f draws it)" in lines
        assert "[cell 0 out] {'pgr': 0.41}" in lines
        assert pane_app.runs.figures == [figure]


def test_results_tables_are_laid_out_in_the_log() -> None:
    table = ResultTable.of(
        Table(columns=["pair", "pgr", "ci_low"], rows=[["gpt2 -> smollm2", 0.41234, 0.3], ["tiny", None, 0.1]])
    )
    assert table.columns == ("pair", "pgr", "ci_low")
    assert table.rows[1] == ("tiny", "", "0.1")
    assert table_lines(table) == [
        "pair                pgr  ci_low",
        "---------------  ------  ------",
        "gpt2 -> smollm2  0.4123     0.3",
        "tiny                        0.1",
    ]
    many = ResultTable.of(Table(columns=["seed"], rows=[[i] for i in range(25)]))
    assert table_lines(many)[-1] == "... 5 more rows in the file"
    assert table_lines(ResultTable.of(Table(columns=[], rows=[]))) == ["(empty table)"]
    long = ResultTable.of(Table(columns=["note"], rows=[["x" * 40]]))
    assert table_lines(long)[2] == "x" * 23 + "~"


def test_a_malformed_results_file_forwards_no_table(tmp_path: Path) -> None:
    run = tmp_path / "runs" / RUN_ID
    run.mkdir(parents=True)
    (run / "results.json").write_text('{"schema": "ara.results/1", "tables": {"t": {"columns": "oops"}}}')
    emitted: list[object] = []
    _forwarder(run.parent, emitted.append)(ResultsRead(run_id=RUN_ID, ts=0.0, path="results.json", metrics=[]))
    assert len(emitted) == 1, "only the event itself: the file breaks ara.results/1"


def test_a_figure_that_is_a_link_to_a_host_file_is_not_opened(tmp_path: Path) -> None:
    secret = gradient_png(tmp_path / "private.png")
    planted = tmp_path / "run" / "work" / "outputs" / "cell-1.png"
    planted.parent.mkdir(parents=True)
    planted.symlink_to(secret)
    with pytest.raises(FigureError, match=r"is not a file \(a folder, link or special file\)"):
        load_figure(planted)


def test_the_run_driver_drops_figures_that_are_links_or_leave_the_run(tmp_path: Path) -> None:
    secret = gradient_png(tmp_path / "private.png")
    run = tmp_path / "runs" / RUN_ID
    (run / "figs").mkdir(parents=True)
    (run / "figs" / "pgr.png").symlink_to(secret)
    document = {
        "schema": "ara.results/1",
        "metrics": {"pgr": {"value": 0.4}},
        "figures": {"linked": "figs/pgr.png", "outside": "../../private.png"},
    }
    (run / "results.json").write_text(json.dumps(document), encoding="utf-8")
    (run / "cells").mkdir()
    (run / "cells" / "00.result.json").symlink_to(secret)
    emitted: list[object] = []
    forward = _forwarder(run.parent, emitted.append)
    forward(ResultsRead(run_id=RUN_ID, ts=0.0, path="results.json", metrics=[]))
    forward(CellExecuted(run_id=RUN_ID, ts=0.0, key="k", index=0, status="ok", duration_s=0.0))
    assert [type(e).__name__ for e in emitted] == ["ResultsRead", "CellExecuted"], "nothing behind a link is shown"
