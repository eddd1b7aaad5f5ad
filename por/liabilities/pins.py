"""What the user pinned a verification to: a commitment, a root, and the totals the exchange published.

A root hash says *which* tree; it does not always say *how much* it owes. OKX's root
joins amount texts without separators, and a por v1 root binds amounts by position
only, so a customer can also pin the per-asset totals the exchange published, in a
small file (`--totals FILE`, docs/formats/totals.schema.json):

    {"format": "por-totals", "version": 1,
     "totals": {"BTC": "95088.55505656", "ETH": "939953.49090361", "USDT": "3137909428.88369702"}}

Totals are compared by asset name and exact value, never by position. A pinned file
is input to *use*: a defect in it is bad input (exit 2), not a failed verification.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from por.amounts import check_asset_symbol, format_amount
from por.errors import InputError
from por.liabilities.porjson import Commitment
from por.liabilities.tree import MAX_ASSETS
from por.signing import digest_hex
from por.strictjson import Fields, load_file
from por.verdict import Verdict

TOTALS_FORMAT = "por-totals"
TOTALS_VERSION = 1
# One spelling per number, as in every por document: no sign, exponent, leading or trailing zeros.
_DECIMAL_RE = re.compile(r"(0|[1-9][0-9]{0,59})(?:\.[0-9]{0,59}[1-9])?\Z")


@dataclass(frozen=True)
class PublishedTotals:
    """Per-asset totals an exchange published, read from `--totals FILE`."""

    source: str  # the file, named in reasons
    totals: dict[str, Decimal]  # asset symbol -> exact amount in whole units
    snapshot_id: str | None = None
    published_at: str | None = None  # where the exchange published them (free text, shown only)


def parse_totals(data: Any, source: str) -> PublishedTotals:
    f = Fields(data, source).only("format", "version", "totals", "snapshot_id", "published_at")
    if f.str("format", max_len=64) != TOTALS_FORMAT:
        raise f.error("format", f"expected {TOTALS_FORMAT!r}")
    if f.int("version") != TOTALS_VERSION:
        raise f.error("version", f"unsupported version (this por reads version {TOTALS_VERSION})")
    obj = f.obj("totals")
    if not obj.data:
        raise f.error("totals", "no assets")
    if len(obj.data) > MAX_ASSETS:
        raise f.error("totals", f"more than {MAX_ASSETS} assets")
    totals = {}
    for symbol in obj.data:
        try:
            check_asset_symbol(symbol)
        except InputError as exc:
            raise obj.error(symbol[:40], exc.reason) from None
        text = obj.get(symbol, str)
        if not _DECIMAL_RE.match(text):
            raise obj.error(
                symbol,
                f"{text[:40]!r} is not a canonical decimal (no sign, exponent, "
                "leading or trailing zeros; at most 60 digits each side)",
            )
        totals[symbol] = Decimal(text)
    snapshot_id = f.str("snapshot_id", optional=True, max_len=200)
    if snapshot_id == "":
        raise f.error("snapshot_id", "empty (leave it out when the totals name no snapshot)")
    return PublishedTotals(
        source=source,
        totals=totals,
        snapshot_id=snapshot_id,
        published_at=f.str("published_at", optional=True, max_len=1000),
    )


def read_totals(path: str | Path) -> PublishedTotals:
    return parse_totals(load_file(path), str(path))


@dataclass(frozen=True)
class Pins:
    """Everything the user pinned; `check_usage` has vetted the combination."""

    root: bytes | None = None
    commitment: Commitment | None = None
    totals: PublishedTotals | None = None
    # SHA-256 of the pinned commitment's canonical JSON (docs/formats/signing.md): what an anchor records
    commitment_digest: str | None = None

    @property
    def pinned_root(self) -> bytes | None:
        return self.commitment.root if self.commitment is not None else self.root

    @property
    def anchored(self) -> bool:
        return self.pinned_root is not None

    def published(self) -> tuple[dict[str, Decimal], str] | None:
        """(totals by asset, where they come from), from --totals or the commitment, else None."""
        if self.totals is not None:
            return self.totals.totals, self.totals.source
        if self.commitment is not None:
            c = self.commitment
            return {
                a.symbol: Decimal(format_amount(v, a.decimals)) for a, v in zip(c.assets, c.totals)
            }, "the commitment"
        return None


def check_usage(
    commitment: Commitment | None,
    root: bytes | None,
    totals: PublishedTotals | None,
    document: dict[str, Any] | None = None,
) -> Pins:
    """The pins, or bad input (exit 2) for a combination that would leave something unchecked;
    `document`: the commitment's JSON as read (its digest is what an anchor records)."""
    if totals is not None and commitment is not None:
        raise InputError(
            "give --totals with --root, not with --commitment (a commitment carries its own totals)", field="--totals"
        )
    if totals is not None and root is None:
        raise InputError(
            "needs --root: published totals say how much is owed, only a root says which tree", field="--totals"
        )
    digest = digest_hex(document) if document is not None else None
    return Pins(root=root, commitment=commitment, totals=totals, commitment_digest=digest)


