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

Only what OKX writes is read (`COINS`, `parse_units`, `check_nonce`): its verifier's
`Balances` struct has exactly the fields BTC, ETH, USDT (common/merkle.go), and
every recomputed sum is shopspring/decimal `RoundDown(8).String()`. Even so the
joined amount texts read more than one way ("12"+"3" is "1"+"23"), so a root hash
alone does not bind totals or height; `readings` counts the ways.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from por.errors import InputError

SCALE = 8
UNIT = 10**SCALE
COINS = ("BTC", "ETH", "USDT")  # the only coins, in the only order, of OKX's Merkle V1/V2 files
HASH_RE = re.compile(r"[0-9a-f]{64}\Z")
_NONCE_RE = re.compile(r"[0-9a-f]{64}\Z")
_AUDIT_ID_RE = re.compile(r"[0-9]{1,20}\Z")
_READING_RE = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]{0,7}[1-9])?\Z")
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
        raise InputError(
            f"{text[:40]!r} is not an amount as OKX writes it (plain decimal, at most 8 decimals, no trailing zeros)"
        )
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


def check_nonce(value: Any) -> str:
    """OKX nonces are 64 lower-case hex digits (a SHA-256 in hex)."""
    if not isinstance(value, str) or not _NONCE_RE.match(value):
        raise InputError("expected 64 lower-case hex digits, as OKX writes a nonce")
    return value


def check_audit_id(value: Any) -> str:
    if not isinstance(value, str) or not _AUDIT_ID_RE.match(value):
        raise InputError("expected 1-20 digits, as OKX writes an audit id")
    return value


def parse_balances(value: Any) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """A balances object -> (COINS, units). OKX writes exactly BTC, ETH, USDT in that order
    (its Go struct), and the order is part of the hashed text, so nothing else is read."""
    if not isinstance(value, dict):
        raise InputError("expected an object of amounts")
    keys = tuple(value)
    if keys != COINS:
        other = [k for k in keys if k not in COINS]
        if other:
            why = f"{other[0][:40]!r} is not a coin of OKX's Merkle files"
        elif len(keys) != len(COINS):
            why = f"missing {', '.join(c for c in COINS if c not in keys)}"
        else:
            why = f"coins in the order {', '.join(keys)}"
        raise InputError(f"{why}: OKX writes exactly {', '.join(COINS)}, in that order")
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


def readings(texts: list[str], height: int) -> int:
    """In how many ways the joined amount texts and height of a parent preimage read as
    len(texts) non-negative amounts as OKX writes them, then a height: 1 means the hash
    binds them; more means another set of totals hashes to the same root."""
    whole = "".join(texts) + str(height)
    ways = {0: 1}  # end of the amounts read so far -> in how many ways
    for _ in texts:
        nxt: dict[int, int] = {}
        for start, count in ways.items():
            for end in range(start + 1, len(whole)):  # leave at least one digit of height
                if _READING_RE.match(whole[start:end]):
                    nxt[end] = nxt.get(end, 0) + count
        ways = nxt
    return sum(count for end, count in ways.items() if re.fullmatch(r"[1-9][0-9]*", whole[end:]))
