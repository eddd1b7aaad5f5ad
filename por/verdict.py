"""What a verification concludes: pass or fail, every reason, and the facts shown.

A result is VERIFIED only when it is anchored to something the user supplied
(issue 12: fail closed). A document that recomputes perfectly but was compared
with nothing is "self-consistent": the exchange could have made it up, so it is
NOT VERIFIED (exit 1), and says what to pin. `anchor_of` is the one place that
decides; every command and the offline page apply the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SELF_CONSISTENT = "self-consistent, but nothing to compare it with"


@dataclass(frozen=True)
class Pinned:
    """What the user supplied to compare a result with, from a source they trust."""

    commitment: bool = False  # the published commitment.json
    root: bool = False  # a root hash
    totals: bool = False  # the published per-asset totals
    signer: bool = False  # the exchange's signing key


@dataclass(frozen=True)
class RootBinding:
    """What a format's root hash commits to besides the balances in their positions."""

    labels: bool  # asset symbols and decimals, snapshot, leaf count and height
    totals: bool  # the per-asset totals and the height, in one unambiguous reading
    name: str  # the documents, as a verdict names them ("a por format 2 document")
    unbound: str = ""  # what the root does not bind, in words
    legacy: str | None = None  # a note shown with every verdict of this format


POR_V2 = RootBinding(labels=True, totals=True, name="a por format 2 document")
POR_V1 = RootBinding(
    labels=False,
    totals=True,
    name="a por format 1 (legacy) document",
    unbound="the asset labels, snapshot id or leaf count",
    legacy="legacy: labels not bound",
)


def anchor_of(pins: Pinned, binding: RootBinding) -> tuple[str | None, str | None]:
    """(what the result is anchored to, None) or (None, why nothing anchors it): the one rule.

    A commitment anchors (the verifier compares every field of it); a root anchors
    when the format's root binds every label and total, or when the totals are
    pinned beside it; nothing else does. A pinned signer needs a commitment (the
    key signs it): commands refuse one without (usage error) before getting here.
    """
    if pins.commitment:
        return "the pinned commitment", None
    if pins.root and pins.totals:
        return "the pinned root and totals", None
    if pins.root and binding.labels and binding.totals:
        return "the pinned root", None
    if pins.root:
        return None, (
            f"the root of {binding.name} does not bind {binding.unbound}, so a pinned root alone "
            f"anchors nothing: give the published commitment, or the published totals beside the root"
        )
    return None, "no published commitment or root was given"


@dataclass
class Verdict:
    ok: bool  # no defect found and, once concluded, anchored
    reasons: list[str] = field(default_factory=list)  # why it is not verified (empty when verified)
    facts: dict[str, Any] = field(default_factory=dict)  # what was verified, for output
    anchor: str | None = None  # what it was compared with; None: nothing
    consistent: bool | None = None  # set by `conclude`: no defect in the document

    def fail(self, reason: str) -> Verdict:
        self.ok = False
        self.consistent = False
        self.reasons.append(reason)
        return self

    @classmethod
    def start(cls, **facts: Any) -> Verdict:
        return cls(ok=True, facts=dict(facts))

    @property
    def verified(self) -> bool:
        return self.ok and self.anchor is not None

    @property
    def state(self) -> str:
        """ "verified"; "self-consistent" (no defect, but nothing to compare it with); or "failed"."""
        if self.verified:
            return "verified"
        return "self-consistent" if self.consistent and self.anchor is None else "failed"

    def checked(self, what: str) -> None:
        self.facts.setdefault("checked", []).append(what)

    def not_checked(self, what: str) -> None:
        self.facts.setdefault("not_checked", []).append(what)

    def conclude(self, pins: Pinned, binding: RootBinding) -> Verdict:
        """Applies the rule (`anchor_of`) and says what anchors the result, or why nothing does.

        Call it once, when every check of the document has run; a failure found
        after it (a signature) still turns the state to "failed".
        """
        anchor, why = anchor_of(pins, binding)
        self.anchor = anchor
        self.consistent = self.ok
        self.facts["anchor"] = anchor
        if binding.legacy:
            self.facts.setdefault("notes", []).append(binding.legacy)
        if anchor is None and self.ok:
            self.ok = False
            self.reasons.append(f"{SELF_CONSISTENT}: {why}")
        if anchor is None:
            self.not_checked("the result against anything the exchange published (nothing pinned anchors it)")
        else:
            self.checked(f"anchored to {anchor}")
        return self