def compare_totals(verdict: Verdict, shown: dict[str, str], published: dict[str, Decimal], source: str) -> None:
    """The document's totals (asset -> decimal text) against the published ones, by name and exact value."""
    missing = [s for s in published if s not in shown]
    extra = [s for s in shown if s not in published]
    if missing:
        verdict.fail(f"totals: {source} lists {', '.join(missing[:10])}, which the tree does not hold")
    if extra:
        verdict.fail(f"totals: the tree holds {', '.join(extra[:10])}, which {source} does not list")
    for symbol, text in shown.items():
        if symbol in published and Decimal(text) != published[symbol]:
            verdict.fail(f"totals: {symbol} {text} is not the published total {published[symbol]:f} ({source})")


def compare_snapshot(verdict: Verdict, totals: PublishedTotals, snapshot_id: str | None) -> None:
    """The totals file's snapshot id, when it names one, against the document's (None: it carries none)."""
    if totals.snapshot_id is None:
        return
    if snapshot_id is None:
        verdict.facts.setdefault("notes", []).append(
            f"{totals.source} names snapshot {totals.snapshot_id!r}: not checked, this file carries no snapshot id"
        )
    elif snapshot_id != totals.snapshot_id:
        verdict.fail(f"snapshot {snapshot_id!r} is not the published totals' {totals.snapshot_id!r} ({totals.source})")


def carried_anchor_problems(carried: dict[str, Any], digest: str | None, snapshot_id: str) -> list[str]:
    """A proof's anchor that names another commitment (`digest`: the pinned one's, None when no
    commitment is pinned) or another period than the proof's is the exchange contradicting itself:
    it fails, even before the chain is read."""
    problems = []
    if carried.get("snapshot_id") != snapshot_id:
        problems.append(
            f"the anchor this proof carries is for snapshot {str(carried.get('snapshot_id'))[:80]!r}, "
            f"not the proof's {snapshot_id!r}"
        )
    if digest is not None and carried.get("digest") != digest:
        problems.append(
            f"the anchor this proof carries records digest {str(carried.get('digest'))[:64]}, not the "
            f"pinned commitment's {digest}: the exchange anchored another commitment"
        )
    return problems


def judge_carried_anchor(verdict: Verdict, digest: str | None) -> None:
    """The one rule for the anchor a proof carries (`verdict.facts["anchor_claimed"]`), whichever
    path verified it (one proof, or a batch): named, never counted, until `--anchor` reads the chain;
    one that contradicts the pinned commitment (`digest`) or the proof's period fails."""
    carried = verdict.facts.get("anchor_claimed")
    if carried is None:
        return
    for problem in carried_anchor_problems(carried, digest, str(verdict.facts.get("snapshot_id", ""))):
        verdict.fail(problem)
    if digest is None:
        verdict.not_checked(
            "the digest in the anchor the proof carries (no commitment pinned to compare it with: --commitment)"
        )
    verdict.facts.setdefault("notes", []).append(
        f"anchor claimed: {carried.get('chain')}, transaction {carried.get('transaction')} (block "
        f"{carried.get('block')}) — not checked: check it on chain with --anchor --config chains.toml, "
        "or look it up in an explorer"
    )


def pinned_reference(commitment_path: Path | None, root_hex: str | None):
    """The trusted reference: a commitment file (with its JSON, for the signature: a pipe is read
    once) or a root hash; a bad reference is exit 2."""
    from por.kinds import refuse_wrong_kind
    from por.liabilities.porjson import MAX_COMMITMENT_BYTES, parse_commitment
    from por.strictjson import loads, read_bounded

    if commitment_path and root_hex:
        raise InputError("give --commitment or --root, not both", field="--root")
    if commitment_path:
        raw = read_bounded(Path(commitment_path), MAX_COMMITMENT_BYTES, " for a commitment")
        refuse_wrong_kind(raw, "commitment", str(commitment_path), field="--commitment")
        doc = loads(raw, str(commitment_path))
        return parse_commitment(doc, str(commitment_path)), None, doc
    if root_hex:
        # The format's native width: 64 hex digits (por, SHA-256), 32 (MEXC), 16 (Bitget,
        # merkletreejs leaves); a zk root is a field element, written with or without leading zeros.
        value = root_hex.strip().lower()
        if value.startswith("0x") and 0 < len(value) - 2 <= 64 and re.fullmatch(r"0x[0-9a-f]+", value):
            value = value[2:].rjust(64, "0") if len(value) - 2 not in (16, 32) else value[2:]
        if not re.fullmatch(r"[0-9a-f]{16}|[0-9a-f]{32}|[0-9a-f]{64}", value):
            raise InputError("expected 64 hex digits (16 or 32 for formats with shorter hashes)", field="--root")
        return None, bytes.fromhex(value), None
    return None, None, None
