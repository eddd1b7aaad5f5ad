"""OKX's Merkle sum-tree hash rules (proof-of-reserves "V1" and "V2"), written down once.

Learned from OKX's public verifier (github.com/okx/proof-of-reserves, Go:
common/merkle.go, common/merklev2.go, common/validator.go) and its help pages
"How to verify if your assets are included in the OKX Merkle tree" (V1, V2),
then confirmed on the genuine example files in fixtures/conformance/okx/:

- amount text: a plain decimal, at most 8 decimals, trailing zeros trimmed,
  "0" for zero (shopspring/decimal `Add(..).RoundDown(8).String()`);
- leaf (V1) and user hash (V2): sha256(nonce + balances-json), the JSON compact
  with the coins in file order (BTC, ETH, USDT in every published file);
- V2 split leaf: sha256(user_hash + BTC + ETH + USDT), amount texts concatenated,
  no separator and no height;
- parent: sha256(left_hash + right_hash + sum texts + str(parent_height)), leaves
  at height 1. The help pages say "height of h1", the code and the files use the
  parent's own height;
- padding: a right sibling that repeats its left sibling's hash with zero balances.

Every hash is lower-case hex of the UTF-8 preimage. Amounts are int units of 1e-8.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from por.errors import InputError

SCALE = 8
UNIT = 10**SCALE
HASH_RE = re.compile(r"[0-9a-f]{64}\Z")
_ASSET_RE = re.compile(r"[A-Za-z0-9._-]{1,32}\Z")
# Signed on purpose: a negative balance is a finding (exit 1), not unreadable input.
_AMOUNT_RE = re.compile(r"(-?)(0|[1-9][0-9]{0,29})(?:\.([0-9]{0,7}[1-9]))?\Z")


def sha_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def parse_units(text: Any) -> int:
    """OKX amount text -> signed units of 1e-8; only the one spelling OKX writes."""
    if not isinstance(text, str):
        raise InputError(f"amount must be a string, got {type(text).__name__}")
    match = _AMOUNT_RE.match(text)
    if not match or text == "-0":
        raise InputError(f"{text[:40]!r} is not an amount as OKX writes it "
                         "(plain decimal, at most 8 decimals, no trailing zeros)")
    sign, whole, frac = match.groups()
    units = int(whole) * UNIT + int((frac or "").ljust(SCALE, "0"))
    return -units if sign else units


def units_text(units: int) -> str:
    """Units -> OKX amount text (the inverse of parse_units)."""
    whole, frac = divmod(abs(units), UNIT)
    text = str(whole) + ("." + str(frac).rjust(SCALE, "0").rstrip("0") if frac else "")
    return "-" + text if units < 0 else text


def check_hash(value: Any) -> str:
    if not isinstance(value, str) or not HASH_RE.match(value):
        raise InputError("expected 64 lower-case hex digits")
    return value


def parse_balances(value: Any, assets: tuple[str, ...] | None) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """A balances object -> (coins in order, units). Every object of one file must list
    the same coins in the same order, because the order is part of the hashed text."""
    if not isinstance(value, dict):
        raise InputError("expected an object of amounts")
    keys = tuple(value)
    for key in keys:
        if not _ASSET_RE.match(key):
            raise InputError(f"{key[:40]!r} is not a coin symbol")
    if not keys:
        raise InputError("no coins")
    if assets is not None and keys != assets:
        raise InputError(f"coins {list(keys)} differ from the file's {list(assets)}")
    units = []
    for key in keys:
        try:
            units.append(parse_units(value[key]))
        except InputError as exc:
            raise exc.at(field=key) from None
    return keys, tuple(units)


def balances_json(assets: tuple[str, ...], units: tuple[int, ...]) -> str:
    return "{" + ",".join(f'"{a}":"{units_text(u)}"' for a, u in zip(assets, units)) + "}"


def balances_dict(assets: tuple[str, ...], units: tuple[int, ...]) -> dict[str, str]:
    return {a: units_text(u) for a, u in zip(assets, units)}


def leaf_hash(nonce: str, assets: tuple[str, ...], units: tuple[int, ...]) -> str:
    """V1 leaf and V2 user hash: sha256(nonce + compact balances JSON)."""
    return sha_hex(nonce + balances_json(assets, units))


def split_hash(user_hash: str, units: tuple[int, ...]) -> str:
    """V2 split leaf: sha256(user hash + amount texts), no separator, no height."""
    return sha_hex(user_hash + "".join(units_text(u) for u in units))


def parent_hash(left: str, right: str, sums: tuple[int, ...], height: int) -> str:
    return sha_hex(left + right + "".join(units_text(u) for u in sums) + str(height))


def add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x + y for x, y in zip(a, b))


def negatives(assets: tuple[str, ...], units: tuple[int, ...]) -> list[str]:
    return [f"{a} {units_text(u)}" for a, u in zip(assets, units) if u < 0]
