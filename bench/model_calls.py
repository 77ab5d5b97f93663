"""The research loop's structured calls, one type at a time, against an embedded profile (for ``model_compare``).

Each call is made exactly as its node makes it (the same prompt template, values and schema; the client the loop
uses), but outside the graph, so every call type can be repeated over the labelled questions without running
whole cycles: intake (``ResearchBrief``), plans (``ExperimentPlans`` in free mode: the recipes plus ``free``),
the recipe config (the recipe's config model), the free cell (``FreeCell``, then run in a real sandboxed kernel
with the loop's prelude and guard, and repaired with the ``debug.fix`` prompt up to three times, or ``rounds``), and the
analysis (``Analysis`` of a real ``results.json``). Each record says whether the first attempt was schema-valid,
how many attempts it took, whether it was truncated, and what it chose. Records are appended to a JSONL file per
phase, so an interrupted phase resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import json
import time
from itertools import zip_longest
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from assistant.errors import StructuredOutputError
from assistant.graph.guard import ALLOWED_IMPORTS, check_free_code
from assistant.graph.nodes._common import remove_run_file
from assistant.graph.nodes.analysis import metric_summary, verdict_lines
from assistant.graph.nodes.code import _free_prelude
from assistant.graph.prompts import load_prompt, quote_data, render
from assistant.llm.client import LLMCall, OpenAIClient
from assistant.llm.structured import extract_payload
from assistant.recipes import default_registry
from assistant.report.build import evaluate_hypotheses
from assistant.report.guide import placeholder_guide
from assistant.report.model import ExperimentRecord
from assistant.schemas import Analysis, ExperimentPlan, FreeCell, Hypothesis, ResearchBrief, ToolChoice, plans_schema
from assistant.toolchoice import ShortlistRule, ToolRanker
from bench.research_quality import DEV_SET, HELD_OUT_SET, choose_update
from tools.results import ResultsDocument, read_results
from tools.vcs import Workspace

NO_EVIDENCE = "(no papers in the library matched; plans cannot cite anything)"
DEBUG_ROUNDS = 3


def done_keys(path: Path) -> set[str]:
    """Keys of the records already in a phase's JSONL file."""
    if not path.is_file():
        return set()
    return {json.loads(line)["key"] for line in path.read_text().splitlines() if line.strip()}


def append(path: Path, record: dict[str, Any]) -> None:
    """Append one record."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def structured(
    client: OpenAIClient, calls: list[LLMCall], prompt: str, schema: type[BaseModel], node: str, **values: Any
) -> tuple[BaseModel | None, dict[str, Any]]:
    """One structured call as ``node`` makes it; the parsed object (or None) and a record of how it went."""
    first = len(calls)
    started = time.perf_counter()
    error = None
    try:
        obj: BaseModel | None = client.complete_structured(render(load_prompt(prompt), **values), schema, call=node)
    except StructuredOutputError as err:
        obj, error = None, str(err)[:400]
    return obj, _made(calls, first, started, obj is not None, schema.model_validate, error) | {"type": node}


def labelled_questions(limit: int, part: tuple[int, int] = (0, 1)) -> list[tuple[str, str, list[str]]]:
    """(key, question, labelled tools) of the tool-choice sets: the first ``limit`` testable questions, dev and held
    out interleaved (``d00``, ``h00``, ``d01``, ...), then every out-of-scope one (they cost no plan, config, cell or
    analysis call); ``part`` (k, n) keeps every n-th from the k-th, so n processes can share them."""
    sets = []
    for prefix, path in (("d", DEV_SET), ("h", HELD_OUT_SET)):
        items = json.loads(path.read_text())["questions"]
        sets.append([(f"{prefix}{i:02d}", str(item["question"]), list(item["tools"])) for i, item in enumerate(items)])
    found = [q for pair in zip_longest(*sets) for q in pair if q is not None]
    testable = [q for q in found if q[2]][:limit]
    out_of_scope = [q for q in found if not q[2]]
    k, n = part
    return testable[k::n] + out_of_scope[k::n]


def _made(calls: list[LLMCall], first: int, started: float, ok: bool, check: Any, error: str | None) -> dict[str, Any]:
    """The record of the calls made since index ``first`` (``check`` validates a raw payload, or raises)."""
    made = calls[first:]
    first_valid = False
    if made:
        try:
            check(extract_payload(made[0].response))
            first_valid = True
        except (ValidationError, ValueError):
            first_valid = False
    return {
        "ok": ok,
        "first_valid": first_valid,
        "attempts": len(made),
        "completion_tokens": sum(c.usage.completion_tokens for c in made),
        "seconds": time.perf_counter() - started,
        "error": error,
    }


def _chosen_tool(payload: Any, names: list[str]) -> None:
    if ToolChoice.model_validate(payload).tool.strip() not in names:
        raise ValueError("the choice is not one of the offered names")


def choose(
    client: OpenAIClient, calls: list[LLMCall], workspace: Workspace, ranker: ToolRanker, question: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The real ``choose_tool`` node on ``question``: its update, and the record of its model call (None when the
    node made none: an empty shortlist or a smoke test asked for by name)."""
    first, started = len(calls), time.perf_counter()
    update = asyncio.run(choose_update(client, workspace, question, ranker))
    if len(calls) == first:
        return update, None
    names = [*update["shortlist"]["offered"], "none"]

    def check(payload: Any) -> None:
        _chosen_tool(payload, names)

    try:  # the node's last try is the answer it kept (or gave up on)
        check(extract_payload(calls[-1].response))
        valid = True
    except (ValidationError, ValueError):
        valid = False
    record = _made(calls, first, started, valid, check, None)
    record["type"] = "choose_tool"
    return update, record


