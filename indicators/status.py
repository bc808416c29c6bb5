"""The closed set of statuses a figure can have, including "could not tell"."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["OFF_TRACK", "Status"]


class Status(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    INCOMPLETE = "incomplete"  # fewer than three months loaded
    NOT_EVALUATED = "not_evaluated"  # no target, no plan in force, or nothing to compare with
    WITHHELD = "withheld"  # the data failed its checks


OFF_TRACK = frozenset({Status.AMBER, Status.RED})
