"""The exchange's declarations behind the liability reserve: trading volumes and insurance policies.

`--volumes FILE` (JSON, docs/formats/volumes.schema.json): yen traded per calendar month (in
Japan) and per transaction category, the basis of the securities-style reserve.
`--insurance FILE` (CSV `insurer,policy_number,cover_jpy,valid_from,valid_until`): policies that
offset the reserve while in force on the snapshot date. Neither is on chain: por checks their
form and arithmetic, and the report shows them as declared. Amounts are exact Decimals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from por.errors import InputError
from por.reserves.custodians import parse_day
from por.strictjson import Fields, load_file
from por.text import csv_table

MAX_VOLUMES_BYTES = 4 * 1024 * 1024
MAX_INSURANCE_BYTES = 1024 * 1024
INSURANCE_COLUMNS = ["insurer", "policy_number", "cover_jpy", "valid_from", "valid_until"]
_MONTH_RE = re.compile(r"(\d{4})-(0[1-9]|1[0-2])\Z")
_CATEGORY_RE = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")
_YEN_RE = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,12})?\Z")


@dataclass(frozen=True)
class Volumes:
    source: str
    exchange: str | None
    months: dict[str, dict[str, Decimal]]  # "YYYY-MM" -> category -> yen traded that month


@dataclass(frozen=True)
class InsurancePolicy:
    insurer: str
    policy_number: str
    cover_jpy: Decimal
    valid_from: date | None  # None: declared on the command line (--insurance-jpy), no period to check
    valid_until: date | None
    where: str

    def in_force(self, day: date) -> bool:
        if self.valid_from is None or self.valid_until is None:
            return True
        return self.valid_from <= day <= self.valid_until

    def label(self) -> str:
        if self.valid_from is None:
            return f"declared insurance of JPY {self.cover_jpy:,} ({self.where})"
        return f"{self.insurer} policy {self.policy_number}, {self.valid_from} to {self.valid_until} ({self.where})"


@dataclass(frozen=True)
class Insurance:
    source: str
    policies: tuple[InsurancePolicy, ...]


def yen(text: object, source: str | None, field: str, line: int | None = None) -> Decimal:
    """A non-negative yen amount: an integer, or a plain decimal string (no sign, exponent or separator)."""
    if isinstance(text, int) and not isinstance(text, bool) and 0 <= text < 10**20:
        return Decimal(text)
    if not isinstance(text, str) or not _YEN_RE.match(text):
        raise InputError(
            f'{str(text)[:40]!r} is not a plain non-negative yen amount (e.g. "1234567" or "1234.5")',
            file=source,
            line=line,
            field=field,
        )
    return Decimal(text)


def load_volumes(path: str | Path) -> Volumes:
    source = str(path)
    f = Fields(load_file(path, MAX_VOLUMES_BYTES, " for trading volumes"), source)
    f.only("format", "version", "exchange", "currency", "months")
    if f.str("format", optional=True) not in (None, "por-volumes"):
        raise f.error("format", 'must be "por-volumes"')
    if f.get("version", int, optional=True) not in (None, 1):
        raise f.error("version", "must be 1")
    if f.str("currency", optional=True) not in (None, "JPY"):
        raise f.error("currency", 'volumes are in yen: must be "JPY"')
    exchange = f.str("exchange", optional=True, max_len=200)
    months: dict[str, dict[str, Decimal]] = {}
    for i, item in enumerate(f.get("months", list)):
        where = f"months[{i}]"
        if not isinstance(item, dict) or set(item) != {"month", "volumes"}:
            raise InputError('expected {"month": "YYYY-MM", "volumes": {category: yen}}', file=source, field=where)
        month, cats = item["month"], item["volumes"]
        if not isinstance(month, str) or not _MONTH_RE.match(month):
            raise InputError(f"{str(month)[:20]!r} is not a month YYYY-MM", file=source, field=f"{where}.month")
        if month in months:
            raise InputError(f"{month} is listed twice", file=source, field=f"{where}.month")
        if not isinstance(cats, dict):
            raise InputError("expected an object of category: yen", file=source, field=f"{where}.volumes")
        for category in cats:
            if not isinstance(category, str) or not _CATEGORY_RE.match(category):
                raise InputError(
                    f"{str(category)[:40]!r} is not a category name (a-z, 0-9, _)",
                    file=source,
                    field=f"{where}.volumes",
                )
        months[month] = {c: yen(v, source, f"{where}.volumes.{c}") for c, v in cats.items()}
    if not months:
        raise f.error("months", "no months")
    return Volumes(source, exchange, months)


def load_insurance(path: str | Path) -> Insurance:
    source = str(path)
    out = []
    for line, (insurer, number, cover, start, end) in csv_table(path, INSURANCE_COLUMNS, MAX_INSURANCE_BYTES):
        for value, name in ((insurer, "insurer"), (number, "policy_number")):
            if not value or len(value) > 200 or not value.isprintable():
                raise InputError("must be 1-200 printable characters", file=source, line=line, field=name)
        since = parse_day(start, source, line, "valid_from")
        until = parse_day(end, source, line, "valid_until")
        if until < since:
            raise InputError(f"{until} is before valid_from {since}", file=source, line=line, field="valid_until")
        out.append(
            InsurancePolicy(insurer, number, yen(cover, source, "cover_jpy", line), since, until, f"{source}:{line}")
        )
    if not out:
        raise InputError("no insurance policies in the file", file=source)
    return Insurance(source, tuple(out))


def declared_insurance(cover_jpy: Decimal) -> Insurance:
    """`--insurance-jpy N`: one declared cover, without an insurer or a period to check."""
    return Insurance("--insurance-jpy", (InsurancePolicy("", "", cover_jpy, None, None, "--insurance-jpy"),))
