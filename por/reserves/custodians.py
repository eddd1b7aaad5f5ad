"""Registered custodians and notified custody-system providers: does a wallet held or run by a third
party count on the snapshot date?

The auditor supplies the registry (`--custodians FILE`, CSV
`name,registration_number,registered_from,registered_until`), copied from the
regulator's published list (Japan: the FSA's 暗号資産交換業者登録一覧; docs/policies.md), and
the custody-system providers' notifications (`--custody-systems FILE`, CSV
`name,notification_number,notified_from,notified_until`; 暗号資産管理システム提供業者, who notify
the FSA under the 2026 bill). A wallet whose declaration names a custodian counts only if that
custodian is registered on the snapshot date, and one run on a provider's system only if that
provider's notification covers it; the reason it does not is one sentence for the report.
Dates are calendar days in Japan (JST, UTC+9, no daylight saving): the lists' are, and
the snapshot time is converted to one. Both ends inclusive; an empty `registered_until`
(`notified_until`) means still registered (notified).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path

from chains.records import DeclaredWallet
from por.errors import InputError
from por.text import csv_table

REGISTRY_COLUMNS = ["name", "registration_number", "registered_from", "registered_until"]
CUSTODY_SYSTEM_COLUMNS = ["name", "notification_number", "notified_from", "notified_until"]
MAX_REGISTRY_BYTES = 4 * 1024 * 1024
JST = timezone(timedelta(hours=9), "JST")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


@dataclass(frozen=True)
class RegistryKind:
    """The words and columns of one kind of list: custodians' registrations, providers' notifications."""

    party: str  # "custodian"
    number: str  # "registration number"
    verb: str  # "registered"
    event: str  # "registration"
    columns: tuple[str, ...]  # the CSV header, fixed
    option: str  # the CLI option that gives it


CUSTODIANS = RegistryKind(
    "custodian", "registration number", "registered", "registration", tuple(REGISTRY_COLUMNS), "--custodians"
)
CUSTODY_SYSTEMS = RegistryKind(
    "custody-system provider",
    "notification number",
    "notified",
    "notification",
    tuple(CUSTODY_SYSTEM_COLUMNS),
    "--custody-systems",
)


@dataclass(frozen=True)
class Registration:
    name: str
    number: str
    registered_from: date
    registered_until: date | None  # None: still registered (or notified)
    where: str  # "file:line"

    def covers(self, day: date) -> bool:
        return self.registered_from <= day and (self.registered_until is None or day <= self.registered_until)


@dataclass(frozen=True)
class CustodianRegistry:
    """A list of registrations (custodians) or notifications (custody-system providers): `kind` says which."""

    source: str
    registrations: tuple[Registration, ...]
    kind: RegistryKind = CUSTODIANS

    @cached_property
    def by_number(self) -> dict[str, list[Registration]]:
        """Rows by folded number (`number_key`), built once: a lookup per wallet, not a scan of the list."""
        index: dict[str, list[Registration]] = {}
        for r in self.registrations:
            index.setdefault(number_key(r.number), []).append(r)
        return index

    @cached_property
    def by_name(self) -> dict[str, list[Registration]]:
        """Rows by folded name (`name_key`), built once."""
        index: dict[str, list[Registration]] = {}
        for r in self.registrations:
            index.setdefault(name_key(r.name), []).append(r)
        return index

    @cached_property
    def answers(self) -> dict[tuple[str, str, date], str | None]:
        """`reason`'s answers so far: the wallets at one custodian are judged once."""
        return {}

    def reason(self, name: str, number: str, day: date) -> str | None:
        """Why the party `name` (declaring `number`, or "") is not on the list on `day`, or None when it is."""
        key = (name, number, day)
        if key not in self.answers:
            self.answers[key] = self.judge(name, number, day)
        return self.answers[key]

    def judge(self, name: str, number: str, day: date) -> str | None:
        k = self.kind
        who = f"{k.party} {name}" + (f" ({number})" if number else "")
        if number:
            found = self.by_number.get(number_key(number), [])
            if not found:
                return f"{who} is not in the registry {self.source}: {k.number} not found"
            named = [r for r in found if same_name(r.name, name)]
            if not named:
                return f"{who}: {k.number} {number} is {found[0].name}'s in {found[0].where}, not {name}'s"
        else:
            named = self.by_name.get(name_key(name), [])
            if not named:
                return f"{who} is not in the registry {self.source} (no {k.number} declared)"
        if any(r.covers(day) for r in named):
            return None
        ended = [r for r in named if r.registered_until is not None and r.registered_until < day]
        if ended:
            last = max(ended, key=lambda r: r.registered_until or day)
            return (
                f"{who}: {k.event} lapsed on {last.registered_until}, before the snapshot date "
                f"{day} (JST) ({last.where})"
            )
        first = min(named, key=lambda r: r.registered_from)
        return f"{who}: {k.verb} only from {first.registered_from}, after the snapshot date {day} (JST) ({first.where})"


