"""Custodians: a wallet held by a third party counts only if the custodian is registered on the
snapshot date (Japan); registered, unregistered, lapsed, not yet registered, a borrowed number."""

import json
from datetime import date
from pathlib import Path

import jsonschema
import pytest

from chains.records import (
    AddressReserve,
    ChainSnapshot,
    Custodian,
    DeclaredWallet,
    OwnershipResult,
    Scheme,
    Snapshot,
    WalletType,
)
from fixtures.japan import REGISTRY, write_registry
from por.audit.policy import load_policy, parse_policy
from por.audit.reconcile import ReconcileOptions, reconcile
from por.audit.run import snapshot_day
from por.errors import InputError
from por.reserves.custodians import CustodianCheck, japan_date, load_custodians
from por.reserves.inputs import load_snapshot, load_wallets
from por.reserves.read import ReservesReport, check_custodians, summarize

SCHEMA = json.loads((Path(__file__).parents[1] / "docs/formats/audit-report.schema.json").read_text())
BTC = 10**8
DAY = date(2026, 6, 30)
REGISTERED = Custodian("Example Custody K.K.", "関東財務局長第00099号")
LAPSED = Custodian("Lapsed Trust Co., Ltd.", "関東財務局長第00098号")
FUTURE = Custodian("Future Vault Inc.", "近畿財務局長第00097号")

POLICY = parse_policy(
    b"""
[policy]
name = "custody-test"
[coverage]
count = ["cold", "hot"]
[custodians]
""",
    "custody.toml",
)


@pytest.fixture
def registry(tmp_path):
    return load_custodians(write_registry(tmp_path / "custodians.csv"))


def row(amount, custodian=None, line=2, kind=WalletType.COLD):
    wallet = DeclaredWallet(
        "bitcoin",
        "BTC",
        f"bc1q{line}",
        kind,
        Scheme.BIP322,
        "m",
        ("sig",),
        source=f"wallets.csv:{line}",
        custodian=custodian,
    )
    return AddressReserve(wallet, OwnershipResult(True, "signature verified"), amount)


def audit(rows, registry, day=DAY, owed=10 * BTC, policy=POLICY):
    options = ReconcileOptions(custodians=CustodianCheck(registry, day))
    result = reconcile({"BTC": owed}, rows, policy, assets={"BTC": 8}, options=options)
    doc = result.to_json()
    jsonschema.validate(doc, SCHEMA)
    return result, doc


def custodians_check(result):
    (check,) = [c for c in result.checks if c.rule == "custodians"]
    return check


def test_a_wallet_at_a_registered_custodian_counts(registry):
    result, doc = audit([row(6 * BTC, REGISTERED), row(4 * BTC, None, 3)], registry)
    assert result.ok, result.reasons
    assert custodians_check(result).ok and custodians_check(result).details["custodial_wallets"] == "1"
    assert doc["addresses"][0]["custodian"] == {"name": REGISTERED.name, "registration": REGISTERED.registration}
    assert doc["addresses"][1]["custodian"] is None


def test_a_wallet_at_an_unregistered_custodian_is_not_counted_and_named(registry):
    stranger = Custodian("Offshore Keys Ltd.")
    result, doc = audit([row(6 * BTC, stranger), row(10 * BTC, None, 3)], registry)
    check = custodians_check(result)
    assert not check.ok and not result.ok
    assert "Offshore Keys Ltd." in check.reason and "bc1q2" in check.reason and "not in the registry" in check.reason
    assert doc["addresses"][0]["counted"] is False
    assert "not in the registry" in doc["addresses"][0]["not_counted_reason"]
    assert result.assets[0].cold == 10 * BTC  # only the self-held wallet counted
    assert any("Offshore Keys" in r for r in result.reasons)


def test_a_lapsed_registration_does_not_count_and_says_when_it_lapsed(registry):
    result, _ = audit([row(10 * BTC, LAPSED)], registry)
    check = custodians_check(result)
    assert not check.ok
    assert "lapsed on 2026-03-31" in check.reason and "2026-06-30" in check.reason
    assert result.assets[0].cold == 0
    (coverage,) = result.assets[0].checks
    assert (
        not coverage.ok
        and "at a custodian not registered (or on a custody-system provider not notified)" in coverage.reason
    )


def test_registration_dates_are_inclusive_days_in_japan(registry):
    """Registered until 2026-03-31: counts on that day in Japan, not the next; UTC 15:00 is JST midnight."""
    assert japan_date("2026-03-31T14:59:59Z") == date(2026, 3, 31)
    assert japan_date("2026-03-31T15:00:00Z") == date(2026, 4, 1)
    assert audit([row(10 * BTC, LAPSED)], registry, day=date(2026, 3, 31))[0].ok
    assert not audit([row(10 * BTC, LAPSED)], registry, day=date(2026, 4, 1))[0].ok


def test_registered_only_after_the_snapshot_does_not_count(registry):
    result, _ = audit([row(10 * BTC, FUTURE)], registry)
    assert "registered only from 2026-09-01, after the snapshot date" in custodians_check(result).reason
    assert audit([row(10 * BTC, FUTURE)], registry, day=date(2026, 9, 1))[0].ok


def test_a_borrowed_registration_number_does_not_count(registry):
    impostor = Custodian("Impostor Custody", REGISTERED.registration)
    result, _ = audit([row(10 * BTC, impostor)], registry)
    assert "is Example Custody K.K.'s" in custodians_check(result).reason


