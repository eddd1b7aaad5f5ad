"""OKX's published reserve-address files (`por reserves --format okx`): every row's ownership, offline.

The file (okx/proof-of-reserves, example/okx_por_example.csv and
okx_por_staking_example.csv) is a summary block (coin, snapshot height,
amount), a blank line, then one row per address: coin, [Type], Network,
Snapshot Height, address, amount, message, signature1, signature2, redeem
script / public key, eoa1, eoa2 (the staking layout adds Type). Columns are
read by position, as OKX's own VerifyAddress tool reads them (its split keeps
commas inside [...] and {...}).

Each row gets one status, with its reason:
- verified: the signature(s) prove the address under OKX's rule for its coin
  (`chains.okx_signatures`; the coin table is OKX's, `okx_coins.json`);
- owner-verified: a contract or staking row whose owner EOAs (eoa1, eoa2)
  signed: that they own the contract needs chain state at the snapshot, so it
  is never simply verified;
- not checked: a chain family por has no rule for (TON, Aptos, Solana ...);
- unsupported: a Bitcoin kind OKX's rules cannot prove (P2TR);
- failed: anything else, with why.
The summary block's per-coin totals are shown beside the rows' sums, as
information: a sample file lists a few addresses, so they need not add up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from functools import cache, partial
from pathlib import Path
from typing import Any

from chains.bitcoin_proofs import ProofError, Unsupported
from chains.okx_signatures import recover_evm, verify_bitcoin, verify_tron
from por.amounts import BUILTIN_DECIMALS
from por.errors import InputError
from por.text import CappedReader, bounded_lines, open_input

COINS_FILE = Path(__file__).with_name("okx_coins.json")
MAX_FILE_BYTES = 1 << 30
MAX_LINE_BYTES = 1 << 16
EMPTY = ("", "null", "\\N")
CONTRACT_NOTE = "contract ownership needs chain state at the snapshot"


@cache
def coin_table() -> dict[str, Any]:
    """OKX's per-coin rules (family, header, unit), generated from its coin.go by fixtures/okx_coins.py."""
    return json.loads(COINS_FILE.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class SummaryLine:
    coin: str  # e.g. "ETH", "USDT(ALL)"
    height: str
    amount: str


@dataclass(frozen=True)
class AddressRow:
    line: int
    coin: str
    type: str  # the staking layout's Type ("Non Staking", "Eigenlayer Staking"...); else ""
    network: str
    height: str
    address: str
    amount: str
    message: str
    signatures: tuple[str, str]
    script: str  # redeem script / public key
    owners: tuple[str, str]  # eoa1, eoa2
    base_units: bool = False  # the 2023 layout states amounts in base units (satoshi, wei, sun)


@dataclass
class RowVerdict:
    row: AddressRow
    status: str  # verified | owner-verified | not checked | unsupported | failed
    reason: str


@dataclass
class OkxReport:
    source: str
    summary: list[SummaryLine]
    verdicts: list[RowVerdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No row failed; rows por cannot check are reported, not failed (and never verified)."""
        return all(v.status != "failed" for v in self.verdicts)

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in ("verified", "owner-verified", "not checked", "unsupported", "failed")}
        for v in self.verdicts:
            out[v.status] += 1
        return out

    def totals(self) -> list[dict[str, Any]]:
        """Each summary line beside the sum of the rows it covers (a `(ALL)` line: every coin of that unit)."""
        units = coin_table()["units"]
        out = []
        for line in self.summary:
            if line.coin.upper().endswith("(ALL)"):
                unit = line.coin[:-5].upper()
                rows = [v.row for v in self.verdicts if units.get(v.row.coin.upper(), v.row.coin.upper()) == unit]
            else:
                rows = [v.row for v in self.verdicts if v.row.coin.upper() == line.coin.upper()]
            amounts = [in_coins(r, units) for r in rows]
            total = sum((a for a in amounts if a is not None), Decimal(0))
            out.append(
                {
                    "coin": line.coin,
                    "snapshot_height": line.height,
                    "summary_amount": line.amount,
                    "rows": len(rows),
                    "rows_amount": _plain(total),
                }
            )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "okx-addresses",
            "source": self.source,
            "verified": self.ok,
            "counts": self.counts(),
            "messages": sorted({v.row.message for v in self.verdicts}),
            "rows": [
                {
                    "line": v.row.line,
                    "coin": v.row.coin,
                    "type": v.row.type,
                    "network": v.row.network,
                    "snapshot_height": v.row.height,
                    "address": v.row.address,
                    "amount": v.row.amount,
                    "amount_unit": "base unit" if v.row.base_units else "coin",
                    "status": v.status,
                    "reason": v.reason,
                }
                for v in self.verdicts
            ],
            "summary": self.totals(),
        }


def in_coins(row: AddressRow, units: dict[str, str]) -> Decimal | None:
    """The row's amount in whole coins (the 2023 layout's base units scaled by the unit's decimals)."""
    value = _decimal(row.amount)
    if value is None or not row.base_units:
        return value
    unit = units.get(row.coin.upper(), row.coin.upper())
    return value.scaleb(-BUILTIN_DECIMALS[unit]) if unit in BUILTIN_DECIMALS else None


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() and value >= 0 else None


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- reading -------------------------------------------------------------------------------------------------------
def split_line(line: str) -> list[str]:
    """OKX's split: on commas, except inside [...] or {...} (EOS's JSON keys) and "..." quotes."""
    fields: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "[{":
            depth += 1
        elif not quoted and char in "]}":
            depth = max(depth - 1, 0)
        if char == "," and depth == 0 and not quoted:
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    fields.append("".join(current).strip())
    return [f[1:-1] if len(f) >= 2 and f[0] == f[-1] == '"' else f for f in fields]


def load_okx_file(path: str | Path) -> tuple[list[SummaryLine], list[AddressRow]]:
    """The summary block and the address rows; InputError (exit 2) when the file is not in OKX's layout."""
    source = str(path)
    with open_input(path) as handle:
        try:
            lines = list(bounded_lines(CappedReader(handle, MAX_FILE_BYTES, source), source, MAX_LINE_BYTES))
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text", file=source) from None
    lines = [line.rstrip("\r\n") for line in lines]
    if not lines or split_line(lines[0].lstrip("\ufeff"))[:1] != ["coin"]:
        raise InputError(
            "not an OKX address file: expected a summary header `coin,snapshot height,amount`", file=source, line=1
        )
    try:
        blank = next(i for i, line in enumerate(lines) if not line.strip())
    except StopIteration:
        raise InputError("no blank line after the summary block, so no address rows", file=source) from None
    summary = []
    for n, line in enumerate(lines[1:blank], 2):
        cells = split_line(line)
        if len(cells) < 3:
            raise InputError("a summary line needs coin, snapshot height, amount", file=source, line=n)
        summary.append(SummaryLine(cells[0], cells[1], cells[2]))
    header_at = next((i for i in range(blank, len(lines)) if lines[i].strip()), None)
    if header_at is None:
        raise InputError("no address rows after the summary block", file=source)
    header = [h.strip().lower() for h in split_line(lines[header_at])]
    if header[:1] != ["coin"] or "address" not in header:
        raise InputError(
            "the address section's header must start with coin and name an address column",
            file=source,
            line=header_at + 1,
        )
    make = _legacy_row if "network" not in header else partial(_row, off=1 if "type" in header else 0)
    rows = [make(split_line(line), n) for n, line in enumerate(lines[header_at + 1 :], header_at + 2) if line.strip()]
    heights = {s.coin.upper(): s.height for s in summary}
    rows = [replace(r, height=heights.get(r.coin.upper(), "")) if r.base_units else r for r in rows]
    if not rows:
        raise InputError("no address rows", file=source)
    return summary, rows


def _legacy_row(cells: list[str], line: int) -> AddressRow:
    """OKX's 2023 layout (coin, address, amount, message, signature1, signature2, redeem script / public
    key): no network or owners, the height is the summary line's for the coin; amounts in base units."""
    cells = cells + [""] * (7 - len(cells))
    c = cells
    return AddressRow(line, c[0], "", "", "", c[1], c[2], c[3], (c[4], c[5]), c[6], ("", ""), base_units=True)


def _row(cells: list[str], line: int, off: int) -> AddressRow:
    cells = cells + [""] * (11 + off - len(cells))
    return AddressRow(
        line,
        cells[0],
        cells[1] if off else "",
        cells[1 + off],
        cells[2 + off],
        cells[3 + off],
        cells[4 + off],
        cells[5 + off],
        (cells[6 + off], cells[7 + off]),
        cells[8 + off],
        (cells[9 + off], cells[10 + off]),
    )


# --- verdicts ------------------------------------------------------------------------------------------------------
def check_row(row: AddressRow) -> RowVerdict:
    table = coin_table()
    rule = table["coins"].get(row.coin.upper())
    if rule is None:
        return RowVerdict(
            row,
            "not checked",
            f"chain family not supported (coin {row.coin}, network {row.network}): por has no rule for it",
        )
    if _decimal(row.amount) is None:
        return RowVerdict(row, "failed", f"amount {row.amount[:40]!r} is not a non-negative number")
    if not row.address or not row.message or row.signatures[0] in EMPTY:
        return RowVerdict(row, "failed", "address, message and signature1 are required")
    try:
        if rule["family"] == "evm":
            return _evm(row, rule["header"])
        if rule["family"] == "tron":
            return RowVerdict(
                row, "verified", verify_tron(table["tron_headers"], row.address, row.message, row.signatures[0])
            )
        sigs = [s for s in row.signatures if s not in EMPTY]
        return RowVerdict(
            row,
            "verified",
            verify_bitcoin(rule["header"], table["okx_header"], row.address, row.message, sigs, row.script),
        )
    except Unsupported as exc:
        return RowVerdict(row, "unsupported", str(exc))
    except ProofError as exc:
        return RowVerdict(row, "failed", str(exc))


def _evm(row: AddressRow, header: str) -> RowVerdict:
    eoa1, eoa2 = (o if o not in EMPTY else "" for o in row.owners)
    if row.type.strip().lower() == "eigenlayer staking":
        eoa2 = ""  # OKX: EOA2 is the EigenPod contract, which cannot sign
    if not eoa1:
        recovered = recover_evm(header, row.message, row.signatures[0])
        if recovered != row.address.lower():
            return RowVerdict(row, "failed", f"signature recovers {recovered}, not {row.address}")
        return RowVerdict(row, "verified", "EOA signature (OKX's EIP-191 over the message's keccak256)")
    checked = []
    for i, (owner, sig) in enumerate(((eoa1, row.signatures[0]), (eoa2, row.signatures[1])), 1):
        if not owner or (i == 2 and sig in EMPTY):
            continue
        recovered = recover_evm(header, row.message, sig)
        if recovered != owner.lower():
            return RowVerdict(row, "failed", f"signature{i} recovers {recovered}, not eoa{i} {owner}")
        checked.append(owner)
    what = (
        CONTRACT_NOTE
        if len(row.address) == 42
        else "that they control this validator / EigenPod needs chain state at the snapshot"
    )
    unsigned = " (eoa2 named without signature2: not checked)" if eoa2 and len(checked) < 2 else ""
    if row.type.strip().lower() == "eigenlayer staking" and row.owners[1] not in EMPTY:
        unsigned = " (eoa2 is the EigenPod contract, which cannot sign: not checked, as in OKX's tool)"
    return RowVerdict(
        row, "owner-verified", f"owner EOAs' signatures verified ({', '.join(checked)}){unsigned}; {what}"
    )


def check_okx_file(path: str | Path) -> OkxReport:
    summary, rows = load_okx_file(path)
    return OkxReport(str(path), summary, [check_row(row) for row in rows])
