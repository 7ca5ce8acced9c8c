"""CSV that a spreadsheet opens as data, never as formulas (OWASP's CSV-injection rule).

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
Excel, LibreOffice and Google Sheets as a formula (``=HYPERLINK(...)``, ``@SUM(...)``, DDE
payloads); such a cell gets a leading single quote, which spreadsheets show as text and do not
evaluate. Rows end in CRLF (RFC 4180), so Python's writer quotes every cell holding a CR or an
LF: a bare CR in a label can no longer split a row. Numbers the service computed are written
as numbers (a negative figure stays a number).

References
----------
OWASP, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

__all__ = ["FORMULA_STARTS", "csv_text", "safe_cell"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value`` as a spreadsheet must read it: text that would start a formula is quoted.

    >>> safe_cell('=HYPERLINK("http://x","y")')
    '\\'=HYPERLINK("http://x","y")'
    >>> safe_cell(-3.5), safe_cell("Trainers")
    (-3.5, 'Trainers')
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """The rows as CSV text: every cell through :func:`safe_cell`, CRLF line ends, a cell
    with a delimiter, a quote, a CR or an LF quoted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()
