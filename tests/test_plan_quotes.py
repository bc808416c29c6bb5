"""The plans' quotations are evidence: each verbatim one occurs in the bundled text it cites,
each names its document (title, date, URL), and a paraphrase is never printed in quotation
marks.

A quotation is compared with its seed text after the same normalisation of both, and nothing
else: HTML tags left by the PDF extraction are removed (``20<sup>th</sup>`` reads ``20th``);
typographic quotation marks and apostrophes become ASCII ones (‘ ’ as ', “ ” as "); en and em
dashes and the minus sign become a hyphen; every run of whitespace, line breaks included,
becomes one space. Case, spelling and punctuation must match, and a quotation is one unbroken
passage (no ellipsis skipping words).

The seed texts are the documents officers work from, in ``../shared/seeds`` beside the
repository (``SAFER_SEEDS`` names another folder).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest

from safer.indicators.definitions import Plan, Quotation, load_catalogue, load_plans
from safer.kernel.errors import ConfigError
from tests.conftest import ROOT

SEEDS = Path(os.environ.get("SAFER_SEEDS", ROOT.parent / "shared" / "seeds"))
PLANS_DIR = ROOT / "indicators" / "plans"
DOUBLE_QUOTES = ('"', "\u201c", "\u201d", "\u201e", "\u00ab", "\u00bb")

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_SAME = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
    | {dash: "-" for dash in ("\u2013", "\u2014", "\u2212")}
)


def normalise(text: str) -> str:
    """The text with the differences listed in the module docstring removed."""
    return _SPACE.sub(" ", _TAG.sub("", text).translate(_SAME)).strip()


def _plans() -> tuple[Plan, ...]:
    return load_plans(PLANS_DIR, load_catalogue())


def _not_found(plan: Plan, quotations: Iterable[tuple[str, Quotation]], seeds: Path) -> list[str]:
    """Each verbatim quotation of a bundled document that its seed text does not contain."""
    missing = []
    for key, quotation in quotations:
        seed = plan.document(quotation.document).seed
        if quotation.verbatim and seed is not None:
            text = normalise((seeds / seed).read_text(encoding="utf-8"))
            if normalise(quotation.text) not in text:
                missing.append(f"{plan.id} {key}: not in {seed}: {quotation.text!r}")
    return missing


def _bundled(plan: Plan) -> list[tuple[str, Quotation]]:
    return [
        (key, q)
        for key, q in plan.quotations()
        if q.verbatim and plan.document(q.document).seed is not None
    ]


@pytest.fixture
def seeds() -> Path:
    if not SEEDS.is_dir():
        # The seed texts live beside the repository (../shared/seeds), not in the wheel: a
        # checkout without them skips, CI (which has them) fails instead.
        reason = f"{SEEDS}: the bundled seed texts are not here"
        if os.environ.get("SAFER_REQUIRE_SEEDS") == "1":
            pytest.fail(f"{reason} (SAFER_REQUIRE_SEEDS=1)")
        pytest.skip(reason)
    return SEEDS


def test_it_finds_every_verbatim_quotation_in_the_seed_text_it_cites(seeds: Path) -> None:
    for plan in _plans():
        for document in plan.documents:
            assert document.seed is None or (seeds / document.seed).is_file(), document
        assert _bundled(plan), f"{plan.id}: quotes nothing from a bundled document"
        assert _not_found(plan, plan.quotations(), seeds) == []


def test_it_fails_when_a_quotation_is_edited_so_it_no_longer_occurs(seeds: Path) -> None:
    for plan in _plans():
        key, quotation = _bundled(plan)[0]
        for edited in (
            quotation.text + " (edited)",
            quotation.text.replace(" ", "  ").replace("e", "E", 1),
            quotation.text[:-1] + "?",
        ):
            changed = quotation.model_copy(update={"text": edited})
            assert _not_found(plan, [(key, changed)], seeds) == [
                f"{plan.id} {key}: not in {plan.document(quotation.document).seed}: {edited!r}"
            ]


def test_normalisation_forgives_only_layout_typography_and_extraction_tags() -> None:
    assert normalise("launched on\n 20<sup>th</sup>  January") == "launched on 20th January"
    assert normalise("The priorities \u2013 which \u2018you\u2019ve\u2019 told") == (
        "The priorities - which 'you've' told"
    )
    assert normalise("\u201cReduce crime\u201d") == '"Reduce crime"'
    assert normalise("Reduce Crime") != normalise("Reduce crime")
    assert normalise("tackle early.") != normalise("tackle early")


def test_every_quotation_names_its_document_with_title_date_and_url() -> None:
    for plan in _plans():
        for key, quotation in plan.quotations():
            document = plan.document(quotation.document)
            assert document.title.strip(), f"{plan.id} {key}: a titled document"
            assert re.fullmatch(r"\d{4}(-\d\d){0,2}", document.date), f"{plan.id} {key}"
            assert document.url.startswith(("https://", "http://")), f"{plan.id} {key}"


def test_a_verbatim_quotation_is_printed_in_quotation_marks_and_a_paraphrase_without() -> None:
    paraphrases = 0
    for plan in _plans():
        for key, quotation in plan.quotations():
            printed = plan.cite(quotation)
            document = plan.document(quotation.document)
            assert document.title in printed, f"{plan.id} {key}: the source is named"
            if quotation.verbatim:
                assert printed.startswith(f"\u201c{quotation.text}\u201d ("), printed
                continue
            paraphrases += 1
            assert not any(mark in printed for mark in DOUBLE_QUOTES), printed
            assert printed.startswith(f"{quotation.text} (paraphrase of {document.title}, ")
    assert paraphrases, "the bundled plans' paraphrase is printed as one"


def test_a_document_is_dated_as_precisely_as_it_dates_itself() -> None:
    plan = next(p for p in _plans() if p.id == "cheshire-pcp-2024-28")
    cited = [plan.cite(q) for _, q in plan.quotations()]
    assert any(c.endswith("Annual Report 2023 - 2024, November 2024)") for c in cited)
    assert any(c.endswith("Warrington Worldwide, 12 December 2024)") for c in cited)


def test_the_plans_own_words_are_in_quotations_not_in_source_text() -> None:
    for plan in _plans():
        for _, target in plan.targets():
            assert not any(mark in target.source_text for mark in DOUBLE_QUOTES), (
                f"{plan.id} {target.indicator}: quote the plan in quotes, not in source_text"
            )
        for key, quotation in plan.quotations():
            # The renderer adds the marks: words that bring their own would print doubled.
            assert not quotation.text.startswith(DOUBLE_QUOTES), f"{plan.id} {key}"
            if not quotation.verbatim:
                assert not any(mark in quotation.text for mark in DOUBLE_QUOTES), key


def test_the_2024_28_plan_says_what_was_published_as_of_each_date_it_relies_on() -> None:
    plan = next(p for p in _plans() if p.id == "cheshire-pcp-2024-28")
    relied_on = {
        plan.document(q.document).date
        for key, q in plan.quotations()
        if key == "quote" or key.endswith(".quote")
    }
    stated = {status.as_of for status in plan.publication}
    assert relied_on <= stated, f"no publication status as of {sorted(relied_on - stated)}"
    assert plan.quote is not None and "Public Trust and Confidence" in plan.quote.text
    assert plan.cite(plan.quote) == (
        "\u201cthere is a core principle of Public Trust and Confidence with three pillars\u201d"
        " (Police & Crime Commissioner, report to the Safer Halton Policy and Performance Board,"
        " 4 February 2025)"
    )


def test_a_quotation_naming_an_unlisted_document_is_refused_with_its_key_path(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "plans"
    shutil.copytree(PLANS_DIR, folder)
    path = folder / "cheshire-2024-28.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("document: itv_999_target", "document: itv", 1), "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_plans(folder, load_catalogue())
    assert (
        f"{path}: priorities.0.targets.3.quotes.1.document: 'itv' is not in documents"
        in str(caught.value).splitlines()
    )
