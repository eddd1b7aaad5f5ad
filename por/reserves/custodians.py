"""Registered custodians: does a wallet held by a third party count on the snapshot date?

The auditor supplies the registry (`--custodians FILE`, CSV
`name,registration_number,registered_from,registered_until`), copied from the
regulator's published list (Japan: the FSA's 暗号資産交換業者登録一覧; docs/policies.md).
A wallet whose declaration names a custodian counts only if that custodian is
registered on the snapshot date; the reason it does not is one sentence for the
report. Dates are calendar days in Japan (JST, UTC+9, no daylight saving): the
registry's are, and the snapshot time is converted to one. Both ends inclusive;
an empty `registered_until` means still registered.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from chains.records import Custodian, DeclaredWallet
from por.errors import InputError
from por.text import csv_table

REGISTRY_COLUMNS = ["name", "registration_number", "registered_from", "registered_until"]
MAX_REGISTRY_BYTES = 4 * 1024 * 1024
JST = timezone(timedelta(hours=9), "JST")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


@dataclass(frozen=True)
class Registration:
    name: str
    number: str
    registered_from: date
    registered_until: date | None  # None: still registered
    where: str  # "file:line"

    def covers(self, day: date) -> bool:
        return self.registered_from <= day and (self.registered_until is None or day <= self.registered_until)


@dataclass(frozen=True)
class CustodianRegistry:
    source: str
    registrations: tuple[Registration, ...]

    def reason(self, custodian: Custodian, day: date) -> str | None:
        """Why `custodian` is not registered on `day`, or None when it is."""
        who = custodian.name + (f" ({custodian.registration})" if custodian.registration else "")
        if custodian.registration:
            found = [r for r in self.registrations if same_number(r.number, custodian.registration)]
            if not found:
                return f"custodian {who} is not in the registry {self.source}: registration number not found"
            named = [r for r in found if same_name(r.name, custodian.name)]
            if not named:
                return (
                    f"custodian {who}: registration number {custodian.registration} is {found[0].name}'s in "
                    f"{found[0].where}, not {custodian.name}'s"
                )
        else:
            named = [r for r in self.registrations if same_name(r.name, custodian.name)]
            if not named:
                return f"custodian {who} is not in the registry {self.source} (no registration number declared)"
        if any(r.covers(day) for r in named):
            return None
        ended = [r for r in named if r.registered_until is not None and r.registered_until < day]
        if ended:
            last = max(ended, key=lambda r: r.registered_until or day)
            return (
                f"custodian {who}: registration lapsed on {last.registered_until}, before the snapshot date "
                f"{day} (JST) ({last.where})"
            )
        first = min(named, key=lambda r: r.registered_from)
        return (
            f"custodian {who}: registered only from {first.registered_from}, after the snapshot date {day} "
            f"(JST) ({first.where})"
        )


@dataclass(frozen=True)
class CustodianCheck:
    """A registry bound to the snapshot date: the one question classify asks of a custodial wallet."""

    registry: CustodianRegistry
    day: date

    def reason(self, wallet: DeclaredWallet) -> str | None:
        return None if wallet.custodian is None else self.registry.reason(wallet.custodian, self.day)


def same_name(a: str, b: str) -> bool:
    """Names compared as a reader would: NFKC (full-width = half-width), case and spacing ignored."""
    return _fold(a) == _fold(b)


def same_number(a: str, b: str) -> bool:
    return _fold(a).replace(" ", "") == _fold(b).replace(" ", "")


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def japan_date(moment: str, field: str = "snapshot time") -> date:
    """The calendar day in Japan (JST) of an ISO 8601 time with a zone: registrations and policies run by it."""
    try:
        when = datetime.fromisoformat(moment.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{moment[:40]!r} is not an ISO 8601 time", field=field) from None
    if when.tzinfo is None:
        raise InputError(f"{moment[:40]!r} has no time zone (add Z or +09:00)", field=field)
    return when.astimezone(JST).date()


def parse_day(text: str, source: str, line: int, field: str) -> date:
    if not _DATE_RE.match(text):
        raise InputError(f"{text[:40]!r} is not a date YYYY-MM-DD", file=source, line=line, field=field)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text!r} is not a real date", file=source, line=line, field=field) from None


def load_custodians(path: str | Path) -> CustodianRegistry:
    """The registry CSV -> CustodianRegistry; every defect names the file, line and field."""
    source = str(path)
    out = []
    for line, (name, number, start, end) in csv_table(path, REGISTRY_COLUMNS, MAX_REGISTRY_BYTES):
        if not name or len(name) > 200 or not name.isprintable():
            raise InputError(
                "must be the custodian's name (1-200 printable characters)", file=source, line=line, field="name"
            )
        if len(number) > 100 or not number.isprintable():
            raise InputError("at most 100 printable characters", file=source, line=line, field="registration_number")
        since = parse_day(start, source, line, "registered_from")
        until = parse_day(end, source, line, "registered_until") if end else None
        if until is not None and until < since:
            raise InputError(
                f"{until} is before registered_from {since}", file=source, line=line, field="registered_until"
            )
        out.append(Registration(" ".join(name.split()), number, since, until, f"{source}:{line}"))
    if not out:
        raise InputError("no custodians in the registry", file=source)
    return CustodianRegistry(source, tuple(out))
