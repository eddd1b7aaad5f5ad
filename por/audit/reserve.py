"""The liability reserve (責任準備金) check: which requirement, from which declarations, met by what.

`trading_volume` (the securities rule) takes the window of monthly volumes before the snapshot
month (`reserve_window`); `clamp` takes rate x basis. Both are met by the declared deposits plus
the insurance in force on the snapshot date (`insurance_in_force`); the arithmetic is in
`por.audit.rules`. Formula and sources: docs/policies.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from fractions import Fraction

from por.audit.declarations import Insurance, Volumes
from por.audit.policy import LiabilityReserveRule
from por.audit.prices import decimal_text
from por.audit.rules import Check, fraction_text, liability_reserve_check, volume_reserve_formula, yen_text
from por.errors import InputError


def liability_reserve(
    rule: LiabilityReserveRule,
    source: str,
    *,
    customer_jpy: Callable[[], Fraction],
    deposits: Decimal | None,
    insurance_jpy: Decimal | None,
    insurance: Insurance | None,
    volumes: Volumes | None,
    day: date | None,
    trading_volume_jpy: Decimal | None,
) -> Check:
    """The one Check of the rule; `customer_jpy()` values customer crypto in yen (clamp on liabilities only)."""
    held = non_negative(deposits if deposits is not None else rule.reserve_deposits_jpy, "reserve_deposits_jpy")
    in_force, lapsed = insurance_in_force(rule, insurance, insurance_jpy, day)
    details: dict[str, str | None]
    if rule.method == "trading_volume":
        months = reserve_window(rule, volumes, day)
        formula, per_category, _ = volume_reserve_formula(rule, months)
        window = f"{months[0][0]}..{months[-1][0]}"
        details = {
            "basis": rule.basis,
            "window": window,
            "window_months": str(rule.window_months),
            "aggregate": rule.aggregate,
            "volumes": None if volumes is None else volumes.source,
        }
        for category, rate in rule.rates:
            details[f"rate.{category}"] = decimal_text(rate)
            details[f"volume_jpy.{category}"] = fraction_text(per_category[category])
        how = f"Σ yen traded x rate by category, {rule.aggregate} over {window} = {yen_text(formula)}"
    else:
        if rule.basis == "customer_liabilities_jpy":
            basis = customer_jpy()
        else:
            volume = trading_volume_jpy if trading_volume_jpy is not None else rule.trading_volume_jpy
            if volume is None:
                raise InputError(
                    "the liability reserve is based on trading volume: declare trading_volume_jpy",
                    file=source,
                    field="liability_reserve.trading_volume_jpy",
                )
            basis = Fraction(non_negative(volume, "trading_volume_jpy"))
        formula = Fraction(rule.rate) * basis
        details = {"basis": rule.basis, "basis_jpy": fraction_text(basis), "rate": decimal_text(rule.rate)}
        how = f"{decimal_text(rule.rate)} x {rule.basis} {yen_text(basis)}"
    return liability_reserve_check(rule, formula, held, in_force, how=how, lapsed=lapsed, details=details)


def reserve_window(
    rule: LiabilityReserveRule, volumes: Volumes | None, day: date | None
) -> list[tuple[str, dict[str, Decimal]]]:
    """The window_months calendar months before the snapshot's month (JST), oldest first; InputError if any
    is missing or names a category without a rate. Callable on its own, before the slow chain reads."""
    if volumes is None:
        raise InputError(
            "the liability reserve is computed from monthly trading volumes by category: give "
            "--volumes FILE (docs/formats/volumes.schema.json)",
            field="--volumes",
        )
    if day is None:
        raise InputError(
            "the trading-volume window ends before the snapshot month: the snapshot time is needed", field="--snapshot"
        )
    year, month = day.year, day.month
    window = []
    for _ in range(rule.window_months):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        window.append(f"{year:04d}-{month:02d}")
    window.reverse()
    missing = [m for m in window if m not in volumes.months]
    if missing:
        raise InputError(
            f"no trading volumes for {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}: the "
            f"reserve needs the {rule.window_months} months {window[0]}..{window[-1]} before the "
            f"snapshot date {day}",
            file=volumes.source,
            field="months",
        )
    rated = {c for c, _ in rule.rates}
    for m in window:
        unknown = sorted(set(volumes.months[m]) - rated)
        if unknown:
            raise InputError(
                f"category {unknown[0]!r} has no rate in the policy (rates: {', '.join(sorted(rated))})",
                file=volumes.source,
                field=f"{m}.{unknown[0]}",
            )
    return [(m, volumes.months[m]) for m in window]


def insurance_in_force(
    rule: LiabilityReserveRule, insurance: Insurance | None, insurance_jpy: Decimal | None, day: date | None
) -> tuple[Decimal, list[str]]:
    """Cover of the policies in force on the snapshot date, and the ones that are not (by label)."""
    if insurance is not None and insurance_jpy is not None:
        raise InputError(
            "give the insurance either as a file (--insurance) or as one amount (--insurance-jpy), not both",
            field="--insurance",
        )
    if insurance is None:
        return non_negative(insurance_jpy if insurance_jpy is not None else rule.insurance_jpy, "insurance_jpy"), []
    if day is None and any(p.valid_from is not None for p in insurance.policies):
        raise InputError(
            "insurance periods are checked against the snapshot date: the snapshot time is needed", field="--snapshot"
        )
    in_force = [p for p in insurance.policies if day is None or p.in_force(day)]
    lapsed = [p.label() for p in insurance.policies if day is not None and not p.in_force(day)]
    return sum((p.cover_jpy for p in in_force), Decimal(0)), lapsed


def non_negative(value: Decimal, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or not Decimal(value).is_finite() or value < 0:
        raise InputError(f"must be a non-negative number, got {value!r}", field=name)
    return Decimal(value)
