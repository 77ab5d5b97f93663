"""Write-ups whose every number and citation is checked against the run.

The research loop calls ``build_report(run_dir, draft, resolver)`` with a model-written ``ReportDraft``
(prose with ``{{ metric:... }}``/``{{ table:... }}``/``{{ figure:... }}``/``{{ cite:... }}`` placeholders),
then ``write_report(run_dir, report)``. ``check_report`` re-checks a report against the run at any time.
See docs/report.md.
"""

from assistant.report.build import ReportPaths, build_report, load_report, write_report
from assistant.report.check import check_report
from assistant.report.citations import CitationResolver
from assistant.report.errors import ReportError, ResultsFileError
from assistant.report.guide import placeholder_guide
from assistant.report.model import (
    CheckedClaim,
    CheckResult,
    ExperimentRecord,
    FigureRef,
    HypothesisResult,
    Offender,
    Provenance,
    Reference,
    Report,
    ReportDraft,
)
from assistant.report.render_html import render_html
from assistant.report.render_md import render_markdown
from assistant.report.results import Metric, ResultsDocument, Table, load_results

__all__ = [
    "CheckResult",
    "CheckedClaim",
    "CitationResolver",
    "ExperimentRecord",
    "FigureRef",
    "HypothesisResult",
    "Metric",
    "Offender",
    "Provenance",
    "Reference",
    "Report",
    "ReportDraft",
    "ReportError",
    "ReportPaths",
    "ResultsDocument",
    "ResultsFileError",
    "Table",
    "build_report",
    "check_report",
    "load_report",
    "load_results",
    "placeholder_guide",
    "render_html",
    "render_markdown",
    "write_report",
]
