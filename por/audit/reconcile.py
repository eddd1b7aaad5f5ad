"""Reconciliation: do the verified reserves cover the liabilities, per asset, under a policy?

Pure and exact: liabilities and balances are integer base units, ratios exact
fractions, JPY values exact (Decimal prices). Which addresses count is decided
here, once, with a reason for every one that does not:
- ownership not proven, or no balance read: not counted;
- the same (chain, asset, address) declared more than once: counted once, every
  declaration flagged (a second declaration must never double the reserves);
- an address another exchange's declaration also claims: flagged, and by the
  policy's `addresses.also_claimed` setting excluded (default) or counted;
- a wallet held by a custodian not registered, or run on a custody-system provider
  not notified, on the snapshot date (when the auditor gives the list): not
  counted, and failed by a `custodians` rule.
Addresses are compared case-insensitively (EVM hex, bech32): over-matching can
only lower the reserves, never raise them.
JSON form: docs/formats/audit-report.schema.json.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from por.amounts import MAX_UNITS, AssetTable, check_asset_symbol, format_amount
from por.audit.declarations import Insurance, Volumes
from por.audit.policy import Policy
from por.audit.prices import Prices
from por.audit.reserve import liability_reserve
from por.audit.rules import (
    Check,
    ceil_times,
    cold_check,
    cold_total_jpy_check,
    coverage_check,
    hot_guarantee_check,
    ratio_text,
)
from por.errors import InputError
from por.reserves import AddressReserve, DeclaredWallet, WalletType
from por.reserves.classify import address_key, duplicate_positions, not_counted
from por.reserves.custodians import CustodianCheck

REPORT_FORMAT = "por-audit-report"
REPORT_VERSION = 1
ALL_TYPES = (WalletType.COLD, WalletType.HOT, WalletType.OWN)


@dataclass(frozen=True)
class ReconcileOptions:
    """Inputs beside the policy: other exchanges' claims and the exchange's JPY declarations.

    also_claimed maps (chain, address) to the other exchange's name; the JPY
    declarations, when given, replace the policy file's values.
    """

    also_claimed: Mapping[tuple[str, str], str] | Iterable[tuple[str, str]] = field(default_factory=dict)
    reserve_deposits_jpy: Decimal | None = None
    insurance_jpy: Decimal | None = None
    trading_volume_jpy: Decimal | None = None
    custodians: CustodianCheck | None = None  # the registry, at the snapshot date
    volumes: Volumes | None = None  # monthly trading volumes by category (--volumes)
    insurance: Insurance | None = None  # insurance policies (--insurance); replaces insurance_jpy
    snapshot_day: date | None = None  # the snapshot's calendar day in Japan


@dataclass
class AddressRow:
    chain: str
    asset: str
    address: str
    wallet_type: str
    source: str
    ownership_ok: bool
    ownership_reason: str
    amount: int | None
    decimals: int
    counted: bool
    not_counted_reason: str | None
    flags: list[str]
    custodian: dict[str, str] | None = None
    unregistered: str | None = None  # why its custodian (or custody-system provider) is not on its list
    provider: str = ""  # which provider(s) agreed on the balance
    custody_system: dict[str, str] | None = None  # the custody-system provider running it, as declared

    def to_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "asset": self.asset,
            "address": self.address,
            "wallet_type": self.wallet_type,
            "source": self.source,
            "ownership": {"verified": self.ownership_ok, "reason": self.ownership_reason},
            "balance": None if self.amount is None else format_amount(self.amount, self.decimals),
            "counted": self.counted,
            "not_counted_reason": self.not_counted_reason,
            "flags": list(self.flags),
            "custodian": self.custodian,
            "custody_system": self.custody_system,
            "provider": self.provider,
        }


@dataclass
class AssetResult:
    asset: str
    decimals: int
    liabilities: int
    cold: int
    hot: int
    own: int
    counted_types: tuple[WalletType, ...]
    reserves: int  # sum of the counted wallet types
    required: int  # what the coverage rule asks (liabilities when the policy has none)
    checks: list[Check]
    notes: list[str]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self.checks if not c.ok and c.reason]

    @property
    def coverage_ratio(self) -> str | None:
        """reserves / liabilities rounded down to 6 places; None when nothing is owed. Display only."""
        return None if self.liabilities == 0 else ratio_text(self.reserves, self.liabilities, 6)

    @property
    def surplus(self) -> int:
        return max(self.reserves - self.required, 0)

    @property
    def shortfall(self) -> int:
        return max(self.required - self.reserves, 0)

    def to_json(self) -> dict[str, Any]:
        fmt = lambda u: format_amount(u, self.decimals)  # noqa: E731
        return {
            "asset": self.asset,
            "decimals": self.decimals,
            "liabilities": fmt(self.liabilities),
            "cold": fmt(self.cold),
            "hot": fmt(self.hot),
            "own": fmt(self.own),
            "counted_types": [t.value for t in self.counted_types],
            "reserves": fmt(self.reserves),
            "required": fmt(self.required),
            "coverage_ratio": self.coverage_ratio,
            "surplus": fmt(self.surplus),
            "shortfall": fmt(self.shortfall),
            "ok": self.ok,
            "verdict": "pass" if self.ok else "fail",
            "reasons": self.reasons,
            "notes": list(self.notes),
            "checks": [c.to_json() for c in self.checks],
        }


@dataclass
class Reconciliation:
    policy: Policy
    assets: list[AssetResult]
    checks: list[Check]  # rules over the whole exchange (JPY)
    addresses: list[AddressRow]
    prices: Prices | None = None
    policy_reasons: list[str] = field(default_factory=list)  # e.g. duplicates under duplicates = "fail"

    @property
    def ok(self) -> bool:
        return all(a.ok for a in self.assets) and all(c.ok for c in self.checks) and not self.policy_reasons

    @property
    def reasons(self) -> list[str]:
        out = [r for a in self.assets for r in a.reasons]
        out += [c.reason for c in self.checks if not c.ok and c.reason]
        return out + list(self.policy_reasons)

    @property
    def warnings(self) -> list[str]:
        """Every address that did not count or carries a flag, in one line each."""
        out = []
        for row in self.addresses:
            where = f"{row.chain} {row.asset} {row.address}" + (f" ({row.source})" if row.source else "")
            notes = [f"not counted: {row.not_counted_reason}"] if not row.counted else []
            notes += [f for f in row.flags if row.counted or f not in (row.not_counted_reason or "")]
            if notes:
                out.append(f"{where}: " + "; ".join(notes))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "version": REPORT_VERSION,
            "ok": self.ok,
            "verdict": "pass" if self.ok else "fail",
            "reasons": self.reasons,
            "warnings": self.warnings,
            "policy": self.policy.to_json(),
            "assets": [a.to_json() for a in self.assets],
            "checks": [c.to_json() for c in self.checks],
            "prices": None if self.prices is None else self.prices.to_json(),
            "addresses": [r.to_json() for r in self.addresses],
        }


def reconcile(
    liabilities: Mapping[str, int],
    rows: Sequence[AddressReserve],
    policy: Policy,
    *,
    assets: AssetTable | Mapping[str, int] | None = None,
    prices: Prices | None = None,
    options: ReconcileOptions | None = None,
) -> Reconciliation:
    """Liabilities (base units per asset) and read reserves -> per-asset and overall verdicts with reasons."""
    options = options or ReconcileOptions()
    table = assets if isinstance(assets, AssetTable) else AssetTable(None if assets is None else dict(assets))
    for asset, units in liabilities.items():
        check_asset_symbol(asset)
        if isinstance(units, bool) or not isinstance(units, int) or not 0 <= units <= MAX_UNITS:
            raise InputError(
                f"must be a whole number of base units in 0..2^128-1, got {units!r}", field=f"liabilities.{asset}"
            )
    symbols = set(liabilities) | {row.wallet.asset for row in rows}
    decimals = {a: _decimals(table, a) for a in symbols}
    check_custodians(policy, [row.wallet for row in rows], options.custodians)
    addresses, sums, excluded, repeated = _classify(
        rows, policy, _claims(options.also_claimed), decimals, options.custodians
    )
    check_prices(policy, liabilities, prices)

    results = []
    for asset in sorted(symbols):
        results.append(
            _asset_result(
                policy, asset, decimals[asset], liabilities.get(asset, 0), sums[asset], excluded.get(asset, {})
            )
        )
    checks = _global_checks(policy, liabilities, decimals, sums, prices, options)
    if policy.custodians:
        checks.append(custodian_check(addresses, options.custodians))
    policy_reasons = []
    if policy.addresses.duplicates == "fail":
        policy_reasons = [
            f"{addresses[i].chain} {addresses[i].asset} {addresses[i].address} is declared "
            f"{n} times; the {policy.name} policy fails duplicate declarations"
            for i, n in repeated
        ]
    return Reconciliation(policy, results, checks, addresses, prices, policy_reasons)


def check_custodians(policy: Policy, wallets: Sequence[DeclaredWallet], custodians: CustodianCheck | None) -> None:
    """InputError when the policy needs a list for wallets held by custodians or run on custody-system
    providers and none was given (before slow work)."""
    if not policy.custodians or not policy.custodians.require_registry:
        return
    if custodians is None or custodians.registry is None:
        held = [w for w in wallets if w.custodian is not None]
        if held:
            w = held[0]
            raise InputError(
                f"{len(held)} wallet(s) are held by custodians (first: {w.source or w.address} at "
                f"{w.custodian.name if w.custodian else ''}); the {policy.name} policy counts them only if "
                f"registered: give the registry with --custodians FILE",
                field="--custodians",
            )
    if custodians is None or custodians.systems is None:
        run = [w for w in wallets if w.custody_system is not None]
        if run:
            w = run[0]
            raise InputError(
                f"{len(run)} wallet(s) are run on custody-system providers' platforms (first: "
                f"{w.source or w.address} on {w.custody_system.name if w.custody_system else ''}); the "
                f"{policy.name} policy counts them only if the provider has notified the FSA: give the "
                f"providers' notifications with --custody-systems FILE",
                field="--custody-systems",
            )


def custodian_check(addresses: Sequence[AddressRow], custodians: CustodianCheck | None) -> Check:
    """The `custodians` rule: every wallet held by a custodian is at one registered, and every wallet run on
    a custody-system provider's platform is on one notified, on the snapshot date."""
    held = [a for a in addresses if a.custodian is not None or a.custody_system is not None]
    bad = [a for a in held if a.unregistered is not None]
    reason = None
    if bad:
        reason = (
            f"{len(bad)} of {len(held)} custodial wallet(s) at a custodian not registered (or on a custody-system "
            "provider not notified) on the snapshot date, not counted: "
            + "; ".join(f"{a.chain} {a.asset} {a.address} ({a.source}): {a.unregistered}" for a in bad)
        )
    sources = custodians.sources() if custodians is not None else {"registry": None, "custody_system_registry": None}
    return Check(
        "custodians",
        "all",
        not bad,
        "wallets",
        "0",
        str(len(bad)),
        reason,
        {
            **sources,
            "snapshot_date_jst": None if custodians is None else custodians.day.isoformat(),
            "custodial_wallets": str(len(held)),
            "custody_system_wallets": str(sum(a.custody_system is not None for a in held)),
        },
    )


