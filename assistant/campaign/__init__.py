"""Overnight campaigns: a queue of research-loop runs that survives crashes and leaves a morning summary.

Covers the campaign file (``spec``), the persistent SQLite queue (``queue``), the runner with retries,
heartbeats, budgets and a clean SIGTERM stop (``runner``), cron schedules (``schedule``) and the summary
(``summary``). Does not cover the research loop itself (``assistant.graph``) and never approves a change
review: only plan approvals are answered, by the campaign's policy.
"""

from assistant.campaign.queue import CampaignQueue, EntryRecord, EntryStatus
from assistant.campaign.spec import ApprovalPolicy, CampaignBudgets, CampaignEntry, CampaignSpec, load_campaign

__all__ = [
    "ApprovalPolicy",
    "CampaignBudgets",
    "CampaignEntry",
    "CampaignQueue",
    "CampaignSpec",
    "EntryRecord",
    "EntryStatus",
    "load_campaign",
]