def test_names_and_numbers_match_as_a_reader_would(registry):
    """Full-width digits, case and spacing: the same registration."""
    spelled = Custodian("example  custody k.k.", "関東財務局長第０００９９号")
    assert audit([row(10 * BTC, spelled)], registry)[0].ok
    assert audit([row(10 * BTC, Custodian("Example Custody K.K."))], registry)[0].ok  # by name alone


def test_the_policy_needs_a_registry_for_custodial_wallets():
    rows = [row(10 * BTC, REGISTERED)]
    with pytest.raises(InputError, match="--custodians"):
        reconcile({"BTC": 10 * BTC}, rows, load_policy("jp-fsa"), assets={"BTC": 8})
    assert reconcile({"BTC": 10 * BTC}, [row(10 * BTC)], POLICY, assets={"BTC": 8}).ok  # self-held: no registry
    loose = parse_policy(b"[policy]\nname='x'\n[coverage]\n", "x.toml")  # no custodians rule
    assert reconcile({"BTC": 10 * BTC}, rows, loose, assets={"BTC": 8}).ok


def test_registry_defects_name_the_line(tmp_path):
    cases = {
        "name,registration_number,registered_from\nA,1,2020-01-01\n": "header must be exactly",
        "name,registration_number,registered_from,registered_until\nA,1,2020-13-01,\n": "not a real date",
        "name,registration_number,registered_from,registered_until\nA,1,2020/01/01,\n": "YYYY-MM-DD",
        "name,registration_number,registered_from,registered_until\nA,1,2021-01-01,2020-01-01\n": "before",
        "name,registration_number,registered_from,registered_until\n,1,2021-01-01,\n": "custodian's name",
        "name,registration_number,registered_from,registered_until\n": "no custodians",
    }
    for text, message in cases.items():
        path = tmp_path / "r.csv"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InputError, match=message) as err:
            load_custodians(path)
        assert "r.csv" in str(err.value)


def test_wallet_files_declare_the_custodian(tmp_path):
    header = "chain,asset,address,wallet_type,scheme,message,signature,script,custodian,custodian_registration\n"
    csv_path = tmp_path / "w.csv"
    csv_path.write_text(
        header + "bitcoin,BTC,bc1qx,cold,bip322,m,sig,,Example Custody K.K.,関東財務局長第00099号\n"
        "bitcoin,BTC,bc1qy,cold,bip322,m,sig,,,\n",
        encoding="utf-8",
    )
    (held, own), _ = load_wallets(csv_path)
    assert held.custodian == REGISTERED and own.custodian is None
    plain = tmp_path / "plain.csv"  # the columns are optional
    plain.write_text(header.rsplit(",", 2)[0] + "\nbitcoin,BTC,bc1qx,cold,bip322,m,sig,\n", encoding="utf-8")
    assert load_wallets(plain)[0][0].custodian is None
    json_path = tmp_path / "w.json"
    json_path.write_text(
        json.dumps(
            {
                "wallets": [
                    {
                        "chain": "bitcoin",
                        "asset": "BTC",
                        "address": "bc1qx",
                        "wallet_type": "cold",
                        "scheme": "bip322",
                        "message": "m",
                        "signature": "sig",
                        "custodian": "Example Custody K.K.",
                        "custodian_registration": "関東財務局長第00099号",
                    }
                ]
            }
        )
    )
    assert load_wallets(json_path)[0][0].custodian == REGISTERED
    csv_path.write_text(header + "bitcoin,BTC,bc1qx,cold,bip322,m,sig,,,関東財務局長第00099号\n", encoding="utf-8")
    with pytest.raises(InputError, match="needs the custodian's name"):
        load_wallets(csv_path)


def test_por_reserves_recounts_without_unregistered_custodians(registry):
    rows = [row(6 * BTC, LAPSED), row(4 * BTC, REGISTERED, 3)]
    report = ReservesReport(
        "ex", Snapshot("s", {"bitcoin": ChainSnapshot("bitcoin", 1, "00" * 32)}), rows, summarize(rows, {"BTC": 8})
    )
    assert report.assets["BTC"].cold == 10 * BTC
    check_custodians(report, CustodianCheck(registry, DAY))
    assert report.assets["BTC"].cold == 4 * BTC
    assert any("lapsed" in f for f in rows[0].flags) and not rows[1].flags
    assert report.to_json()["addresses"][0]["custodian"]["name"] == LAPSED.name


def test_the_snapshot_day_comes_from_the_commitment_or_the_snapshot_file(tmp_path):
    assert snapshot_day("2026-06-30T15:00:00Z", None) == date(2026, 7, 1)
    assert snapshot_day(None, "2026-06-30T12:00:00+09:00") == date(2026, 6, 30)
    with pytest.raises(InputError, match="snapshot time"):
        snapshot_day(None, None)
    snap = tmp_path / "s.json"
    snap.write_text(
        json.dumps(
            {
                "snapshot_id": "s",
                "time": "2026-06-30T00:00:00Z",
                "chains": {"bitcoin": {"height": 1, "block_hash": "00" * 32}},
            }
        )
    )
    assert load_snapshot(snap).time == "2026-06-30T00:00:00Z"


def test_sample_registry_is_the_shipped_file():
    shipped = Path(__file__).parents[1] / "fixtures/japan/custodians.csv"
    regs = load_custodians(shipped).registrations
    assert [(r.name, r.number) for r in regs] == [(n, num) for n, num, _, _ in REGISTRY]