def check_prices(policy: Policy, liabilities: Mapping[str, int], prices: Prices | None) -> None:
    """InputError unless every asset owed to customers has a JPY price when a rule values it in JPY.

    Callable on its own, so a CLI can refuse before the slow chain reads.
    """
    rules = []
    if policy.cold_storage and policy.cold_storage.scope == "total_jpy":
        rules.append("cold_storage (scope total_jpy)")
    if policy.liability_reserve and policy.liability_reserve.basis == "customer_liabilities_jpy":
        rules.append("liability_reserve (basis customer_liabilities_jpy)")
    if not rules:
        return
    owed = sorted(a for a, units in liabilities.items() if units > 0)
    if prices is None:
        if owed:
            raise InputError(
                f"the {policy.name} policy values customer crypto in JPY for {' and '.join(rules)}: "
                f"give a prices file (asset,price_jpy,source,time)",
                field="--prices",
            )
        return
    for asset in owed:
        if asset not in prices:
            raise InputError(
                f"no JPY price for {asset}, which the {policy.name} policy needs for {' and '.join(rules)}",
                file=prices.source,
                field=asset,
            )


def _decimals(table: AssetTable, asset: str) -> int:
    try:
        return table.decimals(asset)
    except InputError as exc:
        raise InputError(exc.reason, field=f"assets.{asset}") from None


