"""OKX's published proofs: V1 inclusion paths, V2 user files and full trees (rules in `rules`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from por.liabilities.foreign.common import Customer
from por.liabilities.foreign.okx.anchor import UNBOUND
from por.liabilities.foreign.okx.proofs import (
    OkxV1Proof,
    OkxV2User,
    parse_okx_v1_proof,
    parse_okx_v2_user,
    verify_okx_v1,
    verify_okx_v2_user,
)
from por.liabilities.foreign.okx.rules import COINS
from por.liabilities.foreign.okx.tree import TreeScan, scan_okx_v2_tree, verify_okx_v2_tree
from por.liabilities.pins import Pins
from por.verdict import RootBinding, Verdict

__all__ = [
    "COINS",
    "OkxV1Proof",
    "OkxV2User",
    "TreeScan",
    "parse_okx_v1_proof",
    "parse_okx_v2_user",
    "verify_okx_v1",
    "verify_okx_v2_user",
    "scan_okx_v2_tree",
    "verify_okx_v2_tree",
    "FORMAT",
    "OkxFormat",
]


class OkxFormat:
    """OKX behind `por.liabilities.foreign.base.ForeignFormat`."""

    proof_formats = ("okx-v1", "okx-v2")
    tree_formats = ("okx-v2",)
    # OKX's parent hash concatenates amount texts and the height without separators: its root
    # does not bind the totals or the height unambiguously, so a root alone anchors nothing.
    ROOT_BINDING = RootBinding(labels=False, totals=False, name="an OKX file", unbound=UNBOUND)

    def root_binding(self, name: str) -> RootBinding:
        return self.ROOT_BINDING

    def detect_proof(self, doc: Any) -> str | None:
        if isinstance(doc, dict):
            if "path" in doc and "format" not in doc:
                return "okx-v1"
            if "nodes" in doc and "totalBalances" in doc:
                return "okx-v2"
        return None

    def detect_tree(self, first_line: bytes) -> str | None:
        if b"," in first_line and first_line.split(b",", 1)[0].strip().isalnum():
            return "okx-v2"
        return None

    def verify_proof(
        self,
        name: str,
        raw: bytes,
        source: str,
        *,
        pins: Pins,
        tree: Path | None = None,
        customer: Customer | None = None,
        config: Path | None = None,
    ) -> Verdict:
        if name == "okx-v1":
            return verify_okx_v1(parse_okx_v1_proof(raw, source), pins)
        return verify_okx_v2_user(parse_okx_v2_user(raw, source), tree, pins)

    def verify_tree(
        self,
        name: str,
        path: Path,
        *,
        pins: Pins,
        progress: Callable[[int], None] | None = None,
        config: Path | None = None,
    ) -> Verdict:
        return verify_okx_v2_tree(path, pins, progress=progress)


FORMAT = OkxFormat()
