"""OKX's address rows read at a snapshot: `por reserves FILE --format okx --snapshot S --config C`.

Each row's ownership is OKX's rule, checked offline (`reserves.okx_addresses`); its balance is
read as for our own wallets file (`reserves.read.plan_checked`: chain table, snapshot height and
block hash, every provider agreeing, the same `classify.not_counted`). What counts:

- a `verified` row, read at the snapshot: counted (once, however often listed);
- an `owner-verified` row (a contract or a staking row proven by its owner EOAs): read and
  shown, never counted, since that the EOAs control the contract needs chain state at the
  snapshot por does not check;
- a `not checked` or `unsupported` row: not read; a `failed` row: read, never counted;
- a row of a network no chains.toml chain reads (Tron, or a chain not configured, or an asset
  the chain does not list): "balance not read", never counted.

An OKX network is read on the chain `--okx-chain NETWORK=CHAIN` names, else on the chains.toml
chain of the same name (any case). The 2023 layout has no Network column: its coin is the key.
OKX does not say which addresses are hot or cold, so per asset only the total is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chains.base import ChainConfig
from chains.records import AddressReserve, DeclaredWallet, OwnershipResult, Scheme, Snapshot, WalletType
from por.amounts import format_amount
from por.errors import InputError
from por.reserves.classify import address_key, not_counted
from por.reserves.okx_addresses import CONTRACT_NOTE, EMPTY, OkxReport, RowVerdict, coin_table
from por.reserves.read import checked_families, flag_duplicates, plan_checked, read_planned

READ_FAMILIES = {"evm": "evm", "bitcoin": "bitcoin"}  # OKX's family -> the chains.toml family that reads it


@dataclass
class RowReading:
    """One OKX row at the snapshot: where it was read, what it holds, whether it counts and why not."""

    verdict: RowVerdict
    source: str  # file:line
    chain: str | None = None
    asset: str | None = None
    reserve: AddressReserve | None = None  # None: not read
    why: str = ""  # why it does not count ("" when it counts)
    flags: list[str] = field(default_factory=list)
    decimals: int | None = None

    @property
    def counted(self) -> bool:
        return self.reserve is not None and not self.why

    def to_json(self) -> dict[str, Any]:
        r = self.reserve
        return {
            "chain": self.chain,
            "asset": self.asset,
            "balance": None if r is None or r.amount is None else format_amount(r.amount, self.decimals or 0),
            "height": None if r is None else r.height,
            "provider": "" if r is None else r.provider,
            "counted": self.counted,
            "why": self.why,
            "flags": self.flags if r is None else [*r.flags, *self.flags],
        }


@dataclass
class OkxReserves:
    """The offline report with every row's reading at the snapshot, and the proven total per asset."""

    offline: OkxReport
    snapshot: Snapshot
    readings: list[RowReading]
    totals: dict[str, tuple[int, int]]  # asset -> (base units counted, decimals)

    @property
    def ok(self) -> bool:
        return self.offline.ok

    def to_json(self) -> dict[str, Any]:
        doc = self.offline.to_json()
        for row, reading in zip(doc["rows"], self.readings, strict=True):
            row["reading"] = reading.to_json()
        doc["snapshot"] = {
            "snapshot_id": self.snapshot.snapshot_id,
            "chains": {
                c.chain: {"height": c.height, "block_hash": c.block_hash} for c in self.snapshot.chains.values()
            },
        }
        doc["assets"] = {
            asset: {
                "total": format_amount(units, d),
                "rows": sum(1 for r in self.readings if r.counted and r.asset == asset),
            }
            for asset, (units, d) in sorted(self.totals.items())
        }
        return doc


def chain_for(
    verdict: RowVerdict, chains: Mapping[str, ChainConfig], networks: Mapping[str, str]
) -> tuple[str | None, str]:
    """(the chain that reads this row, or None; why not). InputError when the mapping names a wrong chain."""
    row = verdict.row
    rule = coin_table()["coins"].get(row.coin.upper())
    if verdict.status in ("not checked", "unsupported") or rule is None:
        return None, f"not read: {verdict.status}"
    key = (row.network or row.coin).upper()
    chain = networks.get(key) or next((name for name in chains if name.upper() == key), None)
    if chain is None:
        return (
            None,
            f"balance not read: no chain in chains.toml for OKX network {key} (map one: --okx-chain {key}=CHAIN)",
        )
    if chain not in chains:
        raise InputError(f"--okx-chain {key}={chain}: chain {chain!r} is not in chains.toml", field="--okx-chain")
    family = chains[chain].get("family")
    if READ_FAMILIES.get(rule["family"]) != family:
        if key in networks:
            raise InputError(
                f"--okx-chain {key}={chain}: OKX's {row.coin} is a {rule['family']} coin, chain {chain} is {family}",
                field="--okx-chain",
            )
        return None, f"balance not read: OKX's {row.coin} is a {rule['family']} coin, chain {chain} is {family}"
    return chain, ""


