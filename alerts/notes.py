"""Data notes for officers: what is missing or doubtful, one line per source, in plain words.

Pure. The run gathers notes as it finds them (assess.py): a source's standing note (EXAMPLE
data), a period withheld by its checks, a release overdue, a figure that looks doubtful, a
month not yet published. A digest merges them per source and keeps those about the
recipient's areas; detail for operators (row counts outside the force, check ids) goes to the
log and ``safer status`` instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from safer.alerts.words import capital, join

__all__ = ["DataNote", "NoteKind", "merge_notes"]

NoteKind = Literal["about", "withheld", "missing", "doubtful", "unpublished", "unchecked"]


@dataclass(frozen=True)
class DataNote:
    source: str
    """The source in an officer's words ("DEFRA fly-tipping release"); "" for every source."""
    kind: NoteKind
    text: str
    """The note without the source: "EXAMPLE returns with invented figures", or for
    ``missing``, ``unpublished`` and ``withheld`` the period it is about ("2022/23")."""
    detail: str = ""
    """Why, for ``withheld`` ("the Nov 2025 file failed its data checks"); when it was due,
    for ``missing`` ("25 Jan 2024")."""
    area: str | None = None
    """The area code it is about, when only one area (a partnership's missing return)."""
    source_id: str = ""
    """The source's id, for a standing note: the figures it gives are marked with it."""


def merge_notes(notes: Iterable[DataNote], wanted: Iterable[str] | None = None) -> tuple[str, ...]:
    """One sentence per source and kind, in a steady order: standing notes first (they say how
    to read everything else), then what is withheld, missing, doubtful, not yet published.

    ``wanted``: the recipient's area codes (None for every area); a note about one area is kept
    only for a recipient of that area.
    """
    areas = None if wanted is None else set(wanted)
    kept = [n for n in dict.fromkeys(notes) if n.area is None or areas is None or n.area in areas]
    lines = _about([n for n in kept if n.kind == "about"])
    for kind in ("withheld", "missing", "doubtful", "unpublished", "unchecked"):
        grouped: dict[str, list[DataNote]] = defaultdict(list)
        for note in kept:
            if note.kind == kind:
                grouped[note.source].append(note)
        lines += [_sentence(kind, source, group) for source, group in grouped.items()]
    return tuple(lines)


def _about(notes: Sequence[DataNote]) -> list[str]:
    """Sources sharing the same standing note are named together."""
    by_text: dict[str, list[str]] = defaultdict(list)
    for note in notes:
        by_text[note.text].append(note.source)
    return [f"{_cap(join(sources))}: {text.rstrip('.')}." for text, sources in by_text.items()]


def _sentence(kind: str, source: str, notes: Sequence[DataNote]) -> str:
    periods = join(list(dict.fromkeys(n.text for n in notes)))
    details = "; ".join(dict.fromkeys(n.detail for n in notes if n.detail))
    why = f" ({details})" if details else ""
    head = f"{_cap(source)}: " if source else ""
    if kind == "withheld":
        return f"{head}figures for {periods} are withheld until the data is fixed{why}."
    if kind == "missing":
        dues = join(list(dict.fromkeys(n.detail for n in notes if n.detail)))
        waits = any(n.area is not None for n in notes)
        tail = "; the force's figure waits for it" if waits else ""
        return f"{head}{periods} overdue{f' (due by {dues})' if dues else ''}{tail}."
    if kind == "unpublished":
        return f"{head}{periods} not yet published."
    text = "; ".join(dict.fromkeys(n.text for n in notes))
    return f"{head}{text}." if head else f"{_cap(text)}."


def _cap(text: str) -> str:
    return capital(text)
