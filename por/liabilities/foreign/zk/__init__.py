"""The zk proof-of-solvency family: `binance-zk`, `gate-zk`, `htx-zk` (rules in `user`, `table`,
Poseidon in `poseidon`).

A user proof shows that a leaf committing to the customer's id hash, totals and assets is in
a Poseidon account tree under a root; the proof table (`--tree proof.csv`) ties that root to
the audit's chain of batches, and the asset list (`--config`) to the exchange's published
totals and prices. The sums and their non-negativity are proved only by Groth16 proofs whose
verifying keys no exchange publishes: every verdict says they were not checked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from por.errors import InputError
from por.liabilities.foreign.common import (
    SUMS_IN_ZK_PROOF,
    Customer,
    Design,
    compare_root,
    describe,
    pinned_of,
    pinned_root,
    read_json,
    root_binding,
)
from por.liabilities.foreign.zk.table import AssetList, check_table, read_asset_list, read_table
from por.liabilities.foreign.zk.user import HISTORY, TIERS, ZkUser, counts_that_verify, detect_user, parse_user
from por.liabilities.pins import Pins
from por.verdict import RootBinding, Verdict

__all__ = ["verify_zk_user", "verify_zk_table", "FORMAT", "DESIGN"]

DESIGN = Design(
    hash="Poseidon over BN254 (bnb-chain/gnark-crypto fork)",
    bits=254,
    sums=SUMS_IN_ZK_PROOF,
    labels="by asset index (an index's symbol comes from the audit's asset list)",
    root_binds_totals=True,
    root_binds_labels=True,
)
GROTH16 = (
    "not checked: the batches' Groth16 proofs need the exchange's verifying key, which it does not "
    "publish (these proofs alone show the sums and that no balance is negative)"
)
NAMES = {"gate-zk": "Gate.io", "htx-zk": "HTX", "binance-zk": "Binance"}
_V2_BLOCKED = (
    "Binance's 2024 proofs pin bnb-chain/gnark-crypto 609ab3a, whose Poseidon por cannot check "
    "against that fork's code or vectors: a failure here may be a rule por lacks, not a defect"
)


def verify_zk_user(
    user: ZkUser,
    expected_root: str | None = None,
    *,
    pins: Pins | None = None,
    table: Path | None = None,
    config: Path | None = None,
) -> Verdict:
    """The leaf from the customer's values, the 28-level path, the root; the audit's asset count
    from the proof table or found; with the table and asset list, the audit's chain and totals."""
    pinned = pinned_of(expected_root, pins)
    root_hex = f"{user.root:064x}"
    names = ("balance",) if user.layout == "htx" else ("equity", "debt", "loan", "margin", "portfolio_margin")
    assets = [{"index": a[0], **dict(zip(names, map(str, a[1:])))} for a in user.assets]
    v = Verdict.start(
        root=root_hex,
        account_index=user.index,
        account_id_hash=f"{user.id_hash:064x}",
        totals=dict(zip(("equity", "debt", "collateral"), map(str, user.totals))),
        assets=assets,
    )
    pin = pinned_root(pinned.root, 64, NAMES[user.fmt], v)
    asset_list = read_asset_list(config) if config is not None else None
    count = _against_table(v, user, table, asset_list, root_hex) if table is not None else None
    _recompute(v, user, count)
    if asset_list is not None:
        _against_asset_list(v, user, asset_list)
    if user.layout == "htx" and any(a[1] < 0 for a in user.assets):
        v.fail("a negative Balance: HTX hashes |Balance|, so the sign is bound by nothing")
    compare_root(v, root_hex, pin)
    return describe(
        v,
        DESIGN,
        fmt=user.fmt,
        variant=v.facts.get("variant"),
        leaf="recomputed from your account id hash, totals and assets",
        path="28 levels recomputed to the root"
        + (", and the root found at the end of the proof table" if table else ""),
        non_negative="not checkable from this file: only the Groth16 proofs show it",
        pinned=pin is not None,
        zk_proof=GROTH16,
        extra_checked=[f"asset count: {v.facts['asset_count']} ({v.facts['asset_count_from']})"]
        if v.facts.get("asset_count")
        else (),
        extra_not_checked=(["the sign of each Balance: HTX hashes |Balance|"] if user.layout == "htx" else [])
        + ([] if table else ["the audit's batch chain: give its proof table (--tree proof.csv)"]),
    )


def _against_table(v: Verdict, user: ZkUser, table: Path, asset_list: AssetList | None, root_hex: str) -> int:
    """The audit's proof table: its batch chain, and the user's root at its end; returns its asset count."""
    reasons, facts = check_table(read_table(table), user.fmt, asset_list, str(table))
    v.reasons.extend(reasons)
    v.ok = v.ok and not reasons
    v.facts["proof_table"] = facts
    if facts["final_root"] != root_hex:
        v.fail(f"root {root_hex} is not the proof table's final root {facts['final_root']}")
    return facts["asset_count"]