def plans_values(tool: str, reason: str) -> tuple[str, list[str]]:
    """The tool text and plan names the planning node shows for a chosen tool in free mode."""
    recipe = default_registry().get(tool)
    described = recipe.card.describe() if recipe.card else recipe.summary
    described += f"\n  config fields: {', '.join(recipe.config_schema().get('properties', {}))}"
    described += "\n- free: write your own Python cell (config must be empty)."
    return described, [recipe.name, "free"]


def _records(path: Path) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        return {}
    return {r["key"]: r for r in (json.loads(line) for line in path.read_text().splitlines() if line.strip())}


def plan_calls(
    client: OpenAIClient,
    calls: list[LLMCall],
    out: Path,
    limit: int,
    part: tuple[int, int] = (0, 1),
    rule: ShortlistRule | None = None,
) -> None:
    """Intake, the tool choice, then plans on the chosen tool, for each labelled question, as the loop makes them
    in free mode; records whether the choice matches the label (a labelled tool, or none out of scope).

    One pass per call type (every intake, then every choice, then every plan), so consecutive calls share their
    schema and system prompt and llama.cpp reuses that prefix: the seconds per call are below a cycle's."""
    intakes_path, choices_path, path = out / "intake.jsonl", out / "choice.jsonl", out / "plans.jsonl"
    seen = done_keys(path)
    questions = [q for q in labelled_questions(limit, part) if q[0] not in seen]
    intakes = _records(intakes_path)
    for key, question, _ in questions:
        if key not in intakes:
            brief, intake = structured(client, calls, "intake.brief", ResearchBrief, "intake", question=question)
            made = brief if isinstance(brief, ResearchBrief) else ResearchBrief(objective=question)
            intakes[key] = {"key": key, "intake": intake, "brief": made.model_dump(mode="json")}
            append(intakes_path, intakes[key])
            print(key, "intake", intake["ok"], f"{intake['seconds']:.0f}s", flush=True)
    workspace = Workspace.open_or_create(out / "choice-ws")
    ranker = ToolRanker(default_registry().cards(), rule=rule)
    choices = _records(choices_path)
    for key, question, _ in questions:
        if key not in choices:
            update, choice = choose(client, calls, workspace, ranker, question)
            choices[key] = {"key": key, "update": update, "choice": choice}
            append(choices_path, choices[key])
            print(key, "choice", update["tool"], f"{(choice or {}).get('seconds', 0):.0f}s", flush=True)
    for key, question, labels in questions:
        update, tool = choices[key]["update"], choices[key]["update"]["tool"]
        brief = ResearchBrief.model_validate(intakes[key]["brief"])
        plans: dict[str, Any] | None = None
        chosen: list[dict[str, Any]] = []
        if tool is not None:
            described, names = plans_values(tool, str(update["tool_reason"]))
            proposed, plans = structured(
                client,
                calls,
                "propose_experiments.plans",
                plans_schema(names),
                "propose_experiments",
                question=question,
                brief=brief.model_dump_json(indent=1),
                recipes=described,
                reason=str(update["tool_reason"]),
                evidence=NO_EVIDENCE,
            )
            chosen = [p.model_dump(mode="json") for p in getattr(proposed, "plans", [])]
        correct = tool in labels if labels else tool is None
        append(
            path,
            {
                "key": key,
                "question": question,
                "accept": labels or ["none"],
                "offered": update["shortlist"]["offered"],
                "intake": intakes[key]["intake"],
                "choice": choices[key]["choice"],
                "plans": plans,
                "chosen": tool,
                "n_plans": len(chosen),
                "correct": correct,
                "plan": chosen[0] if chosen else None,
            },
        )
        print(key, tool, correct, f"plans {(plans or {}).get('seconds', 0):.0f}s", flush=True)


