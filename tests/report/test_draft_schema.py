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
    assert "each claim is checked against them and dropped if they" in schema["description"]
    for field in ("rationale", "limitations", "next_steps"):
        assert schema["properties"][field]["description"].endswith("Numbers only through placeholders.")
    # what code writes is not the model's to fill
    assert set(schema["properties"]) == {"claims", "rationale", "limitations", "next_steps", "cited_keys"}
    claim = schema["$defs"]["Claim"]
    assert claim["required"] == ["statement", "about"]
    assert claim["properties"]["stance"]["enum"] == ["supports", "refutes", "inconclusive", "describes"]
    assert claim["properties"]["direction"]["anyOf"][0]["enum"] == ["higher", "lower"]
    assert claim["properties"]["about"]["minItems"] == 1


def test_structured_answer_validates_and_rejects_extras() -> None:
    answer = (
        '{"claims": [{"statement": "PGR {{ metric:xent.pgr }} is positive.", "about": ["H1"], "stance": "supports"}],'
        ' "rationale": "Same seeds for both losses.", "cited_keys": ["p#c1"]}'
    )
    draft = ReportDraft.model_validate_json(answer)
    assert draft.claims[0].about == ["H1"]
    assert (draft.claims[0].stance, draft.claims[0].direction) == ("supports", None)
    assert draft.rationale == "Same seeds for both losses."

    # the model may not write the summary, a verdict, or a claim that rests on nothing
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ReportDraft.model_validate_json('{"summary": "x"}')
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ReportDraft.model_validate_json('{"claims": [{"statement": "x", "about": ["H1"], "verdict": "supported"}]}')
    with pytest.raises(ValidationError, match="List should have at least 1 item"):
        ReportDraft.model_validate_json('{"claims": [{"statement": "x", "about": []}]}')
    with pytest.raises(ValidationError, match="Input should be 'supports', 'refutes', 'inconclusive' or 'describes'"):
        ReportDraft.model_validate_json('{"claims": [{"statement": "x", "about": ["H1"], "stance": "proves"}]}')


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
