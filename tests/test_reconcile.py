"""Reconciler boundaries: every rule at its edge, and every address that must not count."""

import json
from datetime import date
from decimal import Decimal
from itertools import count
from pathlib import Path

import jsonschema
import pytest

from chains.records import AddressReserve, DeclaredWallet, OwnershipResult, Scheme, WalletType
from por.amounts import MAX_UNITS
from por.audit.declarations import Volumes
from por.audit.policy import load_policy, parse_policy
from por.audit.prices import Price, Prices
from por.audit.reconcile import ReconcileOptions, check_prices, reconcile
from por.errors import InputError

SCHEMA = json.loads((Path(__file__).parents[1] / "docs/formats/audit-report.schema.json").read_text())
BTC = 10**8  # one bitcoin in satoshis
ETH = 10**18  # one ether in wei
_line = count(2)


def row(asset, wallet_type, amount, address=None, *, ok=True, chain=None):
    """One declared address after its ownership check and balance read."""
    line = next(_line)
    wallet = DeclaredWallet(
        chain=chain or ("bitcoin" if asset == "BTC" else "hardhat"),
        asset=asset,
        address=address or f"addr{line}",
        wallet_type=WalletType(wallet_type),
        scheme=Scheme.EIP191,
        message="m",
        signatures=("sig",),
        source=f"wallets.csv:{line}",
    )
    reason = "signature verified" if ok else "signature made by another key"
    return AddressReserve(wallet, OwnershipResult(ok, reason), amount)


def prices(**jpy):
    return Prices(
        "prices.csv", {a: Price(a, Decimal(p), "test quote", "2026-01-05T00:00:00+09:00") for a, p in jpy.items()}
    )


def policy_text(text):
    return parse_policy(text.encode(), "my-policy.toml")


# jp-fsa without the JPY reserve, to look at the crypto rules alone.
JP_CRYPTO = policy_text("""
[policy]
name = "jp-crypto"
[coverage]
count = ["cold", "hot"]
[cold_storage]
min_ratio = 0.95
[hot_guarantee]
""")


def validated(result):
    doc = result.to_json()
    jsonschema.validate(doc, SCHEMA)
    json.dumps(doc, ensure_ascii=False)
    _no_floats(doc)
    return doc


def _no_floats(value):
    assert not isinstance(value, float)
    if isinstance(value, dict):
        for v in value.values():
            _no_floats(v)
    elif isinstance(value, list):
        for v in value:
            _no_floats(v)


def check(result, asset, rule):
    (found,) = [c for a in result.assets if a.asset == asset for c in a.checks if c.rule == rule]
    return found


# --- cold storage at 95% --------------------------------------------------------------------


def test_exactly_95_percent_cold_passes():
    rows = [row("BTC", "cold", 95 * BTC), row("BTC", "hot", 5 * BTC), row("BTC", "own", 5 * BTC)]
    result = reconcile({"BTC": 100 * BTC}, rows, JP_CRYPTO)
    assert result.ok, result.reasons
    assert check(result, "BTC", "cold_storage").required == "95"
    validated(result)


def test_one_base_unit_under_95_percent_cold_fails_with_the_shortfall():
    rows = [row("BTC", "cold", 95 * BTC - 1), row("BTC", "hot", 5 * BTC + 1), row("BTC", "own", 5 * BTC + 1)]
    result = reconcile({"BTC": 100 * BTC}, rows, JP_CRYPTO)
    assert not result.ok
    assert [c.rule for a in result.assets for c in a.checks if not c.ok] == ["cold_storage"]
    (reason,) = result.reasons
    assert "BTC: cold wallets hold 94.99999999 BTC = 94.99%" in reason
    assert "at least 95%" in reason and "0.00000001 BTC short" in reason
    assert validated(result)["verdict"] == "fail"


def test_94_percent_cold_fails_even_when_own_coins_cover_the_hot_part():
    rows = [row("ETH", "cold", 94 * ETH), row("ETH", "hot", 6 * ETH), row("ETH", "own", 6 * ETH)]
    result = reconcile({"ETH": 100 * ETH}, rows, JP_CRYPTO)
    assert not result.ok and len(result.reasons) == 1
    assert "cold wallets hold 94 ETH = 94.00%" in result.reasons[0]


