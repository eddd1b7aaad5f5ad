"""Reserves at the snapshot: ownership proofs checked, balances read at the snapshot height.

This is the I/O edge of the reserves side: it drives the chain adapters
(`chains/`), checks every provider sits on the snapshot's block and that the
block is buried deep enough, and hands plain records to the reconciler.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chains import family_module
from chains.base import BalanceQuery, ChainAdapter, ChainConfig, ChainFamily, min_confirmations
from chains.records import AddressReserve, DeclaredWallet, OwnershipResult, Snapshot, ownership_message
from por.amounts import AssetTable, format_amount
from por.errors import InputError, ProviderError
from por.reserves.classify import address_key, duplicate_positions, not_counted, ownership_status
from por.reserves.custodians import CustodianCheck

MakeAdapter = Callable[[str, ChainConfig], ChainAdapter]  # (chain name, its chains.toml table) -> adapter


@dataclass
class AssetReserves:
    asset: str
    decimals: int
    cold: int = 0
    hot: int = 0
    own: int = 0

    @property
    def customer(self) -> int:
        return self.cold + self.hot

    @property
    def total(self) -> int:
        return self.cold + self.hot + self.own


@dataclass
class ReservesReport:
    exchange: str
    snapshot: Snapshot
    rows: list[AddressReserve]
    assets: dict[str, AssetReserves] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every proof por can check verified; an unsupported kind is a per-address finding, not a failure."""
        return all(row.ownership.ok or row.ownership.unsupported for row in self.rows)

    @property
    def unsupported(self) -> list[AddressReserve]:
        return [row for row in self.rows if row.ownership.unsupported]

    def to_json(self) -> dict[str, Any]:
        decimals = {a.asset: a.decimals for a in self.assets.values()}
        return {
            "exchange": self.exchange,
            "snapshot_id": self.snapshot.snapshot_id,
            "verified": self.ok,
            "unsupported": len(self.unsupported),
            "chains": {
                c.chain: {"height": c.height, "block_hash": c.block_hash} for c in self.snapshot.chains.values()
            },
            "addresses": [
                {
                    "chain": r.wallet.chain,
                    "asset": r.wallet.asset,
                    "address": r.wallet.address,
                    "wallet_type": r.wallet.wallet_type.value,
                    "source": r.wallet.source,
                    "ownership": {
                        "verified": r.ownership.ok,
                        "status": ownership_status(r),
                        "reason": r.ownership.reason,
                    },
                    "balance": None if r.amount is None else format_amount(r.amount, decimals[r.wallet.asset]),
                    "height": r.height,
                    "provider": r.provider,
                    "flags": r.flags,
                    "custodian": None
                    if r.wallet.custodian is None
                    else {"name": r.wallet.custodian.name, "registration": r.wallet.custodian.registration},
                    "custody_system": None
                    if r.wallet.custody_system is None
                    else {"name": r.wallet.custody_system.name, "notification": r.wallet.custody_system.notification},
                }
                for r in self.rows
            ],
            "assets": {
                a.asset: {k: format_amount(getattr(a, k), a.decimals) for k in ("cold", "hot", "own", "total")}
                for a in self.assets.values()
            },
        }


def asset_decimals(asset: str, config: ChainConfig, table: AssetTable) -> int:
    token = (config.get("tokens") or {}).get(asset)
    if isinstance(token, dict) and isinstance(token.get("decimals"), int):
        return token["decimals"]
    return table.decimals(asset)


def summarize(
    rows: list[AddressReserve], decimals: dict[str, int], custodians: CustodianCheck | None = None
) -> dict[str, AssetReserves]:
    """Per asset cold/hot/own of proven addresses; an address counts once however often declared."""
    out = {asset: AssetReserves(asset, d) for asset, d in sorted(decimals.items())}
    counted_at: dict[tuple[str, str, str], str] = {}
    for row in rows:
        key = address_key(row.wallet)
        unregistered = custodians.reason(row.wallet) if custodians else None
        if not_counted(row, counted_at=counted_at.get(key), unregistered=unregistered) is not None:
            continue
        counted_at[key] = row.wallet.source
        bucket = out[row.wallet.asset]
        setattr(bucket, row.wallet.wallet_type.value, getattr(bucket, row.wallet.wallet_type.value) + row.amount)
    return out