def _claims(also_claimed: Mapping[tuple[str, str], str] | Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    items: Iterable[tuple[tuple[str, str], str]]
    if isinstance(also_claimed, Mapping):
        items = also_claimed.items()
    else:
        items = ((key, "another exchange") for key in also_claimed)
    return {(chain, address.lower()): name for (chain, address), name in items}


def _classify(
    rows: Sequence[AddressReserve],
    policy: Policy,
    claims: dict[tuple[str, str], str],
    decimals: dict[str, int],
    custodians: CustodianCheck | None,
) -> tuple[list[AddressRow], dict[str, dict[WalletType, int]], dict[str, dict[str, list[int]]], list[tuple[int, int]]]:
    """Decides which declarations count; sums counted balances per asset and wallet type."""
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[address_key(row.wallet)].append(i)
    duplicates = duplicate_positions(list(rows))
    sums: dict[str, dict[WalletType, int]] = defaultdict(lambda: {t: 0 for t in ALL_TYPES})
    excluded: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    counted_at: dict[tuple[str, str, str], str] = {}
    out = []
    for i, row in enumerate(rows):
        wallet = row.wallet
        source = wallet.source or f"row {i + 1}"
        key = address_key(wallet)
        _check_amount(row, source)
        claimed_by = claims.get((wallet.chain, wallet.address.lower()))
        flags = _flags(row, duplicates[i], claimed_by)
        unregistered = custodians.reason(wallet) if custodians else None
        verdict = not_counted(
            row,
            counted_at=counted_at.get(key),
            claimed_by=claimed_by,
            exclude_claimed=policy.addresses.also_claimed == "exclude",
            unregistered=unregistered,
        )
        reason = None
        if verdict is None and row.amount is not None:  # not_counted refuses a row without an amount
            counted_at[key] = source
            sums[wallet.asset][wallet.wallet_type] += row.amount
        elif verdict is not None:
            reason, category = verdict
            excluded[wallet.asset][category].append(row.amount or 0)
        out.append(_address_row(row, decimals[wallet.asset], reason, flags, unregistered))
    repeated = [(group[0], len(group)) for group in groups.values() if len(group) > 1]  # (first row, count)
    return out, sums, excluded, repeated


def _check_amount(row: AddressReserve, source: str) -> None:
    """A balance read is a whole number of base units that fits the tree's 128 bits (or None: not read)."""
    if row.amount is not None and (
        isinstance(row.amount, bool) or not isinstance(row.amount, int) or not 0 <= row.amount <= MAX_UNITS
    ):
        raise InputError(
            f"balance {row.amount!r} is not a whole number of base units in 0..2^128-1", file=source, field="amount"
        )


def _flags(row: AddressReserve, others: list[str], claimed_by: str | None) -> list[str]:
    """The row's flags, with its duplicates (recomputed here, with all positions) and another exchange's claim."""
    flags = list(row.flags)
    if others:
        flags.append(f"declared {len(others) + 1} times (also at {', '.join(others)}); counted at most once")
    if claimed_by is not None:
        flags.append(f"also claimed by {claimed_by}")
    return flags


def _address_row(
    row: AddressReserve, decimals: int, reason: str | None, flags: list[str], unregistered: str | None
) -> AddressRow:
    wallet = row.wallet
    custodian, system = wallet.custodian, wallet.custody_system
    return AddressRow(
        wallet.chain,
        wallet.asset,
        wallet.address,
        wallet.wallet_type.value,
        wallet.source,
        row.ownership.ok,
        row.ownership.reason,
        row.amount,
        decimals,
        reason is None,
        reason,
        flags,
        None if custodian is None else {"name": custodian.name, "registration": custodian.registration},
        unregistered,
        row.provider,
        None if system is None else {"name": system.name, "notification": system.notification},
    )


def _excluded_notes(asset: str, dec: int, excluded: dict[str, list[int]]) -> list[str]:
    """One line per kind of declaration that did not count, with how much it held."""
    notes = []
    for category, amounts in excluded.items():
        n, held = len(amounts), f"{format_amount(sum(amounts), dec)} {asset}"
        if category == "duplicate":
            notes.append(
                f"counted once: {n} repeated declaration{'s' if n > 1 else ''} of an address already "
                f"counted ({held} not counted again)"
            )
        else:
            notes.append(f"not counted: {n} address{'es' if n > 1 else ''} {category} ({held})")
    return notes


def _asset_result(
    policy: Policy, asset: str, dec: int, liab: int, sums: dict[WalletType, int], excluded: dict[str, list[int]]
) -> AssetResult:
    cold, hot, own = sums[WalletType.COLD], sums[WalletType.HOT], sums[WalletType.OWN]
    counted_types = policy.coverage.count if policy.coverage else ALL_TYPES
    reserves = sum(sums[t] for t in counted_types)
    notes = _excluded_notes(asset, dec, excluded)
    suffix = f" ({'; '.join(notes)})" if notes else ""
    checks = []
    required = liab
    if policy.coverage:
        checks.append(coverage_check(policy.coverage, asset, dec, liab, reserves, suffix))
        required = ceil_times(Fraction(policy.coverage.min_ratio), liab)
    if policy.cold_storage and policy.cold_storage.scope == "per_asset":
        checks.append(cold_check(policy.cold_storage, asset, dec, liab, cold, suffix))
    if policy.hot_guarantee:
        checks.append(hot_guarantee_check(policy.hot_guarantee, asset, dec, liab, cold, hot, own, suffix))
    if liab == 0 and cold + hot + own > 0:
        notes.append(f"no customer liabilities in {asset}: these reserves back nothing owed")
    return AssetResult(asset, dec, liab, cold, hot, own, counted_types, reserves, required, checks, notes)


def _per_base_unit(prices: Prices | None, asset: str, dec: int) -> Fraction:
    if prices is None:  # check_prices refused this before: a rule in yen needs prices
        raise InputError(f"a rule in yen needs the price of {asset}: pass --prices", field="--prices")
    return Fraction(prices.by_asset[asset].price_jpy) / 10**dec


def _global_checks(
    policy: Policy,
    liabilities: Mapping[str, int],
    decimals: dict[str, int],
    sums: dict[str, dict[WalletType, int]],
    prices: Prices | None,
    options: ReconcileOptions,
) -> list[Check]:
    checks = []
    owed = sorted(a for a, units in liabilities.items() if units > 0)
    if policy.cold_storage and policy.cold_storage.scope == "total_jpy":
        values = [(liabilities[a], sums[a][WalletType.COLD], _per_base_unit(prices, a, decimals[a])) for a in owed]
        checks.append(cold_total_jpy_check(policy.cold_storage, values))
    rule = policy.liability_reserve
    if rule:

        def customer_jpy() -> Fraction:
            return sum((liabilities[a] * _per_base_unit(prices, a, decimals[a]) for a in owed), Fraction(0))

        checks.append(
            liability_reserve(
                rule,
                policy.source,
                customer_jpy=customer_jpy,
                deposits=options.reserve_deposits_jpy,
                insurance_jpy=options.insurance_jpy,
                insurance=options.insurance,
                volumes=options.volumes,
                day=options.snapshot_day,
                trading_volume_jpy=options.trading_volume_jpy,
            )
        )
    return checks
