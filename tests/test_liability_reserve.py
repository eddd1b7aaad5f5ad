"""The liability reserve (責任準備金) as the securities rule computes it: yen traded per month and
category x the category's rate, over the window before the snapshot month; met by deposits plus
insurance in force on the snapshot date. Every expected number is computed by hand in the comments."""

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from fixtures.japan import volumes_doc, write_insurance, write_volumes
from por.audit.declarations import Volumes, declared_insurance, load_insurance, load_volumes
from por.audit.policy import load_policy, parse_policy
from por.audit.reconcile import ReconcileOptions, reconcile
from por.audit.reserve import reserve_window
from por.errors import InputError

DOCS = Path(__file__).parents[1] / "docs/formats"
SCHEMA = json.loads((DOCS / "audit-report.schema.json").read_text())
VOLUME_SCHEMA = json.loads((DOCS / "volumes.schema.json").read_text())
DAY = date(2026, 6, 30)  # snapshot day in Japan: the window is Mar, Apr, May 2026


def policy(extra="", rates='exchange = "0.0002"\ndealer = "0.0005"', window=3, aggregate="sum"):
    return parse_policy(
        f"""
[policy]
name = "reserve-test"
[liability_reserve]
method = "trading_volume"
window_months = {window}
aggregate = "{aggregate}"
{extra}
[liability_reserve.rates]
{rates}
""".encode(),
        "reserve.toml",
    )


# Mar: 1,000,000,000 x 0.0002 = 200,000 and 100,001,000 x 0.0005 = 50,000.5
# Apr: 2,000,000,000 x 0.0002 = 400,000
# May:   500,000,000 x 0.0002 = 100,000 (dealer 0)
# sum = 750,000.5 -> rounded up: 750,001 yen required
MONTHS = {
    "2026-03": {"exchange": "1000000000", "dealer": "100001000"},
    "2026-04": {"exchange": "2000000000"},
    "2026-05": {"exchange": "500000000", "dealer": "0"},
    "2026-06": {"exchange": "999999999999"},  # the snapshot's own month: outside the window
    "2025-01": {"exchange": "999999999999"},
}  # long before: outside the window


@pytest.fixture
def volumes(tmp_path):
    return load_volumes(write_volumes(tmp_path / "volumes.json", MONTHS))


def reserve(rule, volumes, *, deposits=0, insurance=None, insurance_jpy=None, day=DAY):
    options = ReconcileOptions(
        volumes=volumes,
        snapshot_day=day,
        reserve_deposits_jpy=Decimal(deposits),
        insurance=insurance,
        insurance_jpy=insurance_jpy,
    )
    result = reconcile({}, [], rule, options=options)
    jsonschema.validate(result.to_json(), SCHEMA)
    (check,) = [c for c in result.checks if c.rule == "liability_reserve"]
    return check


def test_exactly_met(volumes):
    check = reserve(policy(), volumes, deposits=750_001)
    assert check.ok and check.required == "750001" and check.actual == "750001"
    assert check.details["formula_jpy"] == "750000.5" and check.details["window"] == "2026-03..2026-05"
    assert check.details["volume_jpy.exchange"] == "3500000000" and check.details["volume_jpy.dealer"] == "100001000"


def test_one_yen_short(volumes):
    check = reserve(policy(), volumes, deposits=750_000)
    assert not check.ok
    assert check.reason.startswith("liability reserve (責任準備金): JPY 750,001 required")
    assert "JPY 1 short" in check.reason and "2026-03..2026-05" in check.reason


def test_rounding_down_is_a_policy_choice(volumes):
    assert reserve(policy('rounding = "down"'), volumes, deposits=750_000).required == "750000"


def test_insurance_covers_part(volumes, tmp_path):
    cover = load_insurance(
        write_insurance(
            tmp_path / "ins.csv", [("Tokio Example Insurance", "CY-2026-001", "250001", "2026-01-01", "2026-12-31")]
        )
    )
    assert reserve(policy(), volumes, deposits=500_000, insurance=cover).ok  # 500,000 + 250,001
    # insurance may stand for at most a quarter: 0.25 x 750,001 = 187,500.25 counted, 62,500.75 short
    check = reserve(policy('insurance_max_share = "0.25"'), volumes, deposits=500_000, insurance=cover)
    assert not check.ok and check.details["insurance_counted_jpy"] == "187500.25"
    assert "JPY 62,500.75 short" in check.reason and "(of JPY 250,001 in force)" in check.reason


