"""Exact money: decimal strings <-> integer base units. Never a float.

Input files may carry trailing zeros ("1.50000000" is how exchanges export);
published JSON carries one canonical spelling per amount so a verifier never has
to guess what "1e-8", "+1" or "1.0" meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from por.errors import MAX_REPORTED_ROWS, InputError, InputErrors
from por.text import CappedReader, bounded_lines, open_input

# Sums in the tree are unsigned 128-bit: enough for any real supply in base
# units (1e9 ETH in wei is ~2^90), small enough to hash cheaply. A sum that
# overflows is an error, never a wrap-around.
AMOUNT_BYTES = 16
MAX_UNITS = (1 << (8 * AMOUNT_BYTES)) - 1
MAX_ASSET_TABLE_BYTES = 64 << 20  # an `asset,decimals` table: millions of lines, read as they stream

# Decimals of the common assets, as their chains count base units.
BUILTIN_DECIMALS: dict[str, int] = {
    "BTC": 8,
    "ETH": 18,
    "USDT": 6,
    "USDC": 6,
    "DAI": 18,
    "BNB": 18,
    "SOL": 9,
    "XRP": 6,
    "ADA": 6,
    "DOGE": 8,
    "TRX": 6,
    "LTC": 8,
    "BCH": 8,
    "DOT": 10,
    "AVAX": 18,
    "MATIC": 18,
    "POL": 18,
    "LINK": 18,
    "SHIB": 18,
    "XLM": 7,
    "TON": 9,
    "ATOM": 6,
    "ETC": 18,
    "FIL": 18,
    "APT": 8,
    "ARB": 18,
    "OP": 18,
    "NEAR": 24,
    "XTZ": 6,
    "ALGO": 6,
    "EOS": 4,
    "UNI": 18,
    "WBTC": 8,
    "JPYC": 18,
}

_INPUT_RE = re.compile(r"(0|[0-9]+)(?:\.([0-9]+))?\Z")
_CANONICAL_RE = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]*[1-9]))?\Z")
_ASSET_RE = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,31}\Z")


class AmountError(InputError):
    """An amount that is not an exact, non-negative number of base units."""


def parse_amount(text: str, decimals: int, *, canonical: bool = False) -> int:
    """Decimal string -> base units; rejects signs, exponents and excess precision.

    With canonical=True only the one spelling `format_amount` produces is
    accepted, so two documents cannot disagree on how a number is written.
    """
    if not isinstance(text, str):
        raise AmountError(f"amount must be a decimal string, got {type(text).__name__}")
    pattern = _CANONICAL_RE if canonical else _INPUT_RE
    if len(text) > 80:
        raise AmountError(f"amount {text[:20]!r}... is too long")
    match = pattern.match(text)
    if not match:
        if text.startswith("-"):
            raise AmountError(f"negative amount {text!r}")
        how = "canonical decimal" if canonical else "plain decimal"
        raise AmountError(f"{text!r} is not a {how} number")
    whole, frac = match.group(1), match.group(2) or ""
    if len(frac) > decimals and frac[decimals:].strip("0"):
        raise AmountError(f"{text!r} has more than {decimals} decimals")
    frac = frac[:decimals]
    units = int(whole) * 10**decimals + (int(frac.ljust(decimals, "0")) if decimals else 0)
    if units > MAX_UNITS:
        raise AmountError(f"{text!r} is too large (over 2^128 base units)")
    return units


def format_amount(units: int, decimals: int) -> str:
    """Base units -> the canonical decimal string (no exponent, no trailing zeros)."""
    if units < 0:
        raise ValueError("negative amounts are never formatted")
    if decimals == 0:
        return str(units)
    whole, frac = divmod(units, 10**decimals)
    frac_text = str(frac).rjust(decimals, "0").rstrip("0")
    return f"{whole}.{frac_text}" if frac_text else str(whole)


@dataclass(frozen=True)
class Asset:
    symbol: str
    decimals: int


class AssetTable:
    """Known assets and their decimals: the built-in table, extended by a file."""

    def __init__(self, decimals: dict[str, int] | None = None) -> None:
        self._decimals = dict(BUILTIN_DECIMALS if decimals is None else decimals)

    def decimals(self, symbol: str) -> int:
        try:
            return self._decimals[symbol]
        except KeyError:
            raise AmountError(f"unknown asset {symbol!r} (add it with --assets FILE)") from None

    def __contains__(self, symbol: str) -> bool:
        return symbol in self._decimals

    def asset(self, symbol: str) -> Asset:
        return Asset(symbol, self.decimals(symbol))

    def extend_from_file(self, path: str | Path) -> AssetTable:
        """Reads `asset,decimals` lines (CSV, header optional) and adds or overrides. Streamed, one
        dictionary entry a line, so a table of any size is read in time linear in its size; up to
        MAX_REPORTED_ROWS bad lines are named in one run."""
        source = str(path)
        errors: list[InputError] = []
        bad = 0
        with open_input(path) as handle:
            capped = CappedReader(handle, MAX_ASSET_TABLE_BYTES, source, " for an asset table")
            for number, text in enumerate(bounded_lines(capped, source, 4096), 1):
                line = text.strip()
                if not line or line.startswith("#") or line.lower().replace(" ", "") == "asset,decimals":
                    continue
                try:
                    symbol, decimals = _asset_line(line)
                except InputError as exc:
                    bad += 1
                    if len(errors) < MAX_REPORTED_ROWS:
                        errors.append(exc.at(file=source, line=number))
                    continue
                self._decimals[symbol] = decimals
        if bad:
            raise errors[0] if bad == 1 else InputErrors(errors, bad)
        return self


def _asset_line(line: str) -> tuple[str, int]:
    parts = [p.strip() for p in line.split(",")]
    if len(parts) != 2:
        hint = (
            " (the table is separated by semicolons: use a comma)"
            if ";" in line
            else " (the table is separated by tabs: use a comma)"
            if "\t" in line
            else ""
        )
        raise InputError(f"expected `asset,decimals`{hint}")
    symbol, dec = parts
    check_asset_symbol(symbol)
    if not dec.isascii() or not dec.isdigit() or int(dec) > 36:
        raise InputError(f"decimals {dec!r} must be an integer 0..36", field="decimals")
    return symbol, int(dec)


def check_asset_symbol(symbol: str, *, file: str | None = None, line: int | None = None) -> str:
    if not isinstance(symbol, str) or not _ASSET_RE.match(symbol):
        raise InputError(
            f"asset symbol {str(symbol)[:40]!r} must be 1-32 of A-Z 0-9 . _ -", file=file, line=line, field="asset"
        )
    return symbol
