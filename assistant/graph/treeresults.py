"""Results across the run's experiment tree: one merged results.json, verdicts per experiment, paired comparisons.

Every experiment writes its own results (``assistant.graph.tree``). Once a run has more than one experiment,
``merge_results`` writes the run's ``results.json`` as the main experiment's document with every other finished
experiment's metrics, tables and figures added under ``<id>/`` (``f1/accuracy``), and every experiment's host red
flags named by their experiment, so every number a report shows traces to the one file the report checks and no
follow-up's suspect result goes unflagged. The main experiment's own files are first kept under
``experiments/e1/`` (its pristine copy; merging again starts from it, so merging is idempotent). All host code:
these files are outside the kernel's directory.

``node_verdicts`` tests the pre-registered hypotheses on the main experiment and each follow-up that repeats it
(metric names prefixed); ``answers`` picks, for each hypothesis, the experiment whose result gives its verdict: the
first that settles it (supported or refuted), else the latest that tested it. ``comparisons`` sets each further
experiment of the plan (ablation, control, condition) against the main one on the hypotheses' metrics, paired by
seed (the seeds in both configs) or by item (same number of items), through ``assistant.report.stats.effect_of``.
Does not choose follow-ups (``assistant.graph.nodes.followup``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from assistant.cards import family_sizes, metric_pattern
from assistant.graph.tree import EXPERIMENTS_DIR, PRIMARY, ExperimentNode
from assistant.report.model import ExperimentRecord, HypothesisResult
from assistant.report.stats import Over, effect_of, evaluate_hypothesis
from assistant.report.tree import Comparison, ExperimentTreeReport, NodeVerdict, TreeNode
from tools.results import (
    MAX_FIGURES,
    MAX_METRICS,
    MAX_TABLES,
    Metric,
    RedFlag,
    ResultsDocument,
    Verification,
    read_config,
    read_results,
    write_document,
)
from tools.runfiles import RunFiles

PRISTINE = f"{EXPERIMENTS_DIR}/{PRIMARY}"
"""Where the main experiment's own results are kept once the run's results.json is merged."""


def _copy_pristine(run_dir: Path) -> None:
    with RunFiles(run_dir) as files:
        if files.kind(f"{PRISTINE}/results.json") == "file":
            return
        results = files.read_bytes("results.json")
        config = files.read_bytes("config.json") if files.kind("config.json") == "file" else b"{}"
    with RunFiles(run_dir).sub(PRISTINE, create=True) as target:
        target.write_bytes("config.json", config)
        target.write_bytes("results.json", results)


def results_dir(node: ExperimentNode) -> str:
    """Where ``node``'s own results are (the pristine copy for the main experiment once merged)."""
    return PRISTINE if node.id == PRIMARY else node.host_dir


def merge_results(run_dir: Path, nodes: list[ExperimentNode]) -> bool:
    """Write the run's merged results.json from every finished experiment; False (nothing written) when the run
    has a single experiment, whose results.json is already the run's.

    Raises:
        ResultsFileError: an experiment's results.json is missing or malformed (names the file).
    """
    if len(nodes) <= 1:
        return False
    _copy_pristine(run_dir)
    main = read_results(run_dir / PRISTINE / "results.json", below=run_dir)
    config = read_config(run_dir / PRISTINE / "config.json", below=run_dir)
    metrics, tables, figures = dict(main.metrics), dict(main.tables), dict(main.figures)
    checks: list[tuple[str, Verification | None]] = [(PRIMARY, main.verification)]
    dropped: list[str] = []
    for node in nodes:
        if node.id == PRIMARY or node.status != "done":
            continue
        doc = read_results(run_dir / node.host_dir / "results.json", below=run_dir)
        if len(metrics) + len(doc.metrics) > MAX_METRICS or len(tables) + len(doc.tables) > MAX_TABLES:
            dropped.append(node.id)
            continue
        metrics.update({node.prefix + name: metric for name, metric in doc.metrics.items()})
        tables.update({node.prefix + name: table for name, table in doc.tables.items()})
        if len(figures) + len(doc.figures) <= MAX_FIGURES:
            figures.update({node.prefix + name: f"{node.host_dir}/{path}" for name, path in doc.figures.items()})
        checks.append((node.id, doc.verification))
    provenance = dict(main.provenance)
    provenance["experiments"] = [n.id for n in nodes if n.status == "done" and n.id not in dropped]
    if dropped:
        provenance["experiments_left_out"] = dropped  # over the results file's limits
    merged = main.model_copy(
        update={
            "metrics": metrics,
            "tables": tables,
            "figures": figures,
            "provenance": provenance,
            "verification": _merged_verification(checks),
        }
    )
    write_document(run_dir, merged, config)
    return True


