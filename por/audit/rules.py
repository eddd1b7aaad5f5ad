"""The arithmetic of each policy rule: exact integers and fractions, one Check per rule.

Ratios come from the policy as Decimals and are used as exact Fractions; a
requirement in base units is rounded up (ceil), so "at least 95%" can never be
met by rounding. JPY values are exact too: base units x price / 10^decimals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from por.amounts import format_amount
from por.audit.policy import ColdStorageRule, CoverageRule, HotGuaranteeRule, LiabilityReserveRule
from por.audit.prices import decimal_text


@dataclass
class Check:
    """One rule applied to one asset (scope = its symbol) or to the whole exchange (scope "all")."""

    rule: str
    scope: str
    ok: bool
    unit: str  # the asset symbol, or "JPY"
    required: str  # decimal strings, in `unit`
    actual: str
    reason: str | None = None  # why it failed (None when ok)
    details: dict[str, str | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "scope": self.scope,
            "ok": self.ok,
            "unit": self.unit,
            "required": self.required,
            "actual": self.actual,
            "reason": self.reason,
            "details": dict(self.details),
        }


def ceil_times(ratio: Fraction, units: int) -> int:
    """ceil(ratio x units): the least whole number of base units that meets the ratio."""
    return -((-ratio.numerator * units) // ratio.denominator)


def fraction_text(value: Fraction) -> str:
    """An exact non-negative fraction with a power-of-ten denominator, as plain decimal text."""
    for exponent in range(0, 120):
        scaled = value * 10**exponent
        if scaled.denominator == 1:
            return format_amount(int(scaled), exponent)
    raise ValueError(f"{value} has no finite decimal expansion")


def ratio_text(numerator: int, denominator: int, places: int = 6) -> str:
    """numerator/denominator rounded DOWN to `places`: a shown ratio never overstates coverage."""
    whole, frac = divmod(numerator * 10**places // denominator, 10**places)
    return f"{whole}.{frac:0{places}d}" if places else str(whole)


def percent(ratio: Fraction | Decimal) -> str:
    """A policy ratio as a percentage: 0.95 -> '95%'."""
    return fraction_text(Fraction(ratio) * 100) + "%"


def percent_down(numerator: int, denominator: int) -> str:
    """An observed share, rounded down to 2 places: 94.999% shows as 94.99%, never 95.00%."""
    return ratio_text(numerator * 100, denominator, 2) + "%"


def jpy(units: int, decimals: int, price: Decimal) -> Fraction:
    return Fraction(units, 10**decimals) * Fraction(price)


def yen_text(value: Fraction | Decimal | int) -> str:
    text = fraction_text(Fraction(value))
    whole, _, frac = text.partition(".")
    return f"JPY {int(whole):,}" + (f".{frac}" if frac else "")


def coverage_check(
    rule: CoverageRule, asset: str, decimals: int, liabilities: int, reserves: int, excluded_note: str
) -> Check:
    required = ceil_times(Fraction(rule.min_ratio), liabilities)
    ok = reserves >= required
    types = "+".join(t.value for t in rule.count)
    reason = None
    if not ok:
        fmt = lambda u: f"{format_amount(u, decimals)} {asset}"  # noqa: E731
        if reserves == 0:
            held = f"{asset}: no verified reserves in {types} wallets"
        else:
            held = f"{asset}: reserves ({types}) of {fmt(reserves)} cover {percent_down(reserves, liabilities)}"
        reason = (
            f"{held} of customer liabilities {fmt(liabilities)}; at least "
            f"{percent(rule.min_ratio)} ({fmt(required)}) required: shortfall {fmt(required - reserves)}"
            f"{excluded_note}"
        )
    return Check(
        "coverage",
        asset,
        ok,
        asset,
        format_amount(required, decimals),
        format_amount(reserves, decimals),
        reason,
        {"min_ratio": decimal_text(rule.min_ratio), "counted": types},
    )


def cold_check(
    rule: ColdStorageRule, asset: str, decimals: int, liabilities: int, cold: int, excluded_note: str
) -> Check:
    """Per asset: cold >= min_ratio x customer liabilities (nothing owed: nothing required)."""
    required = ceil_times(Fraction(rule.min_ratio), liabilities)
    ok = cold >= required
    reason = None
    if not ok:
        fmt = lambda u: f"{format_amount(u, decimals)} {asset}"  # noqa: E731
        reason = (
            f"{asset}: cold wallets hold {fmt(cold)} = {percent_down(cold, liabilities)} of customer "
            f"liabilities {fmt(liabilities)}; at least {percent(rule.min_ratio)} ({fmt(required)}) must be "
            f"in cold wallets: {fmt(required - cold)} short{excluded_note}"
        )
    return Check(
        "cold_storage",
        asset,
        ok,
        asset,
        format_amount(required, decimals),
        format_amount(cold, decimals),
        reason,
        {"min_ratio": decimal_text(rule.min_ratio), "scope": rule.scope},
    )


def hot_needed(rule: HotGuaranteeRule, liabilities: int, cold: int, hot: int) -> int:
    """The customer crypto the own coins must match: outside cold (the law), or the hot balance."""
    if rule.basis == "hot_balance":
        return hot
    return max(liabilities - cold, 0)


def hot_guarantee_check(
    rule: HotGuaranteeRule,
    asset: str,
    decimals: int,
    liabilities: int,
    cold: int,
    hot: int,
    own: int,
    excluded_note: str,
) -> Check:
    needed = hot_needed(rule, liabilities, cold, hot)
    required = ceil_times(Fraction(rule.min_ratio), needed)
    ok = own >= required
    reason = None
    if not ok:
        fmt = lambda u: f"{format_amount(u, decimals)} {asset}"  # noqa: E731
        what = (
            "the hot wallets hold"
            if rule.basis == "hot_balance"
            else "customer crypto kept outside cold wallets (liabilities minus cold) is"
        )
        reason = (
            f"{asset}: {what} {fmt(needed)}, but own wallets (履行保証暗号資産) hold {fmt(own)};"
            f" {fmt(required)} required: {fmt(required - own)} not matched by own coins{excluded_note}"
        )
    return Check(
        "hot_guarantee",
        asset,
        ok,
        asset,
        format_amount(required, decimals),
        format_amount(own, decimals),
        reason,
        {
            "basis": rule.basis,
            "customer_outside_cold": format_amount(needed, decimals),
            "min_ratio": decimal_text(rule.min_ratio),
        },
    )


def cold_total_jpy_check(rule: ColdStorageRule, values: list[tuple[int, int, Fraction]]) -> Check:
    """Order Art. 27(2) as written: sum of p x min(cold, L) >= ratio x sum of p x L, over all assets.

    `values` holds (liabilities, cold, price-per-base-unit) per asset with liabilities.
    """
    total = sum((price * liab for liab, _, price in values), Fraction(0))
    in_cold = sum((price * min(cold, liab) for liab, cold, price in values), Fraction(0))
    required = Fraction(ceil_times(Fraction(rule.min_ratio) * total, 1))  # rounded up to a whole yen
    ok = in_cold >= required
    reason = None
    if not ok:
        share = (
            "0%"
            if total == 0
            else percent_down(in_cold.numerator * total.denominator, in_cold.denominator * total.numerator)
        )
        reason = (
            f"cold storage by JPY value: customer crypto in cold wallets is worth {yen_text(in_cold)} = {share} "
            f"of all customer crypto ({yen_text(total)}); at least {percent(rule.min_ratio)} "
            f"({yen_text(required)}) required"
        )
    return Check(
        "cold_storage",
        "all",
        ok,
        "JPY",
        fraction_text(required),
        fraction_text(in_cold),
        reason,
        {"min_ratio": decimal_text(rule.min_ratio), "scope": rule.scope, "customer_crypto_jpy": fraction_text(total)},
    )


def round_yen(value: Fraction, rounding: str) -> int:
    """A yen amount to a whole yen: `up` (never in the exchange's favour) or `down` (円未満切捨て)."""
    return ceil_times(value, 1) if rounding == "up" else value.numerator // value.denominator


def volume_reserve_formula(
    rule: LiabilityReserveRule, months: Sequence[tuple[str, Mapping[str, Decimal]]]
) -> tuple[Fraction, dict[str, Fraction], list[Fraction]]:
    """The securities-style reserve before bounds: (amount, yen traded per category, amount per month).

    Per month m: A_m = Σ_c rate_c x volume_{m,c}. `sum`: Σ A_m over the window; `max_year`: the
    window cut into 12-month years counted back from its last month, the largest year's Σ A_m."""
    rates = {c: Fraction(r) for c, r in rule.rates}
    per_category = {c: Fraction(0) for c in rates}
    per_month = []
    for _, volumes in months:
        amount = Fraction(0)
        for category, volume in volumes.items():
            per_category[category] += Fraction(volume)
            amount += rates[category] * Fraction(volume)
        per_month.append(amount)
    if rule.aggregate == "max_year":
        years = [sum(per_month[max(end - 12, 0) : end], Fraction(0)) for end in range(len(per_month), 0, -12)]
        return max(years, default=Fraction(0)), per_category, per_month
    return sum(per_month, Fraction(0)), per_category, per_month


def liability_reserve_check(
    rule: LiabilityReserveRule,
    formula: Fraction,
    deposits: Decimal,
    insurance: Decimal,
    *,
    how: str,
    lapsed: Sequence[str] = (),
    details: Mapping[str, str | None] | None = None,
) -> Check:
    """required = round(clamp(formula, floor, cap)); deposits + insurance in force (capped) must reach it."""
    clamped = max(formula, Fraction(rule.floor_jpy))
    if rule.cap_jpy is not None:
        clamped = min(clamped, Fraction(rule.cap_jpy))
    required = round_yen(clamped, rule.rounding)
    insurance_limit = Fraction(rule.insurance_max_share) * required
    insurance_counted = min(Fraction(insurance), insurance_limit)
    covered = Fraction(deposits) + insurance_counted
    ok = covered >= required
    reason = None
    if not ok:
        bounds = f"floor {yen_text(rule.floor_jpy)}"
        if rule.cap_jpy is not None:
            bounds += f", cap {yen_text(rule.cap_jpy)}"
        capped = "" if insurance_counted == insurance else f" (of {yen_text(insurance)} in force)"
        not_in_force = f"; not in force on the snapshot date: {'; '.join(lapsed)}" if lapsed else ""
        reason = (
            f"liability reserve (責任準備金): {yen_text(required)} required ({how}, {bounds}); declared "
            f"deposits {yen_text(deposits)} + insurance counted {yen_text(insurance_counted)}{capped} = "
            f"{yen_text(covered)}: {yen_text(required - covered)} short{not_in_force}"
        )
    return Check(
        "liability_reserve",
        "all",
        ok,
        "JPY",
        str(required),
        fraction_text(covered),
        reason,
        {
            "method": rule.method,
            **(details or {}),
            "formula_jpy": fraction_text(formula),
            "floor_jpy": fraction_text(Fraction(rule.floor_jpy)),
            "cap_jpy": None if rule.cap_jpy is None else fraction_text(Fraction(rule.cap_jpy)),
            "rounding": rule.rounding,
            "reserve_deposits_jpy": fraction_text(Fraction(deposits)),
            "insurance_jpy": fraction_text(Fraction(insurance)),
            "insurance_counted_jpy": fraction_text(insurance_counted),
            "insurance_max_share": decimal_text(rule.insurance_max_share),
            "insurance_not_in_force": "; ".join(lapsed) or None,
        },
    )
