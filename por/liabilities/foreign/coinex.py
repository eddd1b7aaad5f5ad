"""CoinEx's inclusion proofs (coinexcom/proof-of-reserves, Go + shopspring/decimal; rules read at 52c6cf4).

- J(b) = Go `json.Marshal(map[string]decimal.Decimal)`: keys sorted bytewise, each value quoted
  `decimal.String()` (fixed point, trailing zeros trimmed), compact;
- leaf h = sha256(nonce + J(self balances)) (`main.go` `Validate`);
- for each path entry: with a sibling, b = b + its balances (the union of coins) and
  h = sha256(sibling + h + J(b)) when it is on the left, else sha256(h + sibling + J(b));
  an empty entry `{}` is "no right node": h = sha256(h + h + J(b)) **as coded**;
- the root: hash equal, balances equal.

CoinEx's own example does not verify under its own lone-node rule; it does when the missing
sibling is hashed as the empty string: h = sha256(h + "" + J(b)). Both rules are tried, the
one that verifies is reported, and the other's failure is stated: never picked silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from por.liabilities.foreign.common import (
    EXACT,
    SUMS_PARENT_ONLY,
    Customer,
    Design,
    ProofOnlyFormat,
    compare_root,
    compare_totals,
    decimal_of,
    describe,
    pinned_of,
    pinned_root,
    plain,
    read_json,
    sha256_hex,
    strip_zeros,
)
from por.liabilities.pins import Pins
from por.strictjson import Fields
from por.verdict import Verdict

__all__ = ["CoinexProof", "RULES", "parse_coinex", "verify_coinex", "FORMAT"]

DESIGN = Design(
    hash="SHA-256",
    bits=256,
    sums=SUMS_PARENT_ONLY,
    labels="by name (JSON keys in every hash)",
    root_binds_totals=True,
    root_binds_labels=True,
)
_HASH = re.compile(r"[0-9a-f]{64}\Z")
_COIN = re.compile(r"[A-Za-z0-9._-]{1,32}\Z")
RULES = {  # name -> how a lone node (an empty path entry) is hashed
    "coinex-as-coded": "sha256(h + h + balances), as CoinEx's released verifier (main.go) codes it",
    "coinex-2022-lone-empty": 'sha256(h + "" + balances): the missing sibling as the empty string, '
    "as CoinEx's published example was made",
}


@dataclass(frozen=True)
class Step:
    where: str
    hash: str | None  # None: no sibling (an empty entry)
    left: bool
    balances: dict[str, Decimal]


@dataclass(frozen=True)
class CoinexProof:
    source: str
    nonce: str
    balances: dict[str, Decimal]
    path: list[Step]
    root_hash: str
    root_balances: dict[str, Decimal]


def decimal_text(d: Decimal) -> str:
    """shopspring/decimal `String()`: fixed point, trailing zeros trimmed."""
    return plain(strip_zeros(d))


def balances_json(b: dict[str, Decimal]) -> str:
    return "{" + ",".join(f'"{k}":"{decimal_text(b[k])}"' for k in sorted(b, key=lambda k: k.encode())) + "}"


def _balances(f: Fields, where: str) -> dict[str, Decimal]:
    out = {}
    for coin, value in f.get("balances", dict).items():
        if not _COIN.match(coin):
            raise f.error("balances", f"{coin[:40]!r} is not a coin code")
        if not isinstance(value, str):
            raise f.error(f"balances.{coin}", "CoinEx writes amounts as strings")
        d = decimal_of(value, f"{where}.balances.{coin}")
        if value != decimal_text(d):
            raise f.error(
                f"balances.{coin}", f"{value[:40]!r} is not written as CoinEx writes amounts ({decimal_text(d)!r})"
            )
        out[coin] = d
    return out


def _hash(f: Fields, key: str = "hash") -> str:
    h = f.str(key, max_len=64)
    if not _HASH.match(h):
        raise f.error(key, "expected 64 lower-case hex digits")
    return h


def parse_coinex(raw: bytes, source: str) -> CoinexProof:
    doc = Fields(read_json(raw, source), source).only("root", "self", "path")
    root = doc.obj("root").only("balances", "hash")
    me = doc.obj("self").only("balances", "nonce")
    nonce = me.str("nonce", max_len=1024)
    if not nonce:
        raise me.error("nonce", "empty nonce")
    steps = []
    for i, f in enumerate(doc.objects("path", max_items=256)):
        where = f"path[{i}]"
        if not f.data:
            steps.append(Step(where, None, False, {}))
            continue
        f.only("balances", "hash", "pos")
        pos = f.str("pos", max_len=8)
        if pos not in ("left", "right"):
            raise f.error("pos", 'expected "left" or "right"')
        steps.append(Step(where, _hash(f), pos == "left", _balances(f, where)))
    return CoinexProof(
        source=source,
        nonce=nonce,
        balances=_balances(me, "self"),
        path=steps,
        root_hash=_hash(root),
        root_balances=_balances(root, "root"),
    )


def recompute(proof: CoinexProof, rule: str) -> tuple[str, dict[str, Decimal]]:
    """(root hash, root balances) under one lone-node rule."""
    h, b = sha256_hex(proof.nonce + balances_json(proof.balances)), dict(proof.balances)
    for step in proof.path:
        if step.hash is None:
            h = sha256_hex(h + (h if rule == "coinex-as-coded" else "") + balances_json(b))
            continue
        for coin, value in step.balances.items():
            b[coin] = EXACT.add(b[coin], value) if coin in b else value
        h = sha256_hex((step.hash + h if step.left else h + step.hash) + balances_json(b))
    return h, b


def verify_coinex(
    proof: CoinexProof, expected_root: str | None = None, *, pins: Pins | None = None, rule: str | None = None
) -> Verdict:
    """Under each lone-node rule (or `rule`): the leaf from nonce and balances, the running totals,
    the root; the rule that gives the file's root is reported, with the other's result."""
    pinned = pinned_of(expected_root, pins)
    v = Verdict.start(
        root=proof.root_hash,
        height=len(proof.path) + 1,
        balances={c: decimal_text(x) for c, x in sorted(proof.balances.items())},
        root_balances={c: decimal_text(x) for c, x in sorted(proof.root_balances.items())},
    )
    pin = pinned_root(pinned.root, 64, "CoinEx", v)
    results = {name: recompute(proof, name) for name in ([rule] if rule else RULES)}
    matching = [name for name, (h, _) in results.items() if h == proof.root_hash]
    lone = any(s.hash is None for s in proof.path)
    chosen = matching[0] if matching else next(iter(results))
    v.facts["rules"] = {
        name: {"rule": RULES[name], "root": h, "matches_the_file": h == proof.root_hash}
        for name, (h, _) in results.items()
    }
    if len(results) > 1 and lone and matching and chosen != "coinex-as-coded":
        v.facts.setdefault("notes", []).append(
            f"known inconsistency: CoinEx's released verifier hashes a lone node as h + h and rejects this file "
            f'(root {results["coinex-as-coded"][0]}); it verifies with the missing sibling hashed as "" '
            f"({RULES[chosen]})"
        )
    if not matching:
        tried = (
            " or ".join(f"{n} ({results[n][0]})" for n in results) if lone else f"CoinEx's rule ({results[chosen][0]})"
        )
        v.fail(f"root hash does not recompute under {tried}")
    computed, sums = results[chosen]
    compare_root(v, computed if matching else None, pin)
    if set(sums) != set(proof.root_balances) or any(sums[c] != proof.root_balances[c] for c in sums):
        v.fail(
            f"root: balances are not the running totals along the path "
            f"(recomputed { ({c: decimal_text(x) for c, x in sorted(sums.items())}) })"
        )
    negatives = _negatives(proof, sums)
    for finding in negatives:
        v.fail(f"negative amount: {finding} (a liabilities sum with a negative part can hide what is owed)")
    totals = compare_totals(v, sums, pinned)
    return describe(
        v,
        DESIGN,
        fmt="coinex",
        variant=chosen if lone else "coinex (no lone node: both rules agree)",
        leaf="recomputed from your nonce and balances",
        path="recomputed to the root with the running totals, root balances compared",
        non_negative="checked: every amount and running total"
        if not negatives
        else f"violated: {len(negatives)} negative amounts (listed in the reasons)",
        pinned=pin is not None,
        totals_pinned=totals,
    )


def _negatives(proof: CoinexProof, sums: dict[str, Decimal]) -> list[str]:
    """Every negative amount: in the customer's balances, along the path, in the recomputed root totals."""
    return [
        f"{where} {c} {decimal_text(x)}"
        for where, b in [("self", proof.balances), *[(s.where, s.balances) for s in proof.path], ("root", sums)]
        for c, x in b.items()
        if x < 0
    ]


class CoinexFormat(ProofOnlyFormat):
    name, exchange, design = "coinex", "CoinEx", DESIGN

    def detect_proof(self, doc: Any) -> str | None:
        if (
            isinstance(doc, dict)
            and isinstance(doc.get("root"), dict)
            and isinstance(doc.get("self"), dict)
            and "path" in doc
            and "nonce" in doc["self"]
        ):
            return "coinex"
        return None

    def verify_document(self, raw: bytes, source: str, pins: Pins, customer: Customer | None) -> Verdict:
        return verify_coinex(parse_coinex(raw, source), pins=pins)


FORMAT = CoinexFormat()
