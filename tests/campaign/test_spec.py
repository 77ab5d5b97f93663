"""Campaign files: valid ones load; bad ones name the file, line and key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from assistant.campaign.spec import CampaignFileError, load_campaign
from assistant.tomlfile import key_lines

NOW = datetime(2026, 11, 24, 22, 0).astimezone()


def test_valid_file_loads_with_next_morning_deadline(campaign_file: Callable[..., Path]) -> None:
    path = campaign_file(3, extra='deadline = "07:00"\n[policy]\nallowed_recipes = ["w2s"]\n[budgets]\ntokens = 1000')
    spec = load_campaign(path, now=NOW)
    assert [e.id for e in spec.entries] == ["e0", "e1", "e2"]
    assert spec.deadline == (NOW + timedelta(days=1)).replace(hour=7, minute=0)
    assert spec.policy.allows("w2s") == (True, "allowed by policy")
    assert spec.policy.allows("probes")[0] is False
    assert spec.budgets.tokens == 1000


def test_until_overrides_deadline(campaign_file: Callable[..., Path]) -> None:
    spec = load_campaign(campaign_file(1, extra='deadline = "07:00"'), now=NOW, until="23:30")
    assert spec.deadline is not None
    assert (spec.deadline.hour, spec.deadline.minute, spec.deadline.day) == (23, 30, NOW.day)


def test_unknown_key_in_third_entry_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        'name = "x"\n\n[[entries]]\nid = "a"\nquestion = "q"\n\n[[entries]]\nid = "b"\nquestion = "q"\n\n'
        '[[entries]]\nid = "c"\nrecipe = "w2s"\nconfg = {seeds = 3}\n',
        encoding="utf-8",
    )
    with pytest.raises(CampaignFileError) as err:
        load_campaign(path, now=NOW)
    assert f"unknown setting 'entries.2.confg' ({path}:14)" in str(err.value)


def test_malformed_toml_names_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('name = "x"\n[[entries]\nid = 1\n', encoding="utf-8")
    with pytest.raises(CampaignFileError, match=r"not valid TOML: .*line 2"):
        load_campaign(path, now=NOW)


def test_deadline_in_the_past_is_refused(campaign_file: Callable[..., Path]) -> None:
    path = campaign_file(1, extra='deadline = "2026-11-24T21:00:00+00:00"')
    with pytest.raises(CampaignFileError, match="is in the past"):
        load_campaign(path, now=datetime(2026, 11, 24, 22, 0).astimezone())


def test_zero_budget_is_refused_with_key_and_line(campaign_file: Callable[..., Path]) -> None:
    path = campaign_file(1, extra="[budgets]\ntokens = 0")
    with pytest.raises(CampaignFileError) as err:
        load_campaign(path, now=NOW)
    assert f"'budgets.tokens' ({path}:5): Input should be greater than 0" in str(err.value)


def test_entry_needs_exactly_one_kind(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('name = "x"\n[[entries]]\nid = "a"\nquestion = "q"\nrecipe = "w2s"\n', encoding="utf-8")
    with pytest.raises(CampaignFileError, match="exactly one of 'question' or 'recipe'"):
        load_campaign(path, now=NOW)


def test_duplicate_ids_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('name = "x"\n[[entries]]\nid = "a"\nquestion = "q"\n[[entries]]\nid = "a"\nquestion = "r"\n')
    with pytest.raises(CampaignFileError, match="entry id 'a' appears twice"):
        load_campaign(path, now=NOW)
    with pytest.raises(CampaignFileError, match="does not exist"):
        load_campaign(tmp_path / "missing.toml", now=NOW)


def test_key_lines_index_arrays_of_tables() -> None:
    text = 'a = 1\n[t]\nb = 2\n[[e]]\nc = 3\n[[e]]\nc = 4\n[t.u]\n"q k" = 5\n'
    assert key_lines(text) == {
        ("a",): 1, ("t",): 2, ("t", "b"): 3, ("e", 0): 4, ("e", 0, "c"): 5, ("e", 1): 6, ("e", 1, "c"): 7,
        ("t", "u"): 8, ("t", "u", "q k"): 9,
    }  # fmt: skip
