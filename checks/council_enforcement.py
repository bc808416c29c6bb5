"""The suite for a council enforcement return (template ``council-enforcement-v1``).

One row per Community Safety Partnership, financial-year quarter and action type. Staged columns
keep the template's names and are all text, with a leading ``row`` (the spreadsheet row or CSV
line), so every failure names its row and column.
"""

from __future__ import annotations

__all__ = ["ACTION_TYPES", "ENFORCEMENT_COLUMNS", "TEMPLATE"]

TEMPLATE = "council-enforcement-v1"
ENFORCEMENT_COLUMNS = (
    "template_version",
    "csp_code",
    "csp_name",
    "financial_year",
    "quarter",
    "action_type",
    "count",
    "notes",
)
# The closed set of action types, each with what it counts (ASB, Crime and Policing Act 2014
# powers and the usual steps before them; environmental enforcement by the council).
ACTION_TYPES = (
    ("asb_warning_letter", "ASB warning letters (informal, before formal powers)"),
    ("community_protection_warning", "Community Protection Warnings (ASBCPA 2014 s.43)"),
    ("community_protection_notice", "Community Protection Notices (ASBCPA 2014 s.43)"),
    ("acceptable_behaviour_contract", "Acceptable Behaviour Contracts or Agreements"),
    ("civil_injunction", "Civil injunctions (ASBCPA 2014 Part 1)"),
    ("criminal_behaviour_order", "Criminal Behaviour Orders (ASBCPA 2014 Part 2)"),
    ("pspo_fixed_penalty_notice", "Fixed penalty notices for breaching a PSPO"),
    ("closure_order", "Closure orders (ASBCPA 2014 Part 4 Chapter 3)"),
    ("env_incidents_investigated", "Environmental incidents investigated (fly-tipping, litter)"),
    ("env_warning_letter", "Environmental enforcement warning letters"),
    ("env_interview_under_caution", "Interviews under caution for environmental offences"),
    ("env_fixed_penalty_notice", "Environmental fixed penalty notices (fly-tipping, litter)"),
)