def _merged_verification(checks: list[tuple[str, Verification | None]]) -> Verification | None:
    """One verification for the merged document: every experiment's red flags, each named by its experiment, and
    ``experiment`` (self-reported) when any experiment's numbers were; None when no experiment recorded one."""
    known = [(node, v) for node, v in checks if v is not None]
    if not known:
        return None
    flags = [RedFlag(code=f.code, detail=f"{node}: {f.detail}") for node, v in known for f in v.red_flags]
    host = all(v.scored_by == "host" for _, v in known) and len(known) == len(checks)
    return Verification.host(flags) if host else Verification.self_reported(flags)


def _over(record: ExperimentRecord, metric: str) -> Over | None:
    return next((o for t, o in record.metric_over.items() if metric_pattern(t).fullmatch(metric)), None)


def node_verdicts(
    results: ResultsDocument, record: ExperimentRecord, nodes: list[ExperimentNode]
) -> dict[str, list[HypothesisResult]]:
    """For each finished main-line experiment, the hypotheses' verdicts on its (prefixed) metrics."""
    sizes = family_sizes(record.hypotheses)
    out: dict[str, list[HypothesisResult]] = {}
    for node in nodes:
        if not node.main_line or node.status != "done":
            continue
        tested = []
        for h in record.hypotheses:
            prefixed = h.model_copy(
                update={
                    "metric": node.prefix + h.metric,
                    "baseline": node.prefix + h.baseline if h.baseline else None,
                }
            )
            tested.append(evaluate_hypothesis(prefixed, results, over=_over(record, h.metric), family=sizes[h.id]))
        out[node.id] = tested
    return out


SETTLED = ("supported", "refuted")


class Answers(NamedTuple):
    """Each hypothesis's verdict in the report and the experiment it comes from."""

    verdicts: list[HypothesisResult]
    """One per hypothesis, in the plan's order."""
    answered_by: dict[str, str]
    """Hypothesis id -> experiment id."""


def answers(record: ExperimentRecord, per_node: dict[str, list[HypothesisResult]]) -> Answers:
    """For each hypothesis: the first experiment (in the order they ran) that settles it, else the latest one."""
    verdicts: list[HypothesisResult] = []
    answered_by: dict[str, str] = {}
    for k, h in enumerate(record.hypotheses):
        tried = [(node_id, results[k]) for node_id, results in per_node.items()]
        if not tried:
            continue
        node_id, result = next(((n, r) for n, r in tried if r.verdict in SETTLED), tried[-1])
        verdicts.append(result)
        answered_by[h.id] = node_id
    return Answers(verdicts, answered_by)


def open_hypotheses(found: Answers) -> list[str]:
    """Ids of the hypotheses no experiment has settled yet."""
    return [r.id for r in found.verdicts if r.verdict not in SETTLED]


def _aligned(
    a: Metric, b: Metric, a_seeds: list[Any] | None, b_seeds: list[Any] | None
) -> tuple[list[float], list[float], bool]:
    va, vb = list(a.values or []), list(b.values or [])
    if a_seeds and b_seeds and len(a_seeds) == len(va) and len(b_seeds) == len(vb):
        common = [s for s in a_seeds if s in b_seeds]
        if common:
            return [va[a_seeds.index(s)] for s in common], [vb[b_seeds.index(s)] for s in common], True
    return va, vb, len(va) == len(vb)


