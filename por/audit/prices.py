"""JPY prices for policies that value crypto in yen (jp-fsa): `asset,price_jpy,source,time`.

A price is evidence in an audit, so each one names where it came from and when;
it is read exactly (Decimal from the text, never a float) and refused when it is
ambiguous: a sign, an exponent, zero, a duplicate asset, a time without a zone.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from por.amounts import check_asset_symbol
from por.errors import BadRows, InputError
from por.strictjson import read_bounded
from por.text import amount_hint, csv_field_limit, csv_syntax_error, separator_hint

PRICE_COLUMNS = ["asset", "price_jpy", "source", "time"]
MAX_PRICE_FILE_BYTES = 16 * 1024 * 1024
_PRICE_RE = re.compile(r"[0-9]{1,30}(?:\.[0-9]{1,30})?\Z")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Price:
    asset: str
    price_jpy: Decimal  # yen per one whole unit of the asset (not per base unit)
    source: str  # who quoted it, e.g. "bitFlyer last trade" or an URL
    time: str  # ISO 8601 with a zone, as written in the file
    where: str = ""  # "file:line", for reasons


@dataclass
class Prices:
    """Prices by asset, and the file they came from (for error messages)."""

    source: str
    by_asset: dict[str, Price] = field(default_factory=dict)

    def get(self, asset: str) -> Price | None:
        return self.by_asset.get(asset)

    def __contains__(self, asset: str) -> bool:
        return asset in self.by_asset

    def to_json(self) -> dict[str, dict[str, str]]:
        return {
            p.asset: {"price_jpy": decimal_text(p.price_jpy), "source": p.source, "time": p.time}
            for p in sorted(self.by_asset.values(), key=lambda p: p.asset)
        }


def decimal_text(value: Decimal) -> str:
    """A finite Decimal as plain text: no exponent, no trailing zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def parse_price(text: str) -> Decimal:
    """Plain positive decimal -> exact Decimal; the error reason is the caller's to place."""
    if not _PRICE_RE.match(text):
        if text.startswith(("-", "+")):
            raise ValueError(f"{text[:40]!r} must not carry a sign")
        raise ValueError(f"{text[:40]!r} is not a plain decimal number (digits, optional point, no exponent)")
    value = Decimal(text)
    if value <= 0:
        raise ValueError(f"{text!r} must be greater than zero")
    return value


def parse_time(text: str) -> str:
    """ISO 8601 date-time with an explicit zone; returns the text unchanged."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text[:40]!r} has no time zone (add Z or +09:00)")
    return text


def load_prices(path: str | Path) -> Prices:
    """Reads a prices CSV; every defect an InputError naming file, line and field, and every bad row
    up to MAX_REPORTED_ROWS named in one run, as the customer book's reader does."""
    path = Path(path)
    source = str(path)
    raw = read_bounded(path, MAX_PRICE_FILE_BYTES, empty_ok=True)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=source) from None
    prices = Prices(source)
    bad = BadRows()
    with csv_field_limit(4096):
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        last = 1  # the line of the last row read: a quote never closed opens after it
        try:
            header = next(reader, None)
            if header is None:
                raise InputError("empty file: expected header " + ",".join(PRICE_COLUMNS), file=source, line=1)
            if [h.strip() for h in header] != PRICE_COLUMNS:
                hint = separator_hint(",".join(header))
                raise InputError("header must be exactly " + ",".join(PRICE_COLUMNS) + hint, file=source, line=1)
            for row in reader:
                last = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                try:
                    _add_row(prices, row, source, reader.line_num)
                except InputError as exc:
                    bad.add(exc.at(file=source, line=reader.line_num))
        except csv.Error as exc:
            bad.add(csv_syntax_error(exc, source, last, reader.line_num))
    bad.raise_any()
    if not prices.by_asset:
        raise InputError("no prices in the file", file=source)
    return prices


def fields_hint(row: list[str]) -> str:
    """Why a row did not split into the four fields: another separator, or a price or source cut at its commas."""
    if len(row) < len(PRICE_COLUMNS):
        return separator_hint(",".join(row))
    price = amount_hint(",".join(row[1 : len(row) - 2]))
    return price or " (a source holding a comma must be in double quotes)"


def _add_row(prices: Prices, row: list[str], source: str, line: int) -> None:
    if len(row) != len(PRICE_COLUMNS):
        raise InputError(
            f"expected {len(PRICE_COLUMNS)} fields ({','.join(PRICE_COLUMNS)}), got {len(row)}{fields_hint(row)}",
            file=source,
            line=line,
        )
    asset_text, price_text, quote_source, time_text = (cell.strip() for cell in row)
    asset = check_asset_symbol(asset_text, file=source, line=line)
    if asset in prices.by_asset:
        raise InputError(
            f"second price for {asset} (first at {prices.by_asset[asset].where})", file=source, line=line, field="asset"
        )
    try:
        price = parse_price(price_text)
    except ValueError as exc:
        hint = amount_hint(price_text)
        raise InputError(f"{exc}{hint}", file=source, line=line, field="price_jpy") from None
    if not quote_source or len(quote_source) > 200 or _CONTROL_RE.search(quote_source):
        raise InputError(
            "must name where the price came from (1-200 printable characters)", file=source, line=line, field="source"
        )
    try:
        time = parse_time(time_text)
    except ValueError as exc:
        raise InputError(str(exc), file=source, line=line, field="time") from None
    prices.by_asset[asset] = Price(asset, price, quote_source, time, where=f"{source}:{line}")
