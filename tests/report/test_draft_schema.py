"""The draft the LLM fills: its JSON schema carries the placeholder rules; the guide lists valid placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest
from inline_snapshot import snapshot
from pydantic import ValidationError

from assistant.report import ReportDraft, load_results, placeholder_guide


def test_schema_tells_the_model_the_rules() -> None:
    schema = ReportDraft.model_json_schema()

    assert "Never type a number: write {{ metric:<name>.<field> }}" in schema["description"]
    assert schema["properties"]["summary"]["description"].endswith("Numbers only through placeholders.")
    assert schema["$defs"]["DraftClaim"]["properties"]["direction"]["enum"] == ["increase", "decrease"]


def test_structured_answer_validates_and_rejects_extras() -> None:
    answer = '{"summary": "PGR {{ metric:xent.pgr }}", "claims": [], "cited_keys": ["p#c1"]}'
    assert ReportDraft.model_validate_json(answer).summary == "PGR {{ metric:xent.pgr }}"

    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ReportDraft.model_validate_json('{"summary": "x", "verified": true}')


def test_placeholder_guide(run_dir: Path) -> None:
    guide = placeholder_guide(load_results(run_dir / "results.json"), ["arxiv:2312.09390#c7"], ["metrics_ci"])

    assert guide == snapshot("""\
Metrics (write the placeholder, never the number):
- {{ metric:weak.acc }} = 0.682; fields: {{ metric:weak.acc.value }}
- {{ metric:ceiling.acc }} = 0.861; fields: {{ metric:ceiling.acc.value }}
- {{ metric:xent.pgr }} = 0.278 (95% CI 0.223 to 0.333, n = 10); fields: {{ metric:xent.pgr.mean }}, {{ metric:xent.pgr.ci_low }}, {{ metric:xent.pgr.ci_high }}, {{ metric:xent.pgr.n }}, {{ metric:xent.pgr.ci }}
- {{ metric:aux_conf.pgr }} = 0.294 (95% CI 0.233 to 0.352, n = 10); fields: {{ metric:aux_conf.pgr.mean }}, {{ metric:aux_conf.pgr.ci_low }}, {{ metric:aux_conf.pgr.ci_high }}, {{ metric:aux_conf.pgr.n }}, {{ metric:aux_conf.pgr.ci }}
- {{ metric:aux_conf.pgr_gain }} = 0.016 (95% CI -0.002 to 0.033, n = 10); fields: {{ metric:aux_conf.pgr_gain.mean }}, {{ metric:aux_conf.pgr_gain.ci_low }}, {{ metric:aux_conf.pgr_gain.ci_high }}, {{ metric:aux_conf.pgr_gain.n }}, {{ metric:aux_conf.pgr_gain.ci }}
- {{ metric:agreement }} = NaN; fields: {{ metric:agreement.value }}
Tables: {{ table:by_loss }}
Figures: {{ figure:pgr_by_seed }}, {{ figure:metrics_ci }}
Citations: {{ cite:arxiv:2312.09390#c7 }}\
""")