def declared(verdict: RowVerdict, chain: str, source: str) -> DeclaredWallet:
    """The row as a declared wallet at `source` (file:line); its ownership is OKX's rule, decided already."""
    row = verdict.row
    asset = coin_table()["units"].get(row.coin.upper(), row.coin.upper())
    scheme = Scheme.EIP191 if row.address.lower().startswith("0x") else Scheme.BIP137
    signatures = tuple(s for s in row.signatures if s not in EMPTY)
    return DeclaredWallet(
        chain,
        asset,
        row.address,
        WalletType.COLD,
        scheme,
        row.message,
        signatures,
        row.script or None,
        source,
    )


def ownership_of(verdict: RowVerdict) -> OwnershipResult:
    """OKX's verdict as an ownership result: only `verified` proves; owner-verified is shown, never counted.
    The reason is short: the row's own reason says the rest."""
    if verdict.status == "owner-verified":
        return OwnershipResult(False, f"owner-verified: {CONTRACT_NOTE}")
    return OwnershipResult(verdict.status == "verified", verdict.status)


def plan_okx(
    report: OkxReport, snapshot: Snapshot, chains: Mapping[str, ChainConfig], networks: Mapping[str, str]
) -> tuple[list[RowReading], list[DeclaredWallet]]:
    """Every row's chain and asset, before any chain is reached; the wallets to read."""
    families = checked_families(chains)
    readings, wallets = [], []
    for verdict in report.verdicts:
        chain, why = chain_for(verdict, chains, networks)
        reading = RowReading(verdict, f"{report.source}:{verdict.row.line}", chain, why=why)
        readings.append(reading)
        if chain is None:
            continue
        wallet = declared(verdict, chain, reading.source)
        reading.asset = wallet.asset
        try:  # a row's own address or coin the chain cannot read (a validator key, a mainnet address
            # on a test chain, an asset not configured) is a finding about that row, not bad input
            families[chain].validate_address(wallet.address, chains[chain])
            families[chain].balance_query(wallet, chains[chain])
        except InputError as exc:
            reading.why = f"balance not read: {exc.reason}"
            continue
        wallets.append(wallet)
    return readings, wallets


async def read_okx(
    report: OkxReport,
    snapshot: Snapshot,
    chains: Mapping[str, ChainConfig],
    networks: Mapping[str, str],
    *,
    progress: Callable[[int], None] | None = None,
) -> OkxReserves:
    """Reads every OKX row a configured chain can read at the snapshot height, and what counts."""
    readings, wallets = plan_okx(report, snapshot, chains, networks)
    by_source = {r.source: r for r in readings}
    plan = plan_checked(wallets, snapshot, chains, "OKX", lambda wallet: ownership_of(by_source[wallet.source].verdict))
    read = await read_planned(plan, progress=progress)
    flag_duplicates(read.rows)
    counted_at: dict[tuple[str, str, str], str] = {}
    for row in read.rows:
        reading = by_source[row.wallet.source]
        reading.reserve, reading.decimals = row, plan.decimals[row.wallet.asset]
        conclude(reading, row, counted_at)
    totals = {a.asset: (a.total, a.decimals) for a in read.assets.values()}
    return OkxReserves(report, snapshot, readings, totals)


def conclude(reading: RowReading, row: AddressReserve, counted_at: dict[tuple[str, str, str], str]) -> None:
    """Why a read row does (not) count (`classify.not_counted`, as `read.summarize` counts), and OKX's
    stated amount beside the balance when they differ."""
    key = address_key(row.wallet)
    verdict = not_counted(row, counted_at=counted_at.get(key))
    reading.why = "" if verdict is None else verdict[0]
    if verdict is None:
        counted_at[key] = row.wallet.source
    if row.amount is None:
        return
    decimals = reading.decimals or 0
    stated = stated_units(reading.verdict, decimals)
    if stated != row.amount:
        line = reading.verdict.row
        reading.flags.append(
            f"OKX's row states {line.amount} (at its height {line.height or '-'}); "
            f"the chain holds {format_amount(row.amount, decimals)} at the snapshot"
        )


def stated_units(verdict: RowVerdict, decimals: int) -> int | None:
    """The row's amount in base units: whole coins in OKX's current layouts, base units in the 2023 one."""
    try:
        value = Decimal(verdict.row.amount.strip())
    except ArithmeticError:
        return None
    if not value.is_finite():
        return None
    units = value if verdict.row.base_units else value.scaleb(decimals)
    return int(units) if units == units.to_integral_value() else None