def test_cold_requirement_rounds_up_never_down():
    # 95% of 7 base units is 6.65: 6 units in cold is under 95%, so 7 are required.
    rows = [row("BTC", "cold", 6), row("BTC", "hot", 1), row("BTC", "own", 1)]
    result = reconcile({"BTC": 7}, rows, JP_CRYPTO)
    assert check(result, "BTC", "cold_storage").required == "0.00000007"
    assert not result.ok


def test_huge_amounts_are_exact_at_the_boundary():
    # Near 2^128 base units a float would round 95% of L; the boundary must still be exact.
    liabilities = MAX_UNITS - 12345
    required = -((-95 * liabilities) // 100)
    ok = reconcile(
        {"ETH": liabilities},
        [row("ETH", "cold", required), row("ETH", "hot", liabilities - required), row("ETH", "own", liabilities)],
        JP_CRYPTO,
    )
    short = reconcile(
        {"ETH": liabilities},
        [
            row("ETH", "cold", required - 1),
            row("ETH", "hot", liabilities - required + 1),
            row("ETH", "own", liabilities),
        ],
        JP_CRYPTO,
    )
    assert ok.ok and not short.ok
    assert check(short, "ETH", "cold_storage").ok is False and check(short, "ETH", "coverage").ok


def test_total_jpy_scope_follows_the_order_as_written():
    # BTC is only 90% cold, but by JPY value over all customer crypto 95%+ is cold.
    per_jpy = policy_text("""
[policy]
name = "jp-total"
[cold_storage]
scope = "total_jpy"
""")
    rows = [row("BTC", "cold", 90 * BTC), row("BTC", "hot", 10 * BTC), row("ETH", "cold", 1000 * ETH)]
    liabilities = {"BTC": 100 * BTC, "ETH": 1000 * ETH}
    quotes = prices(BTC="10000000", ETH="500000")
    total = reconcile(liabilities, rows, per_jpy, prices=quotes)
    # customer crypto: 100 BTC = 1e9 JPY, 1000 ETH = 5e8 JPY; in cold: 9e8 + 5e8 = 1.4e9 of 1.5e9 = 93.33%
    assert not total.ok and "93.33%" in total.reasons[0]
    quotes = prices(BTC="1000000", ETH="500000")  # now BTC 1e8, ETH 5e8: cold 0.9e8 + 5e8 of 6e8 = 98.3%
    total = reconcile(liabilities, rows, per_jpy, prices=quotes)
    assert total.ok and total.checks[0].scope == "all" and total.checks[0].unit == "JPY"
    assert not reconcile(liabilities, rows, JP_CRYPTO).ok  # per asset, BTC fails
    validated(total)


# --- coverage -------------------------------------------------------------------------------


def test_zero_liabilities_and_no_reserves_pass_with_no_ratio():
    result = reconcile({"BTC": 0}, [], load_policy("full-reserve"))
    (asset,) = result.assets
    assert result.ok and asset.coverage_ratio is None and asset.required == 0
    assert validated(result)["assets"][0]["coverage_ratio"] is None


def test_reserves_without_liabilities_pass_and_are_noted():
    result = reconcile(
        {"BTC": 10 * BTC}, [row("BTC", "cold", 10 * BTC), row("ETH", "cold", 3 * ETH)], load_policy("full-reserve")
    )
    eth = next(a for a in result.assets if a.asset == "ETH")
    assert result.ok and eth.liabilities == 0 and eth.surplus == 3 * ETH and eth.coverage_ratio is None
    assert any("no customer liabilities in ETH" in n for n in eth.notes)


def test_liabilities_without_reserves_fail():
    result = reconcile(
        {"BTC": 10 * BTC, "USDT": 5_000_000}, [row("BTC", "cold", 10 * BTC)], load_policy("full-reserve")
    )
    assert not result.ok
    (reason,) = result.reasons
    assert reason.startswith("USDT: no verified reserves in cold+hot+own wallets")
    assert "shortfall 5 USDT" in reason
    usdt = next(a for a in result.assets if a.asset == "USDT")
    assert usdt.coverage_ratio == "0.000000" and usdt.shortfall == 5_000_000


def test_one_asset_short_while_the_others_are_fine():
    rows = [
        row("BTC", "cold", 3 * BTC),
        row("BTC", "hot", BTC),
        row("ETH", "cold", 50 * ETH - 1),
        row("USDT", "own", 10**12),
    ]
    result = reconcile({"BTC": 4 * BTC, "ETH": 50 * ETH, "USDT": 10**12}, rows, load_policy("full-reserve"))
    assert not result.ok
    assert {a.asset: a.ok for a in result.assets} == {"BTC": True, "ETH": False, "USDT": True}
    (reason,) = result.reasons
    assert reason.startswith("ETH:") and "shortfall 0.000000000000000001 ETH" in reason
    eth = next(a for a in result.assets if a.asset == "ETH")
    assert eth.coverage_ratio == "0.999999"  # rounded down: never shows 1.000000 while short
    validated(result)


def test_full_reserve_ratio_is_configurable():
    strict = policy_text('[policy]\nname = "buffered"\n[coverage]\nmin_ratio = "1.05"\n')
    rows = [row("BTC", "cold", 105 * BTC)]
    assert reconcile({"BTC": 100 * BTC}, rows, strict).ok
    result = reconcile({"BTC": 100 * BTC}, [row("BTC", "cold", 105 * BTC - 1)], strict)
    assert not result.ok and "at least 105% (105 BTC) required" in result.reasons[0]


def test_jp_fsa_does_not_count_own_coins_as_customer_reserves():
    # Own coins back the hot part; counting them as customer reserves too would count them twice.
    rows = [row("BTC", "cold", 95 * BTC), row("BTC", "own", 5 * BTC)]
    result = reconcile({"BTC": 100 * BTC}, rows, JP_CRYPTO)
    assert [c.rule for c in result.assets[0].checks if not c.ok] == ["coverage"]
    assert reconcile({"BTC": 100 * BTC}, rows, load_policy("full-reserve")).ok


# --- hot wallets and 履行保証暗号資産 -----------------------------------------------------------


def test_hot_part_not_covered_by_own_coins_fails():
    rows = [row("ETH", "cold", 96 * ETH), row("ETH", "hot", 4 * ETH), row("ETH", "own", 3 * ETH)]
    result = reconcile({"ETH": 100 * ETH}, rows, JP_CRYPTO)
    assert not result.ok
    (reason,) = result.reasons
    assert "customer crypto kept outside cold wallets (liabilities minus cold) is 4 ETH" in reason
    assert "own wallets (履行保証暗号資産) hold 3 ETH" in reason and "1 ETH not matched by own coins" in reason
    rows[2] = row("ETH", "own", 4 * ETH)
    assert reconcile({"ETH": 100 * ETH}, rows, JP_CRYPTO).ok


def test_own_coins_of_another_asset_do_not_match_the_hot_part():
    rows = [row("BTC", "cold", 96 * BTC), row("BTC", "hot", 4 * BTC), row("ETH", "own", 10**6 * ETH)]
    result = reconcile({"BTC": 100 * BTC}, rows, JP_CRYPTO)
    assert not check(result, "BTC", "hot_guarantee").ok


def test_hot_guarantee_basis_customer_not_cold_vs_hot_balance():
    # Hot wallets hold more than the customer part outside cold (10 vs 4): the law's quantity is 4.
    rows = [row("BTC", "cold", 96 * BTC), row("BTC", "hot", 10 * BTC), row("BTC", "own", 4 * BTC)]
    assert reconcile({"BTC": 100 * BTC}, rows, JP_CRYPTO).ok
    stricter = policy_text('[policy]\nname = "hot"\n[hot_guarantee]\nbasis = "hot_balance"\n')
    result = reconcile({"BTC": 100 * BTC}, rows, stricter)
    assert not result.ok and "the hot wallets hold 10 BTC" in result.reasons[0]


def test_all_customer_coins_in_cold_need_no_own_coins():
    result = reconcile({"BTC": 100 * BTC}, [row("BTC", "cold", 100 * BTC)], JP_CRYPTO)
    assert result.ok and check(result, "BTC", "hot_guarantee").required == "0"


# --- which addresses count ------------------------------------------------------------------


def test_address_declared_twice_counts_once_and_is_flagged():
    first = row("ETH", "cold", 60 * ETH, "0xAbC0000000000000000000000000000000000001")
    again = row("ETH", "cold", 60 * ETH, "0xabc0000000000000000000000000000000000001")  # same, other case
    result = reconcile({"ETH": 100 * ETH}, [first, again], load_policy("full-reserve"))
    assert not result.ok
    assert result.assets[0].reserves == 60 * ETH
    a, b = result.addresses
    assert a.counted and not b.counted and b.not_counted_reason.startswith("declared again: already counted at")
    assert all("declared 2 times" in f for r in (a, b) for f in r.flags)
    assert "counted once: 1 repeated declaration" in result.reasons[0]
    assert len(result.warnings) == 2
    validated(result)


def test_address_declared_twice_under_two_wallet_types_counts_once():
    rows = [row("BTC", "cold", 5 * BTC, "bc1qsame"), row("BTC", "own", 5 * BTC, "bc1qsame")]
    result = reconcile({"BTC": 5 * BTC}, rows, JP_CRYPTO)
    btc = result.assets[0]
    assert (btc.cold, btc.own) == (5 * BTC, 0)


def test_same_address_for_two_assets_is_not_a_duplicate():
    # One EVM address holds ETH and a token: two declarations, two different balances.
    rows = [row("ETH", "cold", ETH, "0xfeed"), row("USDT", "cold", 10**6, "0xfeed")]
    result = reconcile({"ETH": ETH, "USDT": 10**6}, rows, load_policy("full-reserve"))
    assert result.ok and not result.warnings


def test_duplicates_fail_policy_fails_even_when_solvent():
    strict = policy_text('[policy]\nname = "nodup"\n[coverage]\n[addresses]\nduplicates = "fail"\n')
    rows = [row("BTC", "cold", 2 * BTC, "bc1qdup"), row("BTC", "cold", 2 * BTC, "bc1qdup")]
    result = reconcile({"BTC": BTC}, rows, strict)
    assert not result.ok and result.reasons == [
        "bitcoin BTC bc1qdup is declared 2 times; the nodup policy fails duplicate declarations"
    ]


def test_address_also_claimed_by_another_exchange_is_flagged_and_excluded():
    rows = [row("BTC", "cold", 8 * BTC, "bc1qours"), row("BTC", "cold", 3 * BTC, "BC1QSHARED")]
    options = ReconcileOptions(also_claimed={("bitcoin", "bc1qshared"): "OtherEx"})
    result = reconcile({"BTC": 10 * BTC}, rows, load_policy("full-reserve"), options=options)
    assert not result.ok and result.assets[0].reserves == 8 * BTC
    shared = result.addresses[1]
    assert not shared.counted and shared.flags == ["also claimed by OtherEx"]
    assert "not counted: 1 address also claimed by OtherEx (3 BTC)" in result.reasons[0]
    assert result.warnings[-1].endswith("not counted: also claimed by OtherEx: excluded by the policy")
    validated(result)


def test_also_claimed_on_another_chain_is_a_different_address():
    options = ReconcileOptions(also_claimed={("litecoin", "bc1qours"): "OtherEx"})
    result = reconcile(
        {"BTC": BTC}, [row("BTC", "cold", BTC, "bc1qours")], load_policy("full-reserve"), options=options
    )
    assert result.ok and not result.warnings


def test_also_claimed_can_be_counted_and_only_flagged_by_policy():
    lenient = policy_text('[policy]\nname = "lenient"\n[coverage]\n[addresses]\nalso_claimed = "count"\n')
    options = ReconcileOptions(also_claimed={("bitcoin", "bc1qshared")})  # a plain set works too
    result = reconcile({"BTC": BTC}, [row("BTC", "cold", BTC, "bc1qshared")], lenient, options=options)
    assert result.ok and result.addresses[0].flags == ["also claimed by another exchange"]
    assert result.warnings == [
        f"bitcoin BTC bc1qshared ({result.addresses[0].source}): also claimed by another exchange"
    ]


def test_failed_ownership_is_not_counted():
    rows = [row("BTC", "cold", 9 * BTC), row("BTC", "cold", 100 * BTC, ok=False)]
    result = reconcile({"BTC": 10 * BTC}, rows, load_policy("full-reserve"))
    assert not result.ok and result.assets[0].reserves == 9 * BTC
    assert result.addresses[1].not_counted_reason == "ownership not proven: signature made by another key"
    assert "not counted: 1 address with unproven ownership (100 BTC)" in result.reasons[0]


def test_unread_balance_is_not_counted():
    result = reconcile({"BTC": BTC}, [row("BTC", "cold", None)], load_policy("full-reserve"))
    assert not result.ok and result.addresses[0].not_counted_reason == "balance not read at the snapshot"
    validated(result)


def test_negative_or_fractional_amounts_are_refused():
    with pytest.raises(InputError, match="liabilities.BTC"):
        reconcile({"BTC": -1}, [], load_policy("full-reserve"))
    with pytest.raises(InputError, match="amount"):
        reconcile({"BTC": 1}, [row("BTC", "cold", -5)], load_policy("full-reserve"))
    with pytest.raises(InputError, match="amount"):
        reconcile({"BTC": 1}, [row("BTC", "cold", 1.5)], load_policy("full-reserve"))


def test_unknown_asset_decimals_are_an_input_error():
    with pytest.raises(InputError, match="assets.NEWCOIN"):
        reconcile({"NEWCOIN": 1}, [], load_policy("full-reserve"))
    result = reconcile(
        {"NEWCOIN": 10}, [row("NEWCOIN", "cold", 10)], load_policy("full-reserve"), assets={"NEWCOIN": 1}
    )
    assert result.ok and result.assets[0].to_json()["liabilities"] == "1"


# --- the liability reserve (責任準備金) -----------------------------------------------------------

SOLVENT = [row("BTC", "cold", 100 * BTC), row("ETH", "cold", 1000 * ETH)]
OWED = {"BTC": 100 * BTC, "ETH": 1000 * ETH}
QUOTES = prices(BTC="15000000", ETH="500000.25")  # customer crypto: 1.5e9 + 500,000,250 JPY


def reserve(result):
    (found,) = [c for c in result.checks if c.rule == "liability_reserve"]
    return found


def test_liability_reserve_covered_by_insurance():
    options = ReconcileOptions(insurance_jpy=Decimal(2_000_000_000))
    result = reconcile(OWED, SOLVENT, load_policy("jp-fsa-clamp"), prices=QUOTES, options=options)
    assert result.ok, result.reasons
    found = reserve(result)
    # 2% of 2,000,000,250 JPY is 40,000,005 JPY: under the floor, so the floor applies.
    assert found.details["basis_jpy"] == "2000000250" and found.details["formula_jpy"] == "40000005"
    assert found.required == "2000000000" and found.details["insurance_counted_jpy"] == "2000000000"
    validated(result)


def test_liability_reserve_not_covered_fails_with_the_amounts():
    options = ReconcileOptions(reserve_deposits_jpy=Decimal(500_000_000), insurance_jpy=Decimal(1_499_999_999))
    result = reconcile(OWED, SOLVENT, load_policy("jp-fsa-clamp"), prices=QUOTES, options=options)
    assert not result.ok
    (reason,) = result.reasons
    assert reason.startswith("liability reserve (責任準備金): JPY 2,000,000,000 required")
    assert "= JPY 1,999,999,999: JPY 1 short" in reason
    assert validated(result)["checks"][0]["ok"] is False


def test_liability_reserve_insurance_share_cap_and_rate():
    capped = policy_text("""
[policy]
name = "reserve-only"
[liability_reserve]
rate = "0.1"
floor_jpy = 0
cap_jpy = 150_000_000
insurance_max_share = "0.5"
reserve_deposits_jpy = 75_000_000
insurance_jpy = 10_000_000_000
""")
    result = reconcile(OWED, SOLVENT, capped, prices=QUOTES)
    found = reserve(result)
    # 10% of 2,000,000,250 = 200,000,025, capped at 150,000,000; insurance counts for half at most.
    assert found.required == "150000000" and found.details["insurance_counted_jpy"] == "75000000"
    assert found.ok and found.actual == "150000000"
    # Under the cap the requirement is rate x basis, rounded up to a whole yen.
    plain = policy_text('[policy]\nname = "r"\n[liability_reserve]\nrate = "0.1"\nreserve_deposits_jpy = 200_000_025\n')
    uncapped = reconcile(OWED, SOLVENT, plain, prices=prices(BTC="15000000", ETH="500000.255"))
    assert reserve(uncapped).details["formula_jpy"] == "200000025.5"
    assert reserve(uncapped).required == "200000026" and not reserve(uncapped).ok  # rounded up to a yen


def test_liability_reserve_on_trading_volume_needs_the_volume():
    volume = policy_text(
        '[policy]\nname = "v"\n[liability_reserve]\nbasis = "trading_volume_jpy"\nrate = "0.02"\nfloor_jpy = 0\n'
    )
    with pytest.raises(InputError, match="trading_volume_jpy"):
        reconcile(OWED, SOLVENT, volume)
    options = ReconcileOptions(trading_volume_jpy=Decimal(10**12), reserve_deposits_jpy=Decimal(2 * 10**10))
    result = reconcile(OWED, SOLVENT, volume, options=options)  # no prices needed for this basis
    assert result.ok and reserve(result).required == "20000000000"


def test_exchange_declarations_replace_the_policy_file_values():
    declared = policy_text(
        '[policy]\nname = "d"\n[liability_reserve]\nrate = "0"\nfloor_jpy = 100\nreserve_deposits_jpy = 100\n'
    )
    assert reconcile({}, [], declared).ok
    assert not reconcile({}, [], declared, options=ReconcileOptions(reserve_deposits_jpy=Decimal(99))).ok
    with pytest.raises(InputError, match="insurance_jpy"):
        reconcile({}, [], declared, options=ReconcileOptions(insurance_jpy=Decimal(-1)))


def test_missing_price_is_an_input_error_naming_the_asset_and_file():
    with pytest.raises(InputError) as info:
        reconcile(OWED, SOLVENT, load_policy("jp-fsa-clamp"), prices=prices(BTC="15000000"))
    assert info.value.file == "prices.csv" and info.value.field == "ETH"
    with pytest.raises(InputError) as info:
        check_prices(load_policy("jp-fsa-clamp"), OWED, None)
    assert info.value.field == "--prices"
    # An asset nobody is owed needs no price; a policy without JPY rules needs none at all.
    check_prices(load_policy("jp-fsa-clamp"), {"BTC": 1, "ETH": 0}, prices(BTC="1"))
    check_prices(load_policy("full-reserve"), OWED, None)


def test_a_solvent_exchange_passes_jp_fsa_and_the_report_is_complete():
    rows = [
        row("BTC", "cold", 95 * BTC),
        row("BTC", "hot", 5 * BTC),
        row("BTC", "own", 5 * BTC),
        row("ETH", "cold", 1000 * ETH),
    ]
    volumes = Volumes("volumes.json", None, {f"2025-{m:02d}": {"exchange": Decimal(10**12)} for m in range(1, 13)})
    options = ReconcileOptions(
        reserve_deposits_jpy=Decimal(1_000_000_000),
        insurance_jpy=Decimal(1_400_000_000),
        volumes=volumes,
        snapshot_day=date(2026, 1, 5),
    )
    result = reconcile(OWED, rows, load_policy("jp-fsa"), prices=QUOTES, options=options)
    assert result.ok and result.reasons == [] and result.warnings == []
    doc = validated(result)
    assert doc["verdict"] == "pass" and doc["policy"]["name"] == "jp-fsa"
    btc = doc["assets"][0]
    assert (btc["liabilities"], btc["cold"], btc["hot"], btc["own"], btc["reserves"]) == ("100", "95", "5", "5", "100")
    assert [c["rule"] for c in btc["checks"]] == ["coverage", "cold_storage", "hot_guarantee"]
    assert doc["prices"]["ETH"]["price_jpy"] == "500000.25"


def test_the_schema_rejects_numbers_where_amounts_must_be_strings():
    doc = reconcile({"BTC": BTC}, [row("BTC", "cold", BTC)], load_policy("full-reserve")).to_json()
    jsonschema.validate(doc, SCHEMA)
    for path, bad in (
        (("assets", 0, "cold"), 1.0),
        (("assets", 0, "liabilities"), "1.50"),
        (("addresses", 0, "balance"), "-1"),
        (("assets", 0, "coverage_ratio"), "1"),
    ):
        broken = json.loads(json.dumps(doc))
        target = broken
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = bad
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)
