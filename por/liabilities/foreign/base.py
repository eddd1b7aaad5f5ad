"""The interface every foreign proof format implements.

A foreign format is one exchange's published proofs (OKX, Bybit, Bitget, MEXC, CoinEx, BitMEX,
merkletreejs trees, OKX zk-STARK, the Binance/Gate.io/HTX zk family). It says which
documents are its own (`detect_proof`, `detect_tree`), and verifies them into a
`Verdict` whose facts say what was checked and what was not (`anchored`: the
result was compared with a root the user supplied; `root_binding`: what that root
binds, so por.verdict can decide what anchors it). It compares its result with
everything the user pinned (`Pins`: root, commitment, published totals), or fails
saying what it cannot check: no pin is ever silently ignored. Parsing a document that is
its own but defective raises `InputError`; `por.liabilities.check` turns that
into a failed verification, because the document is what is under test.

Facts use one vocabulary across formats (`por.liabilities.foreign.common.describe`): what was
recomputed, how the hashes bind sums and labels, non-negativity, root pinned or from the file,
zk proofs checked or not, hash width and collision cost.

A full-tree format may also answer `verify-inclusion` for one customer (`customer`: account,
nonce, balances); a format that uses those options, or the audit's asset list (`config`), says
so (`check_customer`, `reads_config`), and `por.liabilities.check` refuses them (exit 2) for any
other: an option is never silently ignored.

Adding a format is one module in this package with an object that satisfies
`ForeignFormat`, and one line in `detect.FORMATS` (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from por.liabilities.foreign.common import Customer
from por.liabilities.pins import Pins
from por.verdict import RootBinding, Verdict


class ForeignFormat(Protocol):
    @property
    def proof_formats(self) -> tuple[str, ...]:
        """`--format` names of its inclusion proofs, e.g. ("okx-v1", "okx-v2")."""

    @property
    def tree_formats(self) -> tuple[str, ...]:
        """`--format` names of its full trees."""

    def root_binding(self, name: str) -> RootBinding:
        """What this format's root hash binds: whether a pinned root alone can anchor a result."""

    def detect_proof(self, doc: Any) -> str | None:
        """The proof format name if this parsed JSON document is one of this format's, else None."""

    def detect_tree(self, first_line: bytes) -> str | None:
        """The tree format name if a file starting with this line is one of this format's trees."""

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
        """One customer's proof; `tree`, when given, is the full tree its leaves must be in (zk: the
        audit's proof table). `customer` and `config` (the audit's asset list) are given only to a
        format that declares it reads them (`check_customer`, `reads_config`): por.liabilities.check
        refuses them for any other, so a format that does not read them may leave them aside.
        A full-tree format gets only the file's first bytes in `raw` and reads `source` itself."""

    def verify_tree(
        self,
        name: str,
        path: Path,
        *,
        pins: Pins,
        progress: Callable[[int], None] | None = None,
        config: Path | None = None,
    ) -> Verdict:
        """Every node of a full tree, recomputed; `config` as for `verify_proof`."""