def check_custodians(report: ReservesReport, custodians: CustodianCheck) -> None:
    """`por reserves --custodians/--custody-systems`: flags every wallet at an unregistered custodian or on
    a provider not notified, and recounts without it."""
    for row in report.rows:
        reason = custodians.reason(row.wallet)
        if reason is not None:
            row.flags.append(f"{reason}: not counted")
    decimals = {a.asset: a.decimals for a in report.assets.values()}
    report.assets = summarize(report.rows, decimals, custodians)


def flag_duplicates(rows: list[AddressReserve]) -> None:
    """Marks every declaration of a repeated address with all the others' positions, for `por reserves`;
    `por audit` leaves this to the reconciler (the same `duplicate_positions`)."""
    for row, others in zip(rows, duplicate_positions(rows)):
        if others:
            row.flags.append(f"declared {len(others) + 1} times (also at {', '.join(others)}); counted at most once")


@dataclass
class ReservesPlan:
    """Everything `read_reserves` checks before it reaches a chain, and the balance queries it will send."""

    exchange: str
    snapshot: Snapshot
    chains: Mapping[str, ChainConfig]
    rows: list[AddressReserve]
    queries: dict[str, list[tuple[AddressReserve, BalanceQuery]]]  # per chain: each row and its query
    decimals: dict[str, int]


def plan_reserves(
    wallets: list[DeclaredWallet],
    snapshot: Snapshot,
    chains: Mapping[str, ChainConfig],
    exchange: str,
    *,
    table: AssetTable | None = None,
) -> ReservesPlan:
    """Every check that needs no chain, so bad input fails before any slow work: each chain's table
    (`check_config`), each wallet's chain, snapshot height, address and asset, each ownership proof."""

    def ownership(wallet: DeclaredWallet) -> OwnershipResult:
        expected = ownership_message(snapshot.snapshot_id, exchange, wallet.address)
        config = chains[wallet.chain]
        return _family(wallet.chain, config).verify_ownership(wallet, expected, config)

    return plan_checked(wallets, snapshot, chains, exchange, ownership, table=table)


def checked_families(chains: Mapping[str, ChainConfig]) -> dict[str, ChainFamily]:
    """Each configured chain's family module, its whole table checked (`check_config`)."""
    families = {chain: _family(chain, config) for chain, config in chains.items()}
    for chain, config in chains.items():
        families[chain].check_config(chain, config)
    return families


def plan_checked(
    wallets: list[DeclaredWallet],
    snapshot: Snapshot,
    chains: Mapping[str, ChainConfig],
    exchange: str,
    ownership: Callable[[DeclaredWallet], OwnershipResult],
    *,
    table: AssetTable | None = None,
) -> ReservesPlan:
    """The plan for wallets whose ownership `ownership(wallet)` decides (our message, or another
    exchange's rule: `reserves.okx_reserves`); the chain, height, address and asset checks are one."""
    table = table or AssetTable()
    families = checked_families(chains)
    plan = ReservesPlan(exchange, snapshot, chains, [], defaultdict(list), {})
    for wallet in wallets:
        if wallet.chain not in chains:
            raise InputError(
                f"chain {wallet.chain!r} is not configured in chains.toml", file=wallet.source, field="chain"
            )
        if wallet.chain not in snapshot.chains:
            raise InputError(
                f"the snapshot file has no height for chain {wallet.chain!r}", file=wallet.source, field="chain"
            )
        family, config = families[wallet.chain], chains[wallet.chain]
        try:
            family.validate_address(wallet.address, config)
            query = family.balance_query(wallet, config)
            plan.decimals[wallet.asset] = asset_decimals(wallet.asset, config, table)
        except InputError as exc:
            raise exc.at(file=wallet.source) from None
        row = AddressReserve(wallet, ownership(wallet), None)
        plan.rows.append(row)
        if not row.ownership.unsupported:  # a kind por cannot check is never read, never counted
            plan.queries[wallet.chain].append((row, query))
    return plan


