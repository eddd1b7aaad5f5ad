"""The audit use case: liabilities commitment + reserves at the snapshot + policy → one report.

`run_audit` does the whole job and returns an `AuditReport`; the CLI only parses
options, shows progress and prints or writes the report. Every input is parsed
and checked (policy, prices, wallets, snapshot, chains.toml) before the slow work:
recomputing the tree and reading the chains.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from chains.records import DeclaredWallet, Snapshot
from por import __version__
from por.audit.declarations import load_insurance, load_volumes, yen
from por.audit.policy import Policy, load_policy
from por.audit.prices import Prices, load_prices
from por.audit.reconcile import (
    ReconcileOptions,
    Reconciliation,
    check_custodians,
    check_prices,
    reconcile,
)
from por.audit.reserve import reserve_window
from por.errors import InputError
from por.liabilities.porjson import MAX_COMMITMENT_BYTES, Commitment, parse_commitment
from por.reserves.custodians import CustodianCheck, japan_date, load_custodians, load_custody_systems
from por.reserves.inputs import load_reserves_inputs, load_wallets
from por.reserves.read import ReservesPlan, ReservesReport, plan_reserves, read_planned
from por.strictjson import load_file

# progress(description, total) -> a context manager yielding advance(n); the CLI passes its progress bar
Progress = Callable[[str, int | None], AbstractContextManager[Callable[[int], None]]]


@contextlib.contextmanager
def no_progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    yield lambda advance: None


@dataclass
class AuditReport:
    """Everything the audit found; `to_json()` is the whole report (docs/formats/audit-report.schema.json)."""

    reconciliation: Reconciliation
    reasons: list[str]  # every reason the verdict is fail, in one list
    exchange: str
    snapshot_id: str
    liabilities: dict[str, Any]
    chains: dict[str, Any]
    generated_at: str
    por_version: str = __version__
    snapshot_time: str | None = None

    @property
    def ok(self) -> bool:
        return not self.reasons

    def to_json(self) -> dict[str, Any]:
        doc = self.reconciliation.to_json()
        doc.update(
            verdict="pass" if self.ok else "fail",
            ok=self.ok,
            reasons=list(self.reasons),
            exchange=self.exchange,
            snapshot_id=self.snapshot_id,
            snapshot_time=self.snapshot_time,
            generated_at=self.generated_at,
            por_version=self.por_version,
            liabilities=self.liabilities,
            chains=self.chains,
        )
        return doc


@dataclass(frozen=True)
class AuditInputs:
    """The files and declared amounts of one audit, as `run_audit` is given them."""

    commitment: Path
    wallets: Path
    snapshot: Path
    config: Path
    policy: str
    tree: Path | None
    prices: Path | None
    exchange: str | None
    also_claimed: list[Path] | None
    reserve_deposits_jpy: str | None
    insurance_jpy: str | None
    custodians: Path | None
    volumes: Path | None
    insurance: Path | None
    custody_systems: Path | None = None


@dataclass(frozen=True)
class _Checked:
    """Every input parsed and checked, before the slow work: what the tree and the chains are held to."""

    pinned: Commitment
    rules: Policy
    prices: Prices | None
    liabilities: dict[str, int]
    declared: list[DeclaredWallet]
    snap: Snapshot
    exchange: str
    plan: ReservesPlan  # every chain table and wallet checked
    options: ReconcileOptions


def run_audit(
    *,
    commitment: Path,
    wallets: Path,
    snapshot: Path,
    config: Path,
    policy: str,
    tree: Path | None = None,
    prices: Path | None = None,
    exchange: str | None = None,
    also_claimed: list[Path] | None = None,
    reserve_deposits_jpy: str | None = None,
    insurance_jpy: str | None = None,
    custodians: Path | None = None,
    volumes: Path | None = None,
    insurance: Path | None = None,
    custody_systems: Path | None = None,
    progress: Progress = no_progress,
) -> AuditReport:
    """Does the exchange hold what it owes, under this policy? Bad input raises InputError before slow work."""
    inputs = AuditInputs(
        commitment,
        wallets,
        snapshot,
        config,
        policy,
        tree,
        prices,
        exchange,
        also_claimed,
        reserve_deposits_jpy,
        insurance_jpy,
        custodians,
        volumes,
        insurance,
        custody_systems,
    )
    checked = _check_inputs(inputs)
    pinned, snap = checked.pinned, checked.snap
    reasons, tree_verified = _recompute_tree(tree, pinned, progress)
    if snap.snapshot_id != pinned.snapshot_id:
        reasons.append(f"the snapshot file is for {snap.snapshot_id!r}, the commitment for {pinned.snapshot_id!r}")
    with progress("reading reserves at the snapshot", len(checked.declared)) as advance:
        reserves = asyncio.run(read_planned(checked.plan, progress=advance))
    decimals = {a.symbol: a.decimals for a in pinned.assets} | {a.asset: a.decimals for a in reserves.assets.values()}
    result = reconcile(
        checked.liabilities,
        reserves.rows,
        checked.rules,
        assets=decimals,
        prices=checked.prices,
        options=checked.options,
    )
    reasons += [
        f"ownership proof failed for {r.wallet.chain} {r.wallet.address} ({r.wallet.source}): {r.ownership.reason}"
        for r in reserves.rows
        if not (r.ownership.ok or r.ownership.unsupported)
    ]
    reasons += result.reasons
    return _report(checked, reserves, result, reasons, tree_verified)


def _report(
    checked: _Checked, reserves: ReservesReport, result: Reconciliation, reasons: list[str], tree_verified: bool | None
) -> AuditReport:
    pinned = checked.pinned
    return AuditReport(
        reconciliation=result,
        reasons=reasons,
        exchange=checked.exchange,
        snapshot_id=pinned.snapshot_id,
        liabilities={
            "root": pinned.root.hex(),
            "leaf_count": pinned.leaf_count,
            "tree_verified": tree_verified,
            "totals": pinned.to_json()["totals"],
        },
        chains=chains_read(reserves.to_json()["chains"], reserves.rows),
        generated_at=_now(),
        snapshot_time=(pinned.snapshot_time if pinned.version >= 2 else None) or checked.snap.time,
    )


def _check_inputs(inputs: AuditInputs) -> _Checked:
    """Policy, prices, wallets, snapshot, chains.toml, custodians and the declared amounts, in that order."""
    pinned = parse_commitment(
        load_file(inputs.commitment, MAX_COMMITMENT_BYTES, " for a commitment"), str(inputs.commitment)
    )
    rules = load_policy(inputs.policy)
    price_table = load_prices(inputs.prices) if inputs.prices else None
    liabilities = {a.symbol: total for a, total in zip(pinned.assets, pinned.totals)}
    check_prices(rules, liabilities, price_table)
    declared, snap, chains, exchange = load_reserves_inputs(
        inputs.wallets, inputs.snapshot, inputs.config, inputs.exchange, commitment_exchange=pinned.exchange
    )
    plan = plan_reserves(declared, snap, chains, exchange)  # every chain table and wallet checked: no slow work yet
    options = _reconcile_options(inputs, rules, pinned, snap, declared)
    return _Checked(pinned, rules, price_table, liabilities, declared, snap, exchange, plan, options)


def _reconcile_options(
    inputs: AuditInputs, rules: Policy, pinned: Commitment, snap: Snapshot, declared: list[DeclaredWallet]
) -> ReconcileOptions:
    """The custodians registry, the custody-system providers' notifications and the declared reserve
    deposits, insurance and volumes, on the snapshot day."""
    reserve = rules.liability_reserve
    day = None
    lists = inputs.custodians is not None or inputs.custody_systems is not None
    if lists or inputs.insurance is not None or (reserve and reserve.method == "trading_volume"):
        day = snapshot_day(pinned.snapshot_time if pinned.version >= 2 else None, snap.time)
    registry = None
    if lists and day:
        registry = CustodianCheck(
            None if inputs.custodians is None else load_custodians(inputs.custodians),
            day,
            None if inputs.custody_systems is None else load_custody_systems(inputs.custody_systems),
        )
    check_custodians(rules, declared, registry)
    if inputs.insurance is not None and inputs.insurance_jpy is not None:
        raise InputError(
            "give the insurance as a file (--insurance) or as one amount (--insurance-jpy), not both",
            field="--insurance-jpy",
        )
    deposits, insurance_jpy = inputs.reserve_deposits_jpy, inputs.insurance_jpy
    options = ReconcileOptions(
        custodians=registry,
        also_claimed=claims_of_others(inputs.also_claimed or []),
        reserve_deposits_jpy=None if deposits is None else yen_option(deposits, "--reserve-deposits-jpy"),
        insurance_jpy=None if insurance_jpy is None else yen_option(insurance_jpy, "--insurance-jpy"),
        volumes=None if inputs.volumes is None else load_volumes(inputs.volumes),
        insurance=None if inputs.insurance is None else load_insurance(inputs.insurance),
        snapshot_day=day,
    )
    if reserve and reserve.method == "trading_volume":
        reserve_window(reserve, options.volumes, day)  # a missing month is bad input before slow work
    return options


def _recompute_tree(tree: Path | None, pinned: Commitment, progress: Progress) -> tuple[list[str], bool | None]:
    """With --tree, every node recomputed against the commitment: (reasons it fails, verified or None)."""
    if tree is None:
        return [], None
    from por.liabilities.tree import level_sizes
    from por.liabilities.treefile import verify_tree_file  # numpy: only when a tree is recomputed

    below_root = sum(level_sizes(pinned.leaf_count)[:-1])  # the nodes whose parents are recomputed
    with progress("recomputing the liabilities tree", below_root) as advance:
        tree_verdict = verify_tree_file(tree, pinned, progress=advance)
    return [f"liabilities tree: {r}" for r in tree_verdict.reasons], tree_verdict.ok


def yen_option(text: str, option: str) -> Decimal:
    return yen(text.strip(), None, option)


def snapshot_day(commitment_time: str | None, snapshot_file_time: str | None) -> date:
    """The snapshot's calendar day in Japan: the commitment's time (format 2 binds it), else the snapshot file's."""
    for moment, field in ((commitment_time, "snapshot_time"), (snapshot_file_time, "time")):
        if moment:
            return japan_date(moment, field)
    raise InputError(
        "dates are checked against the snapshot time: use a format-2 commitment (snapshot_time) or "
        "give `time` in the snapshot file",
        field="--snapshot",
    )


def chains_read(chains: dict[str, dict[str, Any]], rows: list[Any]) -> dict[str, dict[str, Any]]:
    """Per chain: the snapshot height and block hash, and the providers that agreed on its balances."""
    providers: dict[str, set[str]] = {}
    for row in rows:
        names = [p.strip() for p in (row.provider or "").split(", ") if p.strip()]
        providers.setdefault(row.wallet.chain, set()).update(names)
    return {name: {**info, "providers": sorted(providers.get(name, ()))} for name, info in chains.items()}


def claims_of_others(paths: list[Path]) -> dict[tuple[str, str], str]:
    """(chain, address) → the other exchange that also declares it."""
    claims = {}
    for path in paths:
        wallets, name = load_wallets(path)
        for w in wallets:
            claims[(w.chain, w.address)] = name or path.stem
    return claims


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