def test_insurance_expired_before_the_snapshot_does_not_count(volumes, tmp_path):
    cover = load_insurance(
        write_insurance(
            tmp_path / "ins.csv",
            [
                ("Tokio Example Insurance", "CY-2025-001", "750001", "2025-07-01", "2026-06-29"),
                ("Tokio Example Insurance", "CY-2026-002", "100", "2026-06-30", "2027-06-29"),
            ],
        )
    )
    check = reserve(policy(), volumes, insurance=cover)
    assert not check.ok and check.details["insurance_jpy"] == "100"  # only the one in force
    assert "not in force on the snapshot date: Tokio Example Insurance policy CY-2025-001" in check.reason
    assert "2026-06-29" in check.details["insurance_not_in_force"]
    assert reserve(policy(), volumes, insurance=cover, day=date(2026, 6, 29)).ok  # its last day still counts


def test_insurance_jpy_is_a_shorthand_without_a_period(volumes, tmp_path):
    assert reserve(policy(), volumes, insurance_jpy=Decimal(750_001)).ok
    assert reserve(policy(), volumes, insurance=declared_insurance(Decimal(750_001))).ok
    cover = load_insurance(write_insurance(tmp_path / "i.csv", [("A", "1", "1", "2026-01-01", "2026-12-31")]))
    with pytest.raises(InputError, match="not both"):
        reserve(policy(), volumes, insurance=cover, insurance_jpy=Decimal(1))


def test_the_window_is_the_months_before_the_snapshot_month(volumes):
    """A snapshot on 1 July (JST) has June complete: the window moves to Apr..Jun."""
    rule = policy()
    assert [m for m, _ in reserve_window(rule.liability_reserve, volumes, date(2026, 7, 1))] == [
        "2026-04",
        "2026-05",
        "2026-06",
    ]
    # Apr 400,000 + May 100,000 + Jun 999,999,999,999 x 0.0002 = 199,999,999.9998 -> 200,499,999.9998 -> up
    assert reserve(rule, volumes, day=date(2026, 7, 1)).required == "200500000"
    january = reserve_window(
        policy(window=3).liability_reserve, volumes_of({"2025-11": {}, "2025-12": {}, "2026-01": {}}), date(2026, 2, 3)
    )
    assert [m for m, _ in january] == ["2025-11", "2025-12", "2026-01"]  # across a year end


def volumes_of(months):
    return Volumes("v.json", None, {m: {c: Decimal(v) for c, v in cats.items()} for m, cats in months.items()})


def test_a_missing_month_or_an_unrated_category_is_bad_input(volumes):
    gap = volumes_of({"2026-03": {}, "2026-05": {}})
    with pytest.raises(InputError, match="no trading volumes for 2026-04") as err:
        reserve(policy(), gap)
    assert err.value.file == "v.json"
    with pytest.raises(InputError, match="'staking' has no rate"):
        reserve(policy(), volumes_of({"2026-03": {"staking": 1}, "2026-04": {}, "2026-05": {}}))
    with pytest.raises(InputError, match="--volumes"):
        reserve(policy(), None)


def test_max_year_takes_the_largest_twelve_months():
    # window 24 months before 2026-06: Jun 2024..May 2026; year 1 (Jun 2024..May 2025) has 10^9 in one
    # month -> 200,000; year 2 (Jun 2025..May 2026) has 3 x 10^8 -> 60,000. max = 200,000; sum = 260,000.
    months = {f"{2024 + (i + 5) // 12}-{(i + 5) % 12 + 1:02d}": {"exchange": 0} for i in range(24)}
    months["2024-09"] = {"exchange": 10**9}
    months["2026-05"] = {"exchange": 3 * 10**8}
    vols = volumes_of(months)
    assert reserve(policy(window=24, aggregate="max_year"), vols).required == "200000"
    assert reserve(policy(window=24, aggregate="sum"), vols).required == "260000"