def _recompute(v: Verdict, user: ZkUser, count: int | None) -> None:
    if user.layout == "v2":
        tiers = [t for t in TIERS if t >= len(user.assets)]
        found = counts_that_verify(user, tiers)
        v.facts["variant"] = "binance-zk v2 (2024: six fields per asset, tiers, TotalCollateral)"
        if found:
            v.facts.update(asset_count=found[0], asset_count_from="the asset tier under which the root recomputes")
        else:
            v.fail(
                f"the root does not recompute under Binance's 2024 rules as por knows them (tiers "
                f"{', '.join(map(str, tiers))}): {_V2_BLOCKED}"
            )
        return
    v.facts["variant"] = {
        "htx": "htx-zk (one |Balance| per asset)",
        "v1": f"{user.fmt} v1 (equity and debt per asset, three per element)",
    }[user.layout]
    tried = [count] if count is not None else list(HISTORY[user.fmt])
    found = counts_that_verify(user, tried)
    if found:
        v.facts.update(
            asset_count=found[0],
            asset_count_from="the audit's proof table"
            if count is not None
            else f"the count, of those {NAMES[user.fmt]}'s audits used ({', '.join(map(str, tried))}), under "
            "which the root recomputes",
        )
    elif count is not None:
        v.fail(f"the root does not recompute with the audit's {count} assets (from the proof table)")
    else:
        v.fail(
            f"the root does not recompute under the asset counts {NAMES[user.fmt]}'s audits used "
            f"({', '.join(map(str, tried))}): give the audit's proof table (--tree proof.csv) to find its count"
        )


def _against_asset_list(v: Verdict, user: ZkUser, assets: AssetList) -> None:
    """The customer's totals are their assets at the audit's prices (Gate.io, Binance v1)."""
    names = {a["index"]: assets.symbols.get(a["index"]) for a in v.facts["assets"]}
    for a in v.facts["assets"]:
        a["symbol"] = names[a["index"]]
    missing = [i for i, s in names.items() if s is None]
    if missing:
        v.fail(f"assets {missing} are not in the audit's asset list {assets.source}")
        return
    if assets.layout == "gate" and user.layout == "v1":
        equity = sum(a[1] * assets.assets[a[0]][2] for a in user.assets)
        debt = sum(a[2] * assets.assets[a[0]][2] for a in user.assets)
        if (equity, debt) != tuple(user.totals[:2]):
            v.fail(f"the totals are not your assets at the audit's prices (equity {equity}, debt {debt})")
        else:
            v.facts.setdefault("checked", []).append("totals: your assets at the audit's prices")


def verify_zk_table(
    name: str, path: Path, expected_root: str | None = None, *, pins: Pins | None = None, config: Path | None = None
) -> Verdict:
    """A proof table on its own: every batch commitment, the chain, the empty start, the asset list."""
    pinned = pinned_of(expected_root, pins)
    batches = read_table(path)
    asset_list = read_asset_list(config) if config is not None else None
    if name != "zk-proof-table":
        fmt, (reasons, facts) = name, check_table(batches, name, asset_list, str(path))
    else:  # which layout: the counts the exchanges used first, then a full scan
        tries = ((n, scan) for scan in (False, True) for n in ("htx-zk", "gate-zk"))
        results = ((n, *check_table(batches, n, asset_list, str(path), scan)) for n, scan in tries)
        fmt, reasons, facts = next((r for r in results if r[2]["asset_count"]), None) or (
            "gate-zk",
            *check_table(batches, "gate-zk", asset_list, str(path), False),
        )
    v = Verdict(ok=not reasons, reasons=list(reasons), facts={**facts, "root": facts["final_root"]})
    pin = pinned_root(pinned.root, 64, "zk", v)
    compare_root(v, facts["final_root"], pin)
    variant = (
        fmt
        if name != "zk-proof-table"
        else (
            "htx-zk" if fmt == "htx-zk" else "gate-zk or binance-zk v1 (one layout: the table cannot tell them apart)"
        )
    )
    return describe(
        v,
        DESIGN,
        fmt=name,
        variant=variant,
        leaf="no leaf: a proof table holds batch roots, not accounts",
        path="every batch commitment recomputed and the batches chained from the empty tree",
        non_negative="not checkable from the table: only the Groth16 proofs show it",
        pinned=pin is not None,
        zk_proof=GROTH16,
    )


class ZkFormat:
    proof_formats = ("gate-zk", "htx-zk", "binance-zk")
    tree_formats = ("gate-zk", "htx-zk", "binance-zk", "zk-proof-table")
    reads_config = True

    def root_binding(self, name: str) -> RootBinding:
        return root_binding(DESIGN, NAMES.get(name, "zk proof table"))

    def detect_proof(self, doc: Any) -> str | None:
        return detect_user(doc)

    def detect_tree(self, first_line: bytes) -> str | None:
        return "zk-proof-table" if first_line.startswith(b'"id","created_at","updated_at","deleted_at"') else None

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
        doc = read_json(raw, source)
        found = detect_user(doc)
        if found != name:
            raise InputError(f"not a {name} user proof" + (f" (it looks like {found})" if found else ""), file=source)
        user = parse_user(doc, source, name)
        return verify_zk_user(user, pins=pins, table=tree, config=config)

    def verify_tree(
        self,
        name: str,
        path: Path,
        *,
        pins: Pins,
        progress: Callable[[int], None] | None = None,
        config: Path | None = None,
    ) -> Verdict:
        return verify_zk_table(name, path, pins=pins, config=config)


FORMAT = ZkFormat()