@dataclass(frozen=True)
class CustodianCheck:
    """The lists bound to the snapshot date: the one question classify asks of a wallet held or run by a
    third party. `registry`: custodians (--custodians); `systems`: custody-system providers (--custody-systems);
    either may be absent, and a wallet is then not checked against it."""

    registry: CustodianRegistry | None
    day: date
    systems: CustodianRegistry | None = None

    def reason(self, wallet: DeclaredWallet) -> str | None:
        """Why the wallet's custodian or provider is not on its list on the snapshot date (both, if neither is)."""
        reasons = []
        if wallet.custodian is not None and self.registry is not None:
            reasons.append(self.registry.reason(wallet.custodian.name, wallet.custodian.registration, self.day))
        if wallet.custody_system is not None and self.systems is not None:
            system = wallet.custody_system
            reasons.append(self.systems.reason(system.name, system.notification, self.day))
        found = [r for r in reasons if r is not None]
        return "; ".join(found) if found else None

    def sources(self) -> dict[str, str | None]:
        return {
            "registry": None if self.registry is None else self.registry.source,
            "custody_system_registry": None if self.systems is None else self.systems.source,
        }


def same_name(a: str, b: str) -> bool:
    """Names compared as a reader would: NFKC (full-width = half-width), case and spacing ignored."""
    return name_key(a) == name_key(b)


def same_number(a: str, b: str) -> bool:
    return number_key(a) == number_key(b)


def name_key(text: str) -> str:
    """A name as `same_name` compares it: NFKC, case-folded, runs of spaces as one."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def number_key(text: str) -> str:
    """A registration or notification number as `same_number` compares it: as a name, without spaces."""
    return name_key(text).replace(" ", "")


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
    """The custodian registry CSV -> CustodianRegistry; every defect names the file, line and field."""
    return load_registry(path, CUSTODIANS)


def load_custody_systems(path: str | Path) -> CustodianRegistry:
    """The custody-system providers' notifications (CSV `name,notification_number,notified_from,notified_until`)."""
    return load_registry(path, CUSTODY_SYSTEMS)


def load_registry(path: str | Path, kind: RegistryKind) -> CustodianRegistry:
    source = str(path)
    name_col, number_col, from_col, until_col = kind.columns
    out = []
    for line, (name, number, start, end) in csv_table(path, list(kind.columns), MAX_REGISTRY_BYTES):
        if not name or len(name) > 200 or not name.isprintable():
            raise InputError(
                f"must be the {kind.party}'s name (1-200 printable characters)", file=source, line=line, field=name_col
            )
        if len(number) > 100 or not number.isprintable():
            raise InputError("at most 100 printable characters", file=source, line=line, field=number_col)
        since = parse_day(start, source, line, from_col)
        until = parse_day(end, source, line, until_col) if end else None
        if until is not None and until < since:
            raise InputError(f"{until} is before {from_col} {since}", file=source, line=line, field=until_col)
        out.append(Registration(" ".join(name.split()), number, since, until, f"{source}:{line}"))
    if not out:
        raise InputError(f"no {kind.party}s in the list", file=source)
    return CustodianRegistry(source, tuple(out), kind)
