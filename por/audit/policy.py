"""Reserve policies: TOML data files, validated strictly into rule records.

A policy is a set of rules, each an optional table: `coverage` (reserves against
liabilities), `cold_storage`, `hot_guarantee` (Japan's 履行保証暗号資産) and
`liability_reserve` (the JPY reserve of Japan's 2026 bill), plus `addresses`
(what to do with duplicate and contested addresses). The built-in ones live in
`por/policies/`; a user's own file in the same format works the same way.
Numbers are read as exact Decimals (TOML floats included), never floats.
Format reference: docs/policies.md.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from por.audit.prices import decimal_text
from por.errors import InputError
from por.reserves import WalletType

MAX_POLICY_BYTES = 1024 * 1024
POLICY_VERSION = 1
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")
_DECIMAL_RE = re.compile(r"[0-9]{1,30}(?:\.[0-9]{1,30})?\Z")
_LINE_RE = re.compile(r"at line (\d+)")

COLD_SCOPES = ("per_asset", "total_jpy")
HOT_BASES = ("customer_not_cold", "hot_balance")
RESERVE_BASES = ("customer_liabilities_jpy", "trading_volume_jpy")
RESERVE_METHODS = ("clamp", "trading_volume")
RESERVE_AGGREGATES = ("sum", "max_year")
ROUNDINGS = ("up", "down")
_CATEGORY_RE = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")
DUPLICATE_ACTIONS = ("count_once", "fail")
CLAIMED_ACTIONS = ("exclude", "count")


@dataclass(frozen=True)
class CoverageRule:
    """Per asset: the counted wallet types hold at least min_ratio x liabilities."""

    min_ratio: Decimal
    count: tuple[WalletType, ...]


@dataclass(frozen=True)
class ColdStorageRule:
    """Cold wallets hold at least min_ratio of customer crypto (per asset, or by JPY value over all)."""

    min_ratio: Decimal
    scope: str


@dataclass(frozen=True)
class HotGuaranteeRule:
    """Own wallets of the same asset hold min_ratio x the customer crypto kept outside cold wallets."""

    basis: str
    min_ratio: Decimal


@dataclass(frozen=True)
class LiabilityReserveRule:
    """The JPY liability reserve (責任準備金), met by deposits + insurance in force. Two methods:

    - `trading_volume` (the securities-firm rule): Σ over the window's months and categories of
      yen traded x the category's rate, aggregated (`sum`, or the largest 12-month `max_year`);
    - `clamp` (the simpler rule): rate x basis (customer crypto in JPY, or a declared volume).
    Either is then bounded by floor and cap and rounded to a whole yen (`rounding`)."""

    basis: str
    rate: Decimal
    floor_jpy: Decimal
    cap_jpy: Decimal | None
    insurance_max_share: Decimal
    reserve_deposits_jpy: Decimal
    insurance_jpy: Decimal
    trading_volume_jpy: Decimal | None
    method: str = "clamp"
    rates: tuple[tuple[str, Decimal], ...] = ()  # trading_volume: (category, reserve per yen traded)
    window_months: int = 12
    aggregate: str = "sum"
    rounding: str = "up"


@dataclass(frozen=True)
class CustodianRule:
    """A wallet held by a third party counts only if the custodian is registered on the snapshot date."""

    require_registry: bool = True  # a custodial wallet without --custodians is bad input, not a silent pass


@dataclass(frozen=True)
class AddressRules:
    duplicates: str = "count_once"
    also_claimed: str = "exclude"


@dataclass(frozen=True)
class Policy:
    name: str
    title: str
    source: str  # file path the policy was read from
    sha256: str  # of the file's bytes, so a report pins the exact rules
    coverage: CoverageRule | None = None
    cold_storage: ColdStorageRule | None = None
    hot_guarantee: HotGuaranteeRule | None = None
    liability_reserve: LiabilityReserveRule | None = None
    addresses: AddressRules = field(default_factory=AddressRules)
    custodians: CustodianRule | None = None

    def to_json(self) -> dict[str, Any]:
        rules: dict[str, Any] = {}
        if self.coverage:
            rules["coverage"] = {
                "min_ratio": decimal_text(self.coverage.min_ratio),
                "count": [t.value for t in self.coverage.count],
            }
        if self.cold_storage:
            rules["cold_storage"] = {
                "min_ratio": decimal_text(self.cold_storage.min_ratio),
                "scope": self.cold_storage.scope,
            }
        if self.hot_guarantee:
            rules["hot_guarantee"] = {
                "basis": self.hot_guarantee.basis,
                "min_ratio": decimal_text(self.hot_guarantee.min_ratio),
            }
        if self.liability_reserve:
            r = self.liability_reserve
            rules["liability_reserve"] = {
                "method": r.method,
                "basis": r.basis,
                "rate": decimal_text(r.rate),
                "floor_jpy": decimal_text(r.floor_jpy),
                "cap_jpy": None if r.cap_jpy is None else decimal_text(r.cap_jpy),
                "insurance_max_share": decimal_text(r.insurance_max_share),
                "rounding": r.rounding,
            }
            if r.method == "trading_volume":
                rules["liability_reserve"].update(
                    rates={c: decimal_text(v) for c, v in r.rates}, window_months=r.window_months, aggregate=r.aggregate
                )
        if self.custodians:
            rules["custodians"] = {"require_registry": self.custodians.require_registry}
        rules["addresses"] = {"duplicates": self.addresses.duplicates, "also_claimed": self.addresses.also_claimed}
        return {"name": self.name, "title": self.title, "source": self.source, "sha256": self.sha256, "rules": rules}


def builtin_policies() -> list[str]:
    folder = resources.files("por").joinpath("policies")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_policy(spec: str | Path) -> Policy:
    """A built-in policy by name (`jp-fsa`), or a policy file by path."""
    text_spec = str(spec)
    looks_like_path = isinstance(spec, Path) or "/" in text_spec or "\\" in text_spec or text_spec.endswith(".toml")
    if not looks_like_path and _NAME_RE.match(text_spec):
        resource = resources.files("por").joinpath("policies", f"{text_spec}.toml")
        if resource.is_file():
            return parse_policy(resource.read_bytes(), str(resource))
    path = Path(text_spec)
    if text_spec != "-" and (not path.exists() or path.is_dir()):  # a pipe (`<(...)`) is a policy file too
        known = ", ".join(builtin_policies())
        raise InputError(
            f"{text_spec[:80]!r} is neither a built-in policy ({known}) nor a policy file", field="--policy"
        )
    from por.strictjson import read_bounded

    return parse_policy(read_bounded(path, MAX_POLICY_BYTES, empty_ok=True), str(path))


def parse_policy(raw: bytes, source: str) -> Policy:
    """Policy file bytes -> Policy; every defect names the file and the dotted field."""
    try:
        text = raw.decode("utf-8-sig")  # a BOM (Windows editors) is not the policy
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=source) from None
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except ValueError as exc:  # TOMLDecodeError, or an integer of more than 4300 digits
        match = _LINE_RE.search(str(exc))
        raise InputError(
            f"invalid TOML: {str(exc)[:200]}", file=source, line=int(match.group(1)) if match else None
        ) from None
    top = _Table(data, source, "")
    top.only("policy", "coverage", "cold_storage", "hot_guarantee", "liability_reserve", "custodians", "addresses")
    head = top.table("policy")
    head.only("name", "title", "version", "description", "references")
    name = head.string("name")
    if not _NAME_RE.match(name):
        raise head.error("name", "must be 1-64 of a-z 0-9 - _, starting with a letter or digit")
    version = head.get("version", POLICY_VERSION)
    if version != POLICY_VERSION or isinstance(version, bool):
        raise head.error("version", f"must be {POLICY_VERSION}")
    title = head.string("title", default=name)
    head.string("description", default="")
    refs = head.get("references", [])
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise head.error("references", "must be a list of strings")

    policy = Policy(
        name=name,
        title=title,
        source=source,
        sha256=hashlib.sha256(raw).hexdigest(),
        coverage=_coverage(top.table("coverage")) if "coverage" in data else None,
        cold_storage=_cold(top.table("cold_storage")) if "cold_storage" in data else None,
        hot_guarantee=_hot(top.table("hot_guarantee")) if "hot_guarantee" in data else None,
        liability_reserve=_reserve(top.table("liability_reserve")) if "liability_reserve" in data else None,
        addresses=_addresses(top.table("addresses")) if "addresses" in data else AddressRules(),
        custodians=_custodians(top.table("custodians")) if "custodians" in data else None,
    )
    if not any((policy.coverage, policy.cold_storage, policy.hot_guarantee, policy.liability_reserve)):
        raise InputError(
            "a policy needs at least one rule table: coverage, cold_storage, hot_guarantee or liability_reserve",
            file=source,
        )
    return policy


def _coverage(t: _Table) -> CoverageRule:
    t.only("min_ratio", "count")
    count = t.get("count", ["cold", "hot", "own"])
    if not isinstance(count, list) or not count or not all(isinstance(c, str) for c in count):
        raise t.error("count", "must be a non-empty list of wallet types (cold, hot, own)")
    try:
        types = tuple(WalletType(c) for c in count)
    except ValueError:
        raise t.error("count", f"wallet types are cold, hot and own, not {count}") from None
    if len(set(types)) != len(types):
        raise t.error("count", "lists a wallet type twice")
    return CoverageRule(t.decimal("min_ratio", default=Decimal(1)), types)


def _cold(t: _Table) -> ColdStorageRule:
    t.only("min_ratio", "scope")
    return ColdStorageRule(
        t.decimal("min_ratio", default=Decimal("0.95"), maximum=Decimal(1)),
        t.choice("scope", COLD_SCOPES, default="per_asset"),
    )


def _hot(t: _Table) -> HotGuaranteeRule:
    t.only("basis", "min_ratio")
    return HotGuaranteeRule(
        t.choice("basis", HOT_BASES, default="customer_not_cold"), t.decimal("min_ratio", default=Decimal(1))
    )


def _reserve(t: _Table) -> LiabilityReserveRule:
    common = (
        "method",
        "floor_jpy",
        "cap_jpy",
        "insurance_max_share",
        "reserve_deposits_jpy",
        "insurance_jpy",
        "rounding",
    )
    method = t.choice("method", RESERVE_METHODS, default="clamp")
    if method == "clamp":
        t.only(*common, "basis", "rate", "trading_volume_jpy")
    else:
        t.only(*common, "rates", "window_months", "aggregate")
    floor = t.decimal("floor_jpy", default=Decimal(0))
    cap = t.decimal("cap_jpy", default=None)
    if cap is not None and cap < floor:
        raise t.error("cap_jpy", f"{decimal_text(cap)} is below floor_jpy {decimal_text(floor)}")
    rates: tuple[tuple[str, Decimal], ...] = ()
    window, aggregate = 12, "sum"
    if method == "trading_volume":
        table = t.table("rates")
        if not table.data:
            raise t.error("rates", "needs at least one category = rate (reserve per yen traded)")
        for category in table.data:
            if not _CATEGORY_RE.match(category):
                raise table.error(category, "a category name is a-z, 0-9 and _, starting with a letter")
        rates = tuple((c, table.decimal(c, maximum=Decimal(1))) for c in sorted(table.data))
        window = t.get("window_months", 12)
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 120:
            raise t.error("window_months", "must be a whole number of months, 1 to 120")
        aggregate = t.choice("aggregate", RESERVE_AGGREGATES, default="sum")
        if aggregate == "max_year" and window % 12:
            raise t.error("window_months", f"max_year takes whole years: a multiple of 12, got {window}")
    return LiabilityReserveRule(
        basis=t.choice("basis", RESERVE_BASES, default="customer_liabilities_jpy")
        if method == "clamp"
        else "trading_volume_by_category",
        rate=t.decimal("rate") if method == "clamp" else Decimal(0),
        floor_jpy=floor,
        cap_jpy=cap,
        insurance_max_share=t.decimal("insurance_max_share", default=Decimal(1), maximum=Decimal(1)),
        reserve_deposits_jpy=t.decimal("reserve_deposits_jpy", default=Decimal(0)),
        insurance_jpy=t.decimal("insurance_jpy", default=Decimal(0)),
        trading_volume_jpy=t.decimal("trading_volume_jpy", default=None) if method == "clamp" else None,
        method=method,
        rates=rates,
        window_months=window,
        aggregate=aggregate,
        rounding=t.choice("rounding", ROUNDINGS, default="up"),
    )


def _custodians(t: _Table) -> CustodianRule:
    t.only("require_registry")
    required = t.get("require_registry", True)
    if not isinstance(required, bool):
        raise t.error("require_registry", f"must be true or false, got {_type_name(required)}")
    return CustodianRule(required)


def _addresses(t: _Table) -> AddressRules:
    t.only("duplicates", "also_claimed")
    return AddressRules(
        t.choice("duplicates", DUPLICATE_ACTIONS, default="count_once"),
        t.choice("also_claimed", CLAIMED_ACTIONS, default="exclude"),
    )


_MISSING = object()


class _Table:
    """One TOML table with its dotted name, for errors that name the field."""

    def __init__(self, data: Any, source: str, prefix: str) -> None:
        self.data, self.source, self.prefix = data, source, prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, reason: str) -> InputError:
        return InputError(reason, file=self.source, field=self.name(key))

    def only(self, *keys: str) -> None:
        for key in self.data:
            if key not in keys:
                raise self.error(key, f"unknown key (allowed: {', '.join(keys)})")

    def get(self, key: str, default: Any = _MISSING) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise self.error(key, "missing")
        return default

    def table(self, key: str) -> _Table:
        value = self.get(key)
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table, got {_type_name(value)}")
        return _Table(value, self.source, self.name(key))

    def string(self, key: str, default: Any = _MISSING) -> str:
        value = self.get(key, default)
        if not isinstance(value, str) or len(value) > 2000:
            raise self.error(key, f"must be a string (at most 2000 characters), got {_type_name(value)}")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: Any = _MISSING) -> str:
        value = self.get(key, default)
        if value not in options or not isinstance(value, str):
            raise self.error(key, f"must be one of {', '.join(options)}, got {str(value)[:40]!r}")
        return value

    def decimal(self, key: str, default: Any = _MISSING, maximum: Decimal | None = None) -> Any:
        """A non-negative exact number: TOML integer, TOML float (read as Decimal) or decimal string."""
        value = self.get(key, default)
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
            raise self.error(key, f"must be a number, got {_type_name(value)}")
        if isinstance(value, str):
            if not _DECIMAL_RE.match(value.strip()):
                raise self.error(key, f"{value[:40]!r} is not a plain non-negative decimal number")
            value = Decimal(value.strip())
        try:
            number = Decimal(value)
        except (InvalidOperation, ValueError):
            raise self.error(key, "not a number") from None
        if not number.is_finite():
            raise self.error(key, "must be a finite number")
        if number < 0:
            raise self.error(key, f"must be >= 0, got {value}")
        if maximum is not None and number > maximum:
            raise self.error(key, f"must be <= {decimal_text(maximum)}, got {value}")
        exponent = number.as_tuple().exponent  # an int once the number is finite
        if not isinstance(exponent, int) or abs(exponent) > 30 or number.adjusted() > 30:
            raise self.error(key, "has too many digits (at most 30 before and 30 after the point)")
        return number


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Decimal):
        return "a number"
    return {int: "an integer", str: "a string"}.get(type(value), type(value).__name__)