def compare(
    results: ResultsDocument,
    metric: str,
    first: ExperimentNode,
    second: ExperimentNode,
    *,
    seeds_field: str | None,
    over: Over | None,
) -> Comparison:
    """``metric`` of ``first`` minus the same metric of ``second``, paired by seed (or item) where both allow."""
    a, b = results.metrics.get(first.prefix + metric), results.metrics.get(second.prefix + metric)
    if a is None or b is None:
        missing = first.id if a is None else second.id
        return Comparison(
            metric=metric, experiment=first.id, baseline=second.id, method=f"{missing} has no metric {metric!r}"
        )
    seeds_a = first.config.get(seeds_field) if seeds_field else None
    seeds_b = second.config.get(seeds_field) if seeds_field else None
    va, vb, paired = _aligned(
        a, b, seeds_a if isinstance(seeds_a, list) else None, seeds_b if isinstance(seeds_b, list) else None
    )
    unit = a.over or over
    doc = ResultsDocument(
        metrics={"a": Metric(values=va or None, over=unit), "b": Metric(values=vb or None, over=unit)}
    )
    effect = effect_of(doc, "a", "b", over=unit)
    return Comparison(
        metric=metric,
        experiment=first.id,
        baseline=second.id,
        estimate=effect.estimate,
        ci_low=effect.ci_low,
        ci_high=effect.ci_high,
        n=effect.n,
        paired=paired and effect.usable and "unpaired" not in effect.method,
        method=effect.method,
    )


def comparisons(
    results: ResultsDocument, record: ExperimentRecord, nodes: list[ExperimentNode], seeds_field: str | None
) -> list[Comparison]:
    """Each finished further experiment of the plan against the main one, on the hypotheses' metrics (else on
    every metric with per-seed or per-item values both have)."""
    main = next((n for n in nodes if n.id == PRIMARY), None)
    if main is None:
        return []
    names = list(dict.fromkeys(m for h in record.hypotheses for m in (h.metric, h.baseline) if m))
    out = []
    for node in nodes:
        if node.main_line or node.status != "done":
            continue
        wanted = names or [
            name
            for name, metric in results.metrics.items()
            if "/" not in name and metric.values and node.prefix + name in results.metrics
        ]
        for name in wanted:
            out.append(compare(results, name, node, main, seeds_field=seeds_field, over=_over(record, name)))
    return out


def tree_report(
    nodes: list[ExperimentNode],
    per_node: dict[str, list[HypothesisResult]],
    found: Answers,
    compared: list[Comparison],
    stopped: str,
) -> ExperimentTreeReport:
    """The record ``report.json`` carries under ``tree``."""
    return ExperimentTreeReport(
        nodes=[
            TreeNode(
                id=n.id,
                parent=n.parent,
                depth=n.depth,
                name=n.name,
                role=n.role,
                kind=n.kind,
                reason=n.reason,
                status=n.status,
                config=n.config,
                results=f"{results_dir(n)}/results.json" if n.status == "done" else None,
                score=n.score,
                verdicts=[
                    NodeVerdict(
                        hypothesis=r.id,
                        metric=r.metric,
                        verdict=r.verdict,
                        estimate=r.estimate,
                        ci_low=r.ci_low,
                        ci_high=r.ci_high,
                        n=r.n,
                    )
                    for r in per_node.get(n.id, [])
                ],
            )
            for n in nodes
        ],
        followups=sum(1 for n in nodes if n.role == "follow_up" and n.status != "rejected"),
        answered_by=found.answered_by,
        comparisons=compared,
        stopped=stopped,
    )


class TreeView(NamedTuple):
    """The tree's results as the analysis, the follow-up search and the report read them."""

    nodes: list[ExperimentNode]
    """The experiments in creation order."""
    per_node: dict[str, list[HypothesisResult]]
    """Verdicts on each finished main-line experiment."""
    found: Answers
    """Each hypothesis's verdict and the experiment it comes from."""
    compared: list[Comparison]
    """Further experiments against the main one."""

    @property
    def several(self) -> bool:
        """True once the run has more than one experiment (the report then shows the tree)."""
        return len(self.nodes) > 1


def view(
    results: ResultsDocument, record: ExperimentRecord, nodes: list[ExperimentNode], seeds_field: str | None
) -> TreeView:
    """Verdicts per experiment, the answering experiment per hypothesis and the comparisons, from ``results``
    (the run's merged results.json)."""
    per_node = node_verdicts(results, record, nodes)
    return TreeView(nodes, per_node, answers(record, per_node), comparisons(results, record, nodes, seeds_field))