async def read_planned(
    plan: ReservesPlan, *, make_adapter: MakeAdapter | None = None, progress: Callable[[int], None] | None = None
) -> ReservesReport:
    """Reads every planned balance at the snapshot height, all chains at once."""
    await asyncio.gather(*(_read_chain(chain, plan, make_adapter, progress) for chain in plan.queries))
    return ReservesReport(plan.exchange, plan.snapshot, plan.rows, summarize(plan.rows, plan.decimals))


async def read_reserves(
    wallets: list[DeclaredWallet],
    snapshot: Snapshot,
    chains: Mapping[str, ChainConfig],
    exchange: str,
    *,
    table: AssetTable | None = None,
    progress: Callable[[int], None] | None = None,
    make_adapter: MakeAdapter | None = None,
) -> ReservesReport:
    """Checks every ownership proof and reads every balance at the snapshot height.

    `make_adapter(chain, config)` reaches a chain (default: its family's); tests pass a
    `chains.base.MockAdapter` to show faults a node cannot."""
    plan = plan_reserves(wallets, snapshot, chains, exchange, table=table)
    return await read_planned(plan, make_adapter=make_adapter, progress=progress)


def _family(chain: str, config: ChainConfig) -> ChainFamily:
    try:
        return family_module(config["family"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            str(exc) if isinstance(exc, ValueError) else "each chain needs a `family`", field=f"chains.{chain}.family"
        ) from None


async def _read_chain(
    chain: str, plan: ReservesPlan, make_adapter: MakeAdapter | None, progress: Callable[[int], None] | None
) -> None:
    """One chain: the snapshot block buried deep enough, on the snapshot's fork, every balance read at it."""
    config, target = plan.chains[chain], plan.snapshot.chains[chain]
    chain_rows = plan.queries[chain]
    min_conf = min_confirmations(chain, config)
    make = make_adapter or _family(chain, config).make_adapter
    async with make(chain, config) as adapter:
        tip = await adapter.tip_height()
        confirmations = tip - target.height + 1
        if confirmations < min_conf:
            raise InputError(
                f"snapshot height {target.height} on {chain} has {max(confirmations, 0)} "
                f"confirmation(s), {min_conf} required",
                field=f"chains.{chain}",
            )
        block_hash = (await adapter.block_hash(target.height)).lower().removeprefix("0x")
        if block_hash != target.block_hash:
            raise ProviderError(
                f"{chain}",
                f"block at height {target.height} is {block_hash}, the snapshot says "
                f"{target.block_hash}: provider on another fork, or a wrong snapshot file",
            )
        await _read_balances(chain, adapter, target.height, chain_rows)
        await _ownership_at_snapshot(adapter, target.height, chain_rows)
    if progress:
        progress(len(chain_rows))


async def _read_balances(
    chain: str, adapter: ChainAdapter, height: int, chain_rows: list[tuple[AddressReserve, BalanceQuery]]
) -> None:
    """Each distinct query once; every reading must be for its query, at the height, one per query."""
    unique: dict[BalanceQuery, int] = {}
    for _, query in chain_rows:
        unique.setdefault(query, len(unique))
    readings = await adapter.balances(list(unique), height)
    if len(readings) != len(unique):
        raise ProviderError(chain, f"returned {len(readings)} balances for {len(unique)} addresses")
    for row, query in chain_rows:
        reading = readings[unique[query]]
        if reading.query != query or reading.height != height:
            raise ProviderError(
                reading.provider or chain, "answered for another address or height", address=query.address
            )
        row.amount, row.height, row.provider = reading.amount, reading.height, reading.provider


async def _ownership_at_snapshot(
    adapter: ChainAdapter, height: int, chain_rows: list[tuple[AddressReserve, BalanceQuery]]
) -> None:
    """Proofs only the chain can decide (EIP-1271 contract wallets), asked at the snapshot block."""
    pending = [row for row, _ in chain_rows if row.ownership.at_snapshot]
    if pending:
        results = await adapter.ownership_at([row.wallet for row in pending], height)
        for row, result in zip(pending, results, strict=True):
            row.ownership = result