def _plan_for(record: dict[str, Any], recipe: str) -> ExperimentPlan | None:
    """The question's first plan set to ``recipe`` (None when the question got no valid plan)."""
    plan = record.get("plan")
    if plan is None:
        return None
    return ExperimentPlan.model_validate(
        {**plan, "recipe": recipe, "config": plan.get("config", {}) if plan.get("recipe") == recipe else {}}
    )


def config_calls(client: OpenAIClient, calls: list[LLMCall], out: Path) -> None:
    """For each question with a chosen tool, the config call the planning node makes for a plan whose config does
    not validate (``fill_config.recipe``); made for every such question so the call type gets enough samples."""
    path = out / "configs.jsonl"
    seen = done_keys(path)
    registry = default_registry()
    for line in (out / "plans.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["key"] in seen or record["chosen"] is None:
            continue
        spec = registry.get(record["chosen"])
        plan = _plan_for(record, spec.name)
        if plan is None:
            continue
        _, result = structured(
            client,
            calls,
            "fill_config.recipe",
            spec.load_config(),
            "propose_experiments",
            plan=plan.model_dump_json(indent=1),
            recipe=spec.name,
            recipe_summary=spec.card.describe() if spec.card else spec.summary,
        )
        append(path, {"key": record["key"], "recipe": spec.name, "config": result})
        print(record["key"], spec.name, result["ok"], f"{result['seconds']:.0f}s", flush=True)


async def _run_cell(pool: Any, run_dir: Path, code: str, timeout: float) -> dict[str, Any]:
    session = await pool.acquire(run_dir)
    try:
        result = await session.execute(code, timeout)
    finally:
        await session.close()
    error = "\n".join(str(x) for x in (result.error_name, result.error_value) if x) or None
    return {
        "status": result.status,
        "error": error,
        "output": "\n".join(filter(None, [result.stdout[-1500:], result.stderr[-1500:], *result.traceback[-3:]])),
    }


def _results_error(run_dir: Path) -> str | None:
    """Why a cell that ran without an error still failed, as the loop says it (``nodes.cells``): it wrote no
    results.json, or one that does not read as ``ara.results/1``; None when it wrote a valid one."""
    path = run_dir / "results.json"
    if not (path.is_symlink() or path.exists()):  # a link or special file is the reader's to refuse, as invalid
        return "NoResults: the cell wrote no ./results.json"
    try:
        read_results(path, kernel_written=True)
    except (ValueError, OSError) as err:
        return f"InvalidResults: {err}"
    return None


def labelled_plan_records(limit: int, part: tuple[int, int] = (0, 1)) -> list[dict[str, Any]]:
    """Records like ``plans.jsonl``'s for the testable labelled questions, each with its ``labelled_plan``: free
    cells for plans no model call wrote (the ``cells`` phase, on both profiles the same plans)."""
    return [
        {"key": key, "question": question, "plan": labelled_plan(question, labels[0]).model_dump(mode="json")}
        for key, question, labels in labelled_questions(limit, part)
        if labels
    ]


async def free_cells(
    client: OpenAIClient,
    calls: list[LLMCall],
    out: Path,
    pool: Any,
    timeout: float,
    rounds: int = DEBUG_ROUNDS,
    plans: list[dict[str, Any]] | None = None,
) -> None:
    """For each question, a free cell for its plan (recipe set to ``free``), run sandboxed, debugged up to ``rounds``
    times; the plans are ``plans.jsonl``'s unless ``plans`` are given."""
    path = out / "free.jsonl"
    seen = done_keys(path)
    if plans is None:
        plans = [json.loads(line) for line in (out / "plans.jsonl").read_text().splitlines() if line.strip()]
    for record in plans:
        if record["key"] in seen:
            continue
        free_plan = _plan_for(record, "free")
        if free_plan is None:
            continue
        plan = free_plan.model_dump_json(indent=1)
        run_dir = out / "cells" / record["key"]
        run_dir.mkdir(parents=True, exist_ok=True)
        cell, first = await asyncio.to_thread(
            structured,
            client,
            calls,
            "write_code.free",
            FreeCell,
            "write_code",
            plan=plan,
            allowed_imports=", ".join(sorted(ALLOWED_IMPORTS)),
        )
        runs: list[dict[str, Any]] = []
        debug: list[dict[str, Any]] = []
        while cell is not None and len(runs) <= rounds:
            assert isinstance(cell, FreeCell)
            blocked = check_free_code(cell.code)
            code = _free_prelude(Path(".")) + cell.code
            if blocked:
                run: dict[str, Any] = {
                    "status": "blocked",
                    "error": "Blocked: " + " ".join(b.for_model() for b in blocked),
                    "output": "",
                }
            else:
                remove_run_file(run_dir, "results.json")  # as the loop does: no earlier round's file counts
                run = await _run_cell(pool, run_dir, code, timeout)
            # As in the loop, a cell that runs but leaves no valid results.json has failed and goes to debug.
            missing = _results_error(run_dir) if run["status"] == "ok" else None
            run["results_json"] = run["status"] == "ok" and missing is None
            if missing is not None:
                run["results_error"] = missing
            runs.append(run)
            if run["results_json"] or len(runs) > rounds:
                break
            status, failure = ("error", missing) if missing is not None else (run["status"], run["error"] or "")
            error = f"status: {status}\nerror: {failure}\n{run['output']}"
            cell, fixed = await asyncio.to_thread(
                structured,
                client,
                calls,
                "debug.fix",
                FreeCell,
                "debug",
                what="cell (JSON with 'code')",
                plan=plan,
                code=quote_data(code, source="cell code", limit=6000),
                error=quote_data(error, source="cell output", limit=3000),
            )
            debug.append(fixed)
        append(path, {"key": record["key"], "free_cell": first, "debug": debug, "runs": runs, "rounds": rounds})
        statuses = [r["status"] for r in runs]
        print(record["key"], first["ok"], statuses, flush=True)


def _verdicts(record: dict[str, Any], results: ResultsDocument) -> str:
    """The computed verdicts of the question's first plan over ``results``, as the analysis node quotes them."""
    plan = record.get("plan") or {}
    try:
        hypotheses = [Hypothesis.model_validate(h) for h in plan.get("hypotheses", [])]
    except ValidationError:
        hypotheses = []
    experiment = ExperimentRecord(tool=str(plan.get("recipe") or "free"), hypotheses=hypotheses)
    return verdict_lines(evaluate_hypotheses(results, experiment))


def analysis_calls(client: OpenAIClient, calls: list[LLMCall], out: Path, results: Path) -> None:
    """The analysis call for each question's first plan over one real ``results.json`` (a synthetic w2s run): the
    verdicts its hypotheses get there (computed, as in the loop) and the metrics. A question whose plan tests other
    metrics gets "not measured" verdicts: the call must still make claims that name evidence."""
    path = out / "analysis.jsonl"
    seen = done_keys(path)
    document = read_results(results)
    metrics = metric_summary(document)
    quoted = quote_data(json.dumps(metrics, indent=1), source="results.json")
    for line in (out / "plans.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["key"] in seen or record.get("plan") is None:
            continue
        analysis, result = structured(
            client,
            calls,
            "analyse_results.analysis",
            Analysis,
            "analyse_results",
            question=record["question"],
            verdicts=quote_data(_verdicts(record, document), source="computed verdicts"),
            metrics=quoted,
        )
        claims = list(analysis.claims) if isinstance(analysis, Analysis) else []
        hypothesis_ids = {h.get("id") for h in (record["plan"].get("hypotheses") or [])}
        grounded = sum(all(a in metrics or a in hypothesis_ids for a in c.about) for c in claims)
        append(
            path,
            {
                "key": record["key"],
                "analysis": result,
                "claims": len(claims),
                "grounded_claims": grounded,
                "about": [c.about for c in claims],
            },
        )
        print(record["key"], result["ok"], f"{result['seconds']:.0f}s", flush=True)


def labelled_plan(question: str, tool: str) -> ExperimentPlan:
    """The plan a review call sees for a labelled question: its labelled tool, the tool's default config, and one
    pre-registered hypothesis predicted to increase: on ``pgr`` where the card has it (the weak-to-strong tools,
    whose results the review phase reads), else the card's first comparison, else its first metric.

    Written by code, not the model, so the review calls get the same plan on both profiles and cost no plan call."""
    spec = default_registry().get(tool)
    card = spec.card
    target = "pgr"
    if card is not None:
        names = [m.name for m in card.metrics]
        if "pgr" in names:
            target = "pgr"
        else:
            target = card.comparisons[0].name if card.comparisons else names[0].replace("{layer}", "8")
    hypothesis = Hypothesis(
        id="H1", statement=f"The effect the question asks about shows in {target}.", metric=target, predicted="increase"
    )
    return ExperimentPlan(
        title=question[:200],
        hypothesis=f"The effect the question asks about shows in {target}.",
        method=(card.method if card is not None else spec.summary)[:1500],
        recipe=tool,
        config={},
        hypotheses=[hypothesis],
        seeds=[0, 1, 2],
    )


def _review_inputs(results: Path, limit: int, part: tuple[int, int]) -> tuple[list[Any], str, str]:
    """(key, question, plan, quoted verdicts) per testable question, the quoted metrics and placeholder guide."""
    from assistant.graph.nodes.report import METRICS_FIGURE

    document = read_results(results)
    metrics = metric_summary(document)
    quoted = quote_data(json.dumps(metrics, indent=1), source="results.json")
    drawn = [METRICS_FIGURE] if any(metric.has_ci for metric in document.metrics.values()) else []
    guide = quote_data(placeholder_guide(document, [], drawn), source="results.json")
    questions = []
    for key, question, labels in labelled_questions(limit, part):
        if labels:
            plan = labelled_plan(question, labels[0])
            experiment = ExperimentRecord(tool=plan.recipe, hypotheses=plan.hypotheses)
            verdicts = quote_data(verdict_lines(evaluate_hypotheses(document, experiment)), source="computed verdicts")
            questions.append((key, question, plan, verdicts))
    return questions, quoted, guide


def critique_calls(
    client: OpenAIClient, calls: list[LLMCall], out: Path, results: Path, limit: int, part: tuple[int, int] = (0, 1)
) -> None:
    """The critique (``critique.review``, ``Critique``) for each testable labelled question, as the node asks it
    once results exist: the plan ``labelled_plan`` writes, the verdicts computed for it over one real
    ``results.json``, and its metrics (``review_critique.jsonl``)."""
    from assistant.schemas import Critique

    questions, quoted, _ = _review_inputs(results, limit, part)
    path = out / "review_critique.jsonl"
    seen = done_keys(path)
    for key, question, plan, verdicts in questions:
        if key in seen:
            continue
        review, critique = structured(
            client,
            calls,
            "critique.review",
            Critique,
            "critique",
            question=question,
            plan=plan.model_dump_json(indent=1),
            verdicts=verdicts,
            metrics=quoted,
        )
        said = review.tests_question if isinstance(review, Critique) else None
        append(path, {"key": key, "tool": plan.recipe, "critique": critique, "tests_question": said})
        print(key, "critique", critique["ok"], f"{critique['seconds']:.0f}s", flush=True)


def review_calls(
    client: OpenAIClient, calls: list[LLMCall], out: Path, results: Path, limit: int, part: tuple[int, int] = (0, 1)
) -> None:
    """For each testable labelled question, the analysis (``Analysis``) and then the model's report draft
    (``write_report.draft``, ``ReportDraft``, given that analysis), as their nodes make them, over one real
    ``results.json`` with the verdicts computed for the question's plan (``labelled_plan``): a plan whose tool is
    not the results' own gets "not measured" verdicts, as in the analysis phase, and the calls must still stay in
    their schema. Written to ``review_analysis.jsonl`` and ``review_draft.jsonl``; an interrupted phase resumes."""
    from assistant.graph.nodes.report import REQUIRED_SECTIONS
    from assistant.report.model import ReportDraft

    questions, quoted, guide = _review_inputs(results, limit, part)
    path = out / "review_analysis.jsonl"
    analyses = _records(path)
    drafts_path = out / "review_draft.jsonl"
    drafted = done_keys(drafts_path)
    for key, question, plan, verdicts in questions:
        if key not in analyses:
            analysis, analysed = structured(
                client,
                calls,
                "analyse_results.analysis",
                Analysis,
                "analyse_results",
                question=question,
                verdicts=verdicts,
                metrics=quoted,
            )
            made = analysis.model_dump(mode="json") if isinstance(analysis, Analysis) else None
            analyses[key] = {"key": key, "question": question, "tool": plan.recipe, "analysis": analysed, "made": made}
            append(path, analyses[key])
            print(key, "analysis", analysed["ok"], f"{analysed['seconds']:.0f}s", flush=True)
        if key in drafted or analyses[key]["made"] is None:
            continue  # the loop writes no report without an analysis
        draft, record = structured(
            client,
            calls,
            "write_report.draft",
            ReportDraft,
            "write_report",
            question=question,
            plan=plan.model_dump_json(indent=1),
            verdicts=verdicts,
            analysis=quote_data(json.dumps(analyses[key]["made"], indent=1), source="analyse_results"),
            placeholders=guide,
        )
        made = draft.model_dump(mode="json") if isinstance(draft, ReportDraft) else None
        filled = [name for name, value in (made or {}).items() if isinstance(value, str) and value.strip()]
        append(
            drafts_path,
            {
                "key": key,
                "question": question,
                "tool": plan.recipe,
                "draft": record,
                "draft_made": made,
                "draft_filled": filled,
                "draft_required_filled": made is not None and all(s in filled for s in REQUIRED_SECTIONS),
            },
        )
        print(key, "draft", record["ok"], f"{record['seconds']:.0f}s", flush=True)


def scope_note_calls(
    client: OpenAIClient, calls: list[LLMCall], out: Path, count: int, part: tuple[int, int] = (0, 1)
) -> None:
    """The scope note (``answer_out_of_scope.note``, ``ScopeNote``) as the node asks it when no tool fits: every
    out-of-scope labelled question (dev, held out, both fresh sets), then testable ones (the node also runs when the
    model refuses a testable question) up to ``count`` in all, with the shortlist's closest tools and an empty
    library (no passages, as on a workspace with no papers)."""
    from assistant.schemas import ScopeNote
    from bench.research_quality import FRESH_SET, NEW_SET

    path = out / "scope.jsonl"
    seen = done_keys(path)
    found: list[tuple[str, str, list[str]]] = []
    for prefix, source in (("d", DEV_SET), ("h", HELD_OUT_SET), ("f", FRESH_SET), ("n", NEW_SET)):
        items = json.loads(source.read_text())["questions"]
        found += [(f"{prefix}{i:02d}", str(q["question"]), list(q["tools"])) for i, q in enumerate(items)]
    ordered = ([q for q in found if not q[2]] + [q for q in found if q[2]])[:count]
    k, n = part
    ranker = ToolRanker(default_registry().cards())
    registry = default_registry()
    for key, question, labels in ordered[k::n]:
        if key in seen:
            continue
        lines = []
        for score in ranker.rank(question).scores:
            card = registry.get(score.name).card
            lines.append(f"- {score.name}: {card.family if card else ''}")
        note, record = structured(
            client,
            calls,
            "answer_out_of_scope.note",
            ScopeNote,
            "answer_out_of_scope",
            question=question,
            tools="\n".join(lines) or "(none)",
            evidence=NO_EVIDENCE,
        )
        answered = len(note.answer) if isinstance(note, ScopeNote) else None  # statements (no passages to cite)
        append(
            path, {"key": key, "question": question, "accept": labels or ["none"], "note": record, "answer": answered}
        )
        print(key, "scope note", record["ok"], f"{record['seconds']:.0f}s", flush=True)
