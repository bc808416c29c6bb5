"""The synthetic data.police.uk generator (bench/generate.py): layout, content and determinism."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from bench.generate import OUTCOMES_HEADER, STREET_HEADER, generate, main

ROOT = Path(__file__).resolve().parents[1]
MONTHS = ("2025-11", "2025-12")
FORCES = {"cheshire": "Cheshire Constabulary", "merseyside": "Merseyside Police"}
ASB = "Anti-social behaviour"
PENDING = {"Under investigation", "Status update unavailable"}
LSOA_NAME = re.compile(r"(.+) \d{3}[A-Z]")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _lookup() -> list[dict[str, str]]:
    with (ROOT / "pipelines/data/lad_csp_pfa_2017.csv").open(encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _forces_csv() -> list[dict[str, str]]:
    return _read(ROOT / "pipelines/data/police_forces.csv")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("police-uk")
    generate(folder, months=2, end="2025-12", forces=list(FORCES), seed=1)
    return folder


def _path(out: Path, month: str, force: str, kind: str) -> Path:
    return out / month / f"{month}-{force}-{kind}.csv"


def _street(out: Path, force: str) -> list[dict[str, str]]:
    return [row for month in MONTHS for row in _read(_path(out, month, force, "street"))]


def test_files_have_the_published_layout(out: Path) -> None:
    for month in MONTHS:
        for force in FORCES:
            for kind, header in (("street", STREET_HEADER), ("outcomes", OUTCOMES_HEADER)):
                data = _path(out, month, force, kind).read_bytes()
                assert data.split(b"\n", 1)[0] == header.encode()
                assert b"\r" not in data and not data.startswith(b"\xef\xbb\xbf")
                assert data.endswith(b"\n") and data.count(b"\n") > 100
    assert sorted(p.name for p in out.iterdir()) == list(MONTHS)


def test_street_rows_are_shaped_like_the_real_ones(out: Path) -> None:
    ids: list[str] = []
    for month in MONTHS:
        for force, name in FORCES.items():
            rows = _read(_path(out, month, force, "street"))
            assert {r["Month"] for r in rows} == {month}
            assert {(r["Reported by"], r["Falls within"]) for r in rows} == {(name, name)}
            assert {r["Context"] for r in rows} == {""}
            asb = [r for r in rows if r["Crime type"] == ASB]
            assert 0.05 < len(asb) / len(rows) < 0.25  # Cheshire's real months: 12.7%
            assert all(r["Crime ID"] == "" and r["Last outcome category"] == "" for r in asb)
            crimes = [r for r in rows if r["Crime type"] != ASB]
            assert all(re.fullmatch(r"[0-9a-f]{64}", r["Crime ID"]) for r in crimes)
            assert all(r["Last outcome category"] for r in crimes)
            assert all(
                r["Location"].startswith("On or near ") or r["Location"] == "No location"
                for r in rows
            )
            ids += [r["Crime ID"] for r in crimes]
    assert len(ids) == len(set(ids))


def test_lsoas_lie_in_the_force_except_a_few(out: Path) -> None:
    pfa_of_lad = {r["LAD17NM"].lower(): r["PFA17CD"] for r in _lookup()}
    pfa_of_force = {r["force_id"]: r["pfa_code"] for r in _forces_csv()}
    for force in FORCES:
        rows = _street(out, force)
        placed = [r for r in rows if r["Location"] != "No location"]
        unplaced = [r for r in rows if r["Location"] == "No location"]
        assert all(
            (r["Longitude"], r["Latitude"], r["LSOA code"], r["LSOA name"]) == ("",) * 4
            for r in unplaced
        )
        assert len(unplaced) < 0.005 * len(rows)
        lads = [LSOA_NAME.fullmatch(r["LSOA name"]) for r in placed]
        pfas = [pfa_of_lad[m.group(1).lower()] for m in lads if m is not None]
        assert len(pfas) == len(placed)  # every name is <lookup LAD name> <nnn><letter>
        outside = sum(pfa != pfa_of_force[force] for pfa in pfas)
        assert 0 < outside < 0.01 * len(rows)  # ~0.15%
        pairs = {(r["LSOA code"], r["LSOA name"]) for r in placed}
        assert len({c for c, _ in pairs}) == len({n for _, n in pairs}) == len(pairs)
        assert all(re.fullmatch(r"[EW]01\d{6}", c) for c, _ in pairs)
        assert all(49.8 < float(r["Latitude"]) < 55.9 for r in placed)
        assert all(-6.5 < float(r["Longitude"]) < 1.8 for r in placed)


def test_outcomes_use_known_labels_and_end_at_the_street_outcome(out: Path) -> None:
    known = {r["label"] for r in _read(ROOT / "indicators/data/outcome_groups.csv")}
    for force in FORCES:
        street = {r["Crime ID"]: r for r in _street(out, force) if r["Crime ID"]}
        last: dict[str, str] = {}
        for month in MONTHS:
            rows = _read(_path(out, month, force, "outcomes"))
            assert {r["Month"] for r in rows} == {month}
            assert {r["Outcome type"] for r in rows} <= known
            for row in rows:
                crime = street[row["Crime ID"]]  # only crimes of the window; never ASB
                assert crime["Month"] <= month
                assert row["LSOA name"] == crime["LSOA name"]
                last[row["Crime ID"]] = row["Outcome type"]
        assert len(last) > 0.5 * len(street)
        assert all(street[i]["Last outcome category"] == o for i, o in last.items())
        assert not any(street[i]["Last outcome category"] in PENDING for i in last)


def test_bigger_forces_get_more_rows(out: Path) -> None:
    population = Counter[str]()
    for row in _read(ROOT / "bench/data/lad_population.csv"):
        population[row["pfa_code"]] += int(row["population"])
    pfa_of_force = {r["force_id"]: r["pfa_code"] for r in _forces_csv()}
    rows = {force: len(_street(out, force)) for force in FORCES}
    expected = population[pfa_of_force["merseyside"]] / population[pfa_of_force["cheshire"]]
    assert rows["merseyside"] > rows["cheshire"]
    assert rows["merseyside"] / rows["cheshire"] == pytest.approx(expected, rel=0.1)
    assert 6_000 < rows["cheshire"] / len(MONTHS) < 8_500  # real mean: 7,120 a month


def test_same_seed_same_bytes(out: Path, tmp_path: Path) -> None:
    generate(tmp_path / "again", months=2, end="2025-12", forces=list(FORCES), seed=1)
    generate(tmp_path / "other", months=1, end="2025-12", forces=["cheshire"], seed=2)
    for path in sorted(out.rglob("*.csv")):
        again = tmp_path / "again" / path.relative_to(out)
        assert again.read_bytes() == path.read_bytes(), path.name
    other = tmp_path / "other" / "2025-12" / "2025-12-cheshire-street.csv"
    assert other.read_bytes() != _path(out, "2025-12", "cheshire", "street").read_bytes()


def test_cli_street_only_and_street_files_independent_of_the_window(
    out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--out", str(tmp_path), "--months", "1", "--forces", "cheshire", "--no-outcomes"]
    assert main(argv) == 0
    assert [p.name for p in tmp_path.rglob("*.csv")] == ["2025-12-cheshire-street.csv"]
    written = tmp_path / "2025-12" / "2025-12-cheshire-street.csv"
    assert written.read_bytes() == _path(out, "2025-12", "cheshire", "street").read_bytes()
    err = capsys.readouterr().err
    assert err.startswith("2025-12: 1 forces,") and "wrote 1 files" in err
    assert main(["--out", str(tmp_path), "--months", "1", "--forces", "atlantis"]) == 2


def test_police_forces_cover_every_lookup_force_once() -> None:
    forces = _forces_csv()
    lookup = {(r["PFA17CD"], r["PFA17NM"]) for r in _lookup()}
    assert len(forces) == len(lookup) == 43
    assert {(r["pfa_code"], r["pfa_name"]) for r in forces} == lookup
    assert len({r["force_id"] for r in forces}) == 43
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", r["force_id"]) for r in forces)
    by_id = {r["force_id"]: r for r in forces}
    assert by_id["cheshire"] == {
        "pfa_code": "E23000006",
        "pfa_name": "Cheshire",
        "force_id": "cheshire",
        "force_name": "Cheshire Constabulary",
    }
    assert by_id["metropolitan"]["force_name"] == "Metropolitan Police Service"
    assert by_id["city-of-london"]["pfa_name"] == "London, City of"
