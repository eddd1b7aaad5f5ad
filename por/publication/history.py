"""Periodic proofs: a chain of attestations, each commitment naming the exact
bytes of the one before it.

    "previous": {"snapshot_id": "<previous snapshot id>",
                 "sha256": "<SHA-256 of the previous commitment's canonical bytes, hex>"}

The link is inside the (signed) commitment, so an exchange cannot later swap an
old commitment for another one under the same snapshot id without breaking
the next period's link; a verifier who kept any later commitment catches it.
It hashes the bytes a signature covers (por.signing.canonical_bytes), so a copy
re-formatted on its way to a verifier is the same commitment, not an alarm; a
link to the file bytes (written before canonical links) is still honoured.
Pure functions over parsed periods; reading folders happens in por/cli/history.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chains.eip191 import recover_text_signer
from por import signing
from por.errors import InputError
from por.liabilities.porjson import Commitment
from por.strictjson import Fields
from por.verdict import SELF_CONSISTENT

PREVIOUS = "previous"


@dataclass(frozen=True)
class Link:
    snapshot_id: str
    sha256: str  # hex SHA-256 of the previous commitment's canonical bytes (or, legacy, its file bytes)


def link_for(doc: dict[str, Any], commitment: Commitment) -> dict[str, str]:
    """The "previous" member that links a new commitment to the old one (`doc`, as read):
    the digest its signature covers, so signing and linking name the same bytes."""
    return {"snapshot_id": commitment.snapshot_id, "sha256": signing.digest_hex(doc)}


def parse_link(doc: dict[str, Any], source: str) -> Link | None:
    if PREVIOUS not in doc:
        return None
    f = Fields(doc[PREVIOUS], source, PREVIOUS).only("snapshot_id", "sha256")
    return Link(f.str("snapshot_id", max_len=200), f.hex("sha256", 32).hex())


def snapshot_instant(commitment: Commitment) -> datetime | None:
    """The snapshot time as an aware UTC datetime, or None if it is not ISO 8601."""
    try:
        when = datetime.fromisoformat(commitment.snapshot_time)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def check_next(previous: Commitment, snapshot_id: str, snapshot_time: str, exchange: str) -> None:
    """What `por publish --previous` refuses up front (bad input, exit 2)."""
    if snapshot_id == previous.snapshot_id:
        raise InputError(f"the previous publication has the same snapshot id {snapshot_id!r}", field="--snapshot-id")
    if exchange != previous.exchange:
        raise InputError(f"the previous publication is by {previous.exchange!r}, not {exchange!r}", field="--exchange")
    before = snapshot_instant(previous)
    try:
        now = datetime.fromisoformat(snapshot_time) if snapshot_time else None
    except ValueError:
        raise InputError(f"{snapshot_time[:40]!r} is not an ISO 8601 time", field="--snapshot-time") from None
    if before and now:
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        if now <= before:
            raise InputError(
                f"snapshot time {snapshot_time} is not after the previous one ({previous.snapshot_time})",
                field="--snapshot-time",
            )


@dataclass
class Period:
    """One publication as `por history` sees it."""

    place: str  # folder or file, as the user named it
    raw_sha256: str  # of the commitment.json bytes
    doc: dict[str, Any]  # the JSON as read (what a signature covers)
    commitment: Commitment
    previous: Link | None
    problems: list[str] = field(default_factory=list)  # found at the I/O edge (tree file)
    digest: str = ""  # of its canonical bytes: the commitment's identity, whatever its spacing

    def __post_init__(self) -> None:
        self.digest = self.digest or signing.digest_hex(self.doc)

    @property
    def label(self) -> str:
        return f"{self.place} (snapshot {self.commitment.snapshot_id!r})"


@dataclass
class PeriodStatus:
    link: str = "first"  # "first", "ok", "broken", "missing"
    signature: signing.SignatureCheck | None = None


@dataclass
class ChainReport:
    periods: list[Period]  # in chain order
    status: list[PeriodStatus]
    findings: list[str]  # each names the period at fault
    notes: list[str]
    flagged: set[str] = field(default_factory=set)  # places of the periods at fault
    anchored: bool = False  # a signing key was pinned: every period is the exchange's own

    @property
    def ok(self) -> bool:
        """No problem found (the chain is at least self-consistent)."""
        return not self.findings

    @property
    def verified(self) -> bool:
        """No problem, and anchored to the pinned key: anyone can write a consistent chain of their own."""
        return self.ok and self.anchored

    @property
    def state(self) -> str:
        return "verified" if self.verified else "self-consistent" if self.ok else "failed"

    @property
    def unanchored_reason(self) -> str:
        return f"{SELF_CONSISTENT}: no signing key was pinned, so nothing ties these periods to the exchange"


def order(periods: list[Period]) -> list[Period]:
    """Chronological by snapshot time (as given when a time cannot be read)."""
    far = datetime.max.replace(tzinfo=UTC)
    return [p for _, _, p in sorted((snapshot_instant(p.commitment) or far, i, p) for i, p in enumerate(periods))]


def check_chain(periods: list[Period], signer: str | None) -> ChainReport:
    """Every link, every signature (against a pinned key), every edge problem."""
    findings = _Findings()
    notes: list[str] = []
    unique = _drop_repeats(periods, findings)
    chain = order(unique)
    status = [PeriodStatus() for _ in chain]
    exchanges = {p.commitment.exchange for p in chain}
    if len(exchanges) > 1:
        findings.append(f"periods are by different exchanges: {', '.join(sorted(map(repr, exchanges)))}")
    for i, period in enumerate(chain):
        for problem in period.problems:
            findings.at(period, problem)
        if snapshot_instant(period.commitment) is None:
            findings.at(period, f"snapshot time {period.commitment.snapshot_time!r} is not ISO 8601")
        if i == 0:
            if period.previous:
                notes.append(
                    f"the chain starts at {period.label}, which links to snapshot "
                    f"{period.previous.snapshot_id!r} (not given)"
                )
        else:
            status[i].link = _check_link(chain[i - 1], period, findings)
        signature = status[i].signature = signing.check(period.doc, signer, recover_text_signer)
        if signature.failed:
            findings.at(period, f"signature: {signature.text}")
    if signer is None:
        notes.append(f"signatures: {signing.NOT_CHECKED}: pin the exchange's key with --signer")
    return ChainReport(chain, status, list(findings), notes, findings.flagged, anchored=signer is not None)


class _Findings(list):
    """Finding texts, remembering which periods they blame."""

    def __init__(self) -> None:
        super().__init__()
        self.flagged: set[str] = set()

    def at(self, period: Period, reason: str) -> None:
        self.flagged.add(period.place)
        self.append(f"{period.label}: {reason}")


def _drop_repeats(periods: list[Period], findings: _Findings) -> list[Period]:
    """The same commitment twice (even re-formatted) is harmless; two different commitments
    for one snapshot id are equivocation."""
    seen: dict[str, Period] = {}
    unique = []
    for period in periods:
        first = seen.get(period.commitment.snapshot_id)
        if first is None:
            seen[period.commitment.snapshot_id] = period
            unique.append(period)
        elif first.digest != period.digest:
            findings.at(
                period,
                f"a different commitment under the same snapshot id as {first.place} "
                f"(canonical sha256 {period.digest[:16]}… vs {first.digest[:16]}…): "
                f"one of them was changed after publication",
            )
    return unique


def _check_link(before: Period, period: Period, findings: _Findings) -> str:
    link = period.previous
    when = snapshot_instant(period.commitment)
    if when is not None and when == snapshot_instant(before.commitment):
        findings.at(period, f"same snapshot time as {before.label}")
    if link is None:
        findings.at(
            period, f"no link to the previous period {before.commitment.snapshot_id!r} (published without --previous)"
        )
        return "missing"
    if link.snapshot_id != before.commitment.snapshot_id:
        findings.at(
            period,
            f"links to snapshot {link.snapshot_id!r}, but the period before it is "
            f"{before.commitment.snapshot_id!r} (a period is missing, or the link was altered)",
        )
        return "broken"
    if link.sha256 not in (before.digest, before.raw_sha256):  # the file bytes: a link made before 0.2
        findings.at(
            before,
            f"commitment.json is not the one snapshot {period.commitment.snapshot_id!r} "
            f"linked to: it was changed after publication "
            f"(canonical sha256 {before.digest}, linked {link.sha256})",
        )
        return "broken"
    return "ok"


def index_commitments(
    commitments: list[tuple[str, bytes, dict[str, Any], Commitment]],
) -> tuple[dict[str, tuple[str, dict[str, Any], Commitment]], list[str]]:
    """Pinned commitments by snapshot id, for checking one customer's proofs period by period.

    Input items are (place, raw bytes, JSON doc, parsed). Two different commitments for
    one snapshot id are a finding: the exchange showed two versions of that period (one
    file re-formatted is the same commitment).
    """
    by_snapshot: dict[str, tuple[str, dict[str, Any], Commitment]] = {}
    digests: dict[str, str] = {}
    findings = []
    for place, _raw, doc, commitment in commitments:
        digest = signing.digest_hex(doc)
        sid = commitment.snapshot_id
        if sid in by_snapshot:
            if digests[sid] != digest:
                findings.append(f"{place}: a different commitment for snapshot {sid!r} than {by_snapshot[sid][0]}")
            continue
        by_snapshot[sid] = (place, doc, commitment)
        digests[sid] = digest
    return by_snapshot, findings
