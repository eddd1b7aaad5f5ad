"""What a period's audit report says about its reserves, read back from the report's JSON.

`por history --audit REPORT.json` plots the reserve ratio of the periods an auditor reported
on; this reads only what that needs (snapshot, the commitment root the audit checked, the
verdict, each asset's coverage) and refuses anything else as bad input (exit 2).
The coverage ratio is the report's own (rounded down, display only): exact Fractions from its
decimal text, never floats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from por.audit.reconcile import REPORT_FORMAT
from por.strictjson import Fields, load_file

MAX_REPORT_BYTES = 64 << 20
_RATIO_RE = re.compile(r"[0-9]+(\.[0-9]+)?\Z")


@dataclass(frozen=True)
class AuditSummary:
    source: str
    exchange: str
    snapshot_id: str
    root: str  # hex root of the liabilities commitment the audit read
    verdict: str  # "pass" or "fail"
    coverage: dict[str, Fraction | None]  # asset -> reserves counted / liabilities (None: nothing owed)


def parse_audit_summary(doc: Any, source: str) -> AuditSummary:
    f = Fields(doc, source)
    if f.get("format", str) != REPORT_FORMAT:
        raise f.error("format", f"not a por audit report (expected {REPORT_FORMAT!r})")
    liabilities = f.obj("liabilities")
    root = liabilities.hex("root", 32).hex()
    verdict = f.str("verdict")
    if verdict not in ("pass", "fail"):
        raise f.error("verdict", "expected 'pass' or 'fail'")
    coverage: dict[str, Fraction | None] = {}
    for asset in f.objects("assets", max_items=10_000):
        symbol = asset.str("asset", max_len=32)
        ratio = asset.get("coverage_ratio", (str, type(None)))
        coverage[symbol] = None if ratio is None else _ratio(asset, ratio)
    return AuditSummary(
        source, f.str("exchange", max_len=200), f.str("snapshot_id", max_len=200), root, verdict, coverage
    )


def _ratio(asset: Fields, text: str) -> Fraction:
    if len(text) > 60 or not _RATIO_RE.match(text):
        raise asset.error("coverage_ratio", f"{text[:40]!r} is not a plain decimal ratio")
    whole, _, frac = text.partition(".")
    return Fraction(int(whole + frac), 10 ** len(frac))


def load_audit_summary(path: Path) -> AuditSummary:
    return parse_audit_summary(load_file(path, MAX_REPORT_BYTES, " for an audit report"), str(path))