def test_floor_and_cap_are_parameters(volumes):
    assert reserve(policy("floor_jpy = 1_000_000"), volumes).required == "1000000"
    assert reserve(policy("cap_jpy = 700_000"), volumes).required == "700000"


def test_shipped_jp_fsa_on_a_hand_computed_year(tmp_path):
    """jp-fsa: 0.0002 per yen in every category, the 12 months before the snapshot month, rounded up.
    Jul 2025..Jun 2026: exchange 10^11 a month, dealer 3 x 10^10 + 1 in Jun -> 12 x 10^11 x 0.0002 =
    240,000,000 + (3 x 10^10 + 1) x 0.0002 = 6,000,000.0002 -> 246,000,000.0002 -> 246,000,001."""
    months = {f"{2025 + (m > 12)}-{(m - 1) % 12 + 1:02d}": {"exchange": 10**11} for m in range(7, 19)}
    months["2026-06"]["dealer"] = 3 * 10**10 + 1
    vols = load_volumes(write_volumes(tmp_path / "v.json", months))
    check = reserve(load_policy("jp-fsa"), vols, deposits=246_000_001, day=date(2026, 7, 1))
    assert check.ok and check.required == "246000001" and check.details["method"] == "trading_volume"


def test_the_clamp_rule_stays_as_the_simpler_alternative():
    rule = parse_policy(
        b'[policy]\nname="c"\n[liability_reserve]\nmethod="clamp"\nbasis="trading_volume_jpy"\n'
        b'rate="0.02"\nfloor_jpy=100\n',
        "c.toml",
    )
    result = reconcile(
        {}, [], rule, options=ReconcileOptions(trading_volume_jpy=Decimal(10_000), reserve_deposits_jpy=Decimal(200))
    )
    assert result.ok and result.checks[0].required == "200" and result.checks[0].details["method"] == "clamp"


def test_policy_defects_name_the_field():
    for extra, rates, message in (
        ('rate = "0.1"', 'a = "0.1"', "unknown key"),
        ("", "", "at least one category"),
        ("", 'Bad = "0.1"', "category name"),
        ("", 'a = "1.5"', "must be <= 1"),
    ):
        with pytest.raises(InputError, match=message):
            policy(extra, rates)
    with pytest.raises(InputError, match="multiple of 12"):
        policy(window=18, aggregate="max_year")
    with pytest.raises(InputError, match="window_months"):
        policy(window=0)


def test_volumes_file_follows_its_schema_and_defects_name_the_field(tmp_path):
    jsonschema.validate(volumes_doc(MONTHS), VOLUME_SCHEMA)
    path = tmp_path / "v.json"
    bad = {
        '{"months": [{"month": "2026-13", "volumes": {}}]}': "not a month",
        '{"months": [{"month": "2026-01", "volumes": {"a": 1.5}}]}': "plain non-negative yen",
        '{"months": [{"month": "2026-01", "volumes": {"a": "-1"}}]}': "plain non-negative yen",
        '{"months": [{"month": "2026-01", "volumes": {}}, {"month": "2026-01", "volumes": {}}]}': "twice",
        '{"currency": "USD", "months": []}': "JPY",
        '{"months": []}': "no months",
    }
    for text, message in bad.items():
        path.write_text(text)
        with pytest.raises(InputError, match=message):
            load_volumes(path)


def test_insurance_file_defects_name_the_line(tmp_path):
    path = tmp_path / "i.csv"
    for rows, message in (
        ([("A", "1", "1e9", "2026-01-01", "2026-12-31")], "plain non-negative yen"),
        ([("A", "1", "1", "2026-12-31", "2026-01-01")], "before valid_from"),
        ([("", "1", "1", "2026-01-01", "2026-12-31")], "printable"),
        ([], "no insurance policies"),
    ):
        write_insurance(path, rows)
        with pytest.raises(InputError, match=message) as err:
            load_insurance(path)
        assert err.value.file == str(path)
