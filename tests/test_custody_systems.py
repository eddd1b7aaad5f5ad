"""Custody-system providers (暗号資産管理システム提供業者, who notify the FSA under the 2026 bill): a wallet
run on a provider's platform counts only if the provider's notification covers the snapshot date.
Notified, unknown, lapsed, notified only after the snapshot, a borrowed number, the missing option, the
JSON report, the HTML report and the statement."""

import json
from datetime import date
from pathlib import Path

import jsonschema
import pytest

import por.reserves.custodians as custodians_module
from chains.records import (
    AddressReserve,
    ChainSnapshot,
    Custodian,
    CustodySystem,
    DeclaredWallet,
    OwnershipResult,
    Scheme,
    Snapshot,
    WalletType,
)
from fixtures.japan import CUSTODY_SYSTEMS, REGISTRY, write_custody_systems, write_registry
from por.audit.html import render_html, rule_words
from por.audit.policy import load_policy, parse_policy
from por.audit.reconcile import ReconcileOptions, reconcile
from por.audit.statement import render_statement_html, statement
from por.errors import InputError
from por.reserves.custodians import CustodianCheck, load_custodians, load_custody_systems
from por.reserves.inputs import load_wallets
from por.reserves.read import ReservesReport, check_custodians, summarize

SCHEMA = json.loads((Path(__file__).parents[1] / "docs/formats/audit-report.schema.json").read_text())
RESERVES_SCHEMA = json.loads((Path(__file__).parents[1] / "docs/formats/reserves.schema.json").read_text())
BTC = 10**8
DAY = date(2026, 6, 30)
NOTIFIED = CustodySystem(*CUSTODY_SYSTEMS[0][:2])
LAPSED = CustodySystem(*CUSTODY_SYSTEMS[1][:2])  # notified until 2026-05-31
FUTURE = CustodySystem(*CUSTODY_SYSTEMS[2][:2])  # notified from 2026-10-01
REGISTERED = Custodian(*REGISTRY[0][:2])
POLICY = parse_policy(b'[policy]\nname = "systems-test"\n[coverage]\ncount = ["cold", "hot"]\n[custodians]\n', "p.toml")


@pytest.fixture
def lists(tmp_path):
    registry = load_custodians(write_registry(tmp_path / "custodians.csv"))
    return registry, load_custody_systems(write_custody_systems(tmp_path / "custody-systems.csv"))


def row(amount, system=None, line=2, custodian=None):
    wallet = DeclaredWallet(
        "bitcoin",
        "BTC",
        f"bc1q{line}",
        WalletType.COLD,
        Scheme.BIP322,
        "m",
        ("sig",),
        source=f"wallets.csv:{line}",
        custodian=custodian,
        custody_system=system,
    )
    return AddressReserve(wallet, OwnershipResult(True, "signature verified"), amount)


def audit(rows, lists, day=DAY, policy=POLICY):
    registry, systems = lists
    options = ReconcileOptions(custodians=CustodianCheck(registry, day, systems))
    result = reconcile({"BTC": 10 * BTC}, rows, policy, assets={"BTC": 8}, options=options)
    doc = result.to_json()
    jsonschema.validate(doc, SCHEMA)
    (check,) = [c for c in result.checks if c.rule == "custodians"]
    return result, doc, check


def test_a_wallet_on_a_notified_provider_counts(lists):
    result, doc, check = audit([row(10 * BTC, NOTIFIED)], lists)
    assert result.ok and check.ok, result.reasons
    assert check.details["custody_system_wallets"] == "1" and check.details["custodial_wallets"] == "1"
    assert check.details["custody_system_registry"].endswith("custody-systems.csv")
    assert doc["addresses"][0]["custody_system"] == {"name": NOTIFIED.name, "notification": NOTIFIED.notification}
    assert doc["addresses"][0]["counted"] is True and result.assets[0].cold == 10 * BTC


def test_a_wallet_on_an_unknown_provider_is_not_counted_and_named(lists):
    stranger = CustodySystem("Shadow Wallet Cloud", "管理システム届出第99999号")
    result, doc, check = audit([row(6 * BTC, stranger), row(4 * BTC, None, 3)], lists)
    assert not check.ok and not result.ok
    assert "custody-system provider Shadow Wallet Cloud" in check.reason and "bc1q2" in check.reason
    assert "notification number not found" in check.reason
    assert (
        doc["addresses"][0]["counted"] is False and "Shadow Wallet Cloud" in doc["addresses"][0]["not_counted_reason"]
    )
    assert result.assets[0].cold == 4 * BTC
    unnumbered = audit([row(10 * BTC, CustodySystem("Shadow Wallet Cloud"))], lists)[2]
    assert "no notification number declared" in unnumbered.reason


def test_a_lapsed_notification_does_not_count_and_says_when(lists):
    result, _, check = audit([row(10 * BTC, LAPSED)], lists)
    assert not check.ok and result.assets[0].cold == 0
    assert "notification lapsed on 2026-05-31, before the snapshot date 2026-06-30" in check.reason
    assert audit([row(10 * BTC, LAPSED)], lists, day=date(2026, 5, 31))[0].ok  # the last day still counts


def test_a_notification_starting_after_the_snapshot_does_not_count(lists):
    result, _, check = audit([row(10 * BTC, FUTURE)], lists)
    assert not result.ok and "notified only from 2026-10-01, after the snapshot date" in check.reason
    assert audit([row(10 * BTC, FUTURE)], lists, day=date(2026, 10, 1))[0].ok


def test_a_borrowed_notification_number_does_not_count(lists):
    impostor = CustodySystem("Impostor Systems", NOTIFIED.notification)
    assert f"is {NOTIFIED.name}'s" in audit([row(10 * BTC, impostor)], lists)[2].reason


def test_custodian_and_provider_are_both_checked_and_both_named(lists):
    registry, systems = lists
    assert audit([row(10 * BTC, NOTIFIED, custodian=REGISTERED)], lists)[0].ok
    lapsed_custodian = Custodian(*REGISTRY[1][:2])
    check = audit([row(10 * BTC, LAPSED, custodian=lapsed_custodian)], lists)[2]
    assert "registration lapsed on 2026-03-31" in check.reason and "notification lapsed on 2026-05-31" in check.reason
    # the custodian list alone does not vouch for the provider, nor the provider list for the custodian
    assert not audit([row(10 * BTC, LAPSED, custodian=REGISTERED)], lists)[0].ok
    assert not audit([row(10 * BTC, NOTIFIED, custodian=lapsed_custodian)], lists)[0].ok


def test_the_policy_needs_the_providers_list(lists):
    registry, _ = lists
    rows = [row(10 * BTC, NOTIFIED)]
    options = ReconcileOptions(custodians=CustodianCheck(registry, DAY))  # --custodians alone
    with pytest.raises(InputError, match="--custody-systems") as err:
        reconcile({"BTC": 10 * BTC}, rows, load_policy("jp-fsa"), assets={"BTC": 8}, options=options)
    assert "Example Custody Systems K.K." in str(err.value) and "wallets.csv:2" in str(err.value)
    with pytest.raises(InputError, match="--custody-systems"):
        reconcile({"BTC": 10 * BTC}, rows, load_policy("jp-fsa"), assets={"BTC": 8})
    loose = parse_policy(b"[policy]\nname='x'\n[coverage]\n", "x.toml")  # no custodians rule: not required
    assert reconcile({"BTC": 10 * BTC}, rows, loose, assets={"BTC": 8}).ok
    # only the providers' list: a wallet run on a provider is checked; a custodial one still needs --custodians
    only_systems = ReconcileOptions(custodians=CustodianCheck(None, DAY, lists[1]))
    assert reconcile({"BTC": 10 * BTC}, rows, POLICY, assets={"BTC": 8}, options=only_systems).ok
    with pytest.raises(InputError, match="--custodians"):
        reconcile(
            {"BTC": 10 * BTC}, [row(10 * BTC, None, 2, REGISTERED)], POLICY, assets={"BTC": 8}, options=only_systems
        )


def test_list_defects_name_the_line_and_the_providers_columns(tmp_path):
    header = "name,notification_number,notified_from,notified_until\n"
    cases = {
        "name,registration_number,registered_from,registered_until\nA,1,2026-01-01,\n": "header must be exactly",
        header + "A,1,2026-02-30,\n": "not a real date",
        header + "A,1,2026-02-01,2026-01-01\n": "notified_until: 2026-01-01 is before notified_from",
        header + ",1,2026-01-01,\n": "custody-system provider's name",
        header: "no custody-system providers",
    }
    for text, message in cases.items():
        path = tmp_path / "s.csv"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InputError, match=message) as err:
            load_custody_systems(path)
        assert "s.csv" in str(err.value)


def test_wallet_files_declare_the_provider(tmp_path):
    header = "chain,asset,address,wallet_type,scheme,message,signature,script,custodian,custodian_registration"
    path = tmp_path / "w.csv"
    path.write_text(
        header + ",custody_system,custody_system_notification\n"
        f"bitcoin,BTC,bc1qx,cold,bip322,m,sig,,,,{NOTIFIED.name},{NOTIFIED.notification}\n"
        "bitcoin,BTC,bc1qy,cold,bip322,m,sig,,,\n",  # a short row: the provider's columns left out
        encoding="utf-8",
    )
    (run, own), _ = load_wallets(path)
    assert run.custody_system == NOTIFIED and run.custodian is None and own.custody_system is None
    doc = {
        "wallets": [
            {
                "chain": "bitcoin",
                "asset": "BTC",
                "address": "bc1qx",
                "wallet_type": "cold",
                "scheme": "bip322",
                "message": "m",
                "signature": "sig",
                "custody_system": NOTIFIED.name,
                "custody_system_notification": NOTIFIED.notification,
            }
        ]
    }
    (tmp_path / "w.json").write_text(json.dumps(doc))
    assert load_wallets(tmp_path / "w.json")[0][0].custody_system == NOTIFIED
    path.write_text(
        header + ",custody_system,custody_system_notification\nbitcoin,BTC,bc1qx,cold,bip322,m,sig,,,,,N1\n"
    )
    with pytest.raises(InputError, match="needs the provider's name"):
        load_wallets(path)


def test_por_reserves_recounts_without_providers_not_notified(lists):
    registry, systems = lists
    rows = [row(6 * BTC, LAPSED), row(4 * BTC, NOTIFIED, 3)]
    report = ReservesReport(
        "ex", Snapshot("s", {"bitcoin": ChainSnapshot("bitcoin", 1, "00" * 32)}), rows, summarize(rows, {"BTC": 8})
    )
    check_custodians(report, CustodianCheck(None, DAY, systems))
    assert report.assets["BTC"].cold == 4 * BTC
    assert any("notification lapsed on 2026-05-31" in f for f in rows[0].flags) and not rows[1].flags
    doc = report.to_json()
    assert doc["addresses"][1]["custody_system"] == {"name": NOTIFIED.name, "notification": NOTIFIED.notification}


def test_the_reports_and_the_statement_show_the_providers(lists):
    _, doc, _ = audit([row(6 * BTC, LAPSED), row(4 * BTC, NOTIFIED, 3, REGISTERED)], lists)
    doc.update(exchange="Ex", snapshot_id="s", snapshot_time="2026-06-30T00:00:00Z", liabilities={}, chains={})
    page = render_html(doc, lang="ja")
    addresses = page[page.index("id='addresses'") :]
    assert f"{LAPSED.name} ({LAPSED.notification})" in addresses and "暗号資産管理システム提供業者" in addresses
    assert f"{REGISTERED.name} ({REGISTERED.registration})" in addresses
    assert "custody-system provider" in rule_words("custodians", {})[0]
    st = statement(doc, "en")
    assert [(w["custody_system"], w["notification"], w["counted"]) for w in st.custodial] == [
        (LAPSED.name, LAPSED.notification, "no"),
        (NOTIFIED.name, NOTIFIED.notification, "yes"),
    ]
    assert "notification lapsed" in st.custodial[0]["reason"]
    html = render_statement_html(statement(doc, "ja"))
    section = html[html.index("id='custodians'") : html.index("id='chains'")]
    assert LAPSED.name in section and LAPSED.notification in section and "不算入" in section
    assert "暗号資産管理システム提供業者" in section and REGISTERED.registration in section


def test_sample_list_is_the_shipped_file(tmp_path):
    shipped = Path(__file__).parents[1] / "fixtures/japan/custody-systems.csv"
    made = write_custody_systems(tmp_path / "made.csv")
    assert shipped.read_text(encoding="utf-8") == made.read_text(encoding="utf-8")  # made by fixtures/japan.py
    regs = load_custody_systems(shipped).registrations
    assert [(r.name, r.number) for r in regs] == [(n, num) for n, num, _, _ in CUSTODY_SYSTEMS]


def test_registry_lookups_are_indexed_not_a_scan_per_wallet(tmp_path, monkeypatch):
    """Each wallet's custodian and provider are looked up by number, not compared with every row: the
    names and numbers normalised (NFKC) stay proportional to wallets + rows (a scan would need
    wallets x rows, 8 million here). Counted, not timed; 100k wallets: benchmarks in the report."""
    n = 2000
    custodians = tmp_path / "c.csv"
    custodians.write_text(
        "name,registration_number,registered_from,registered_until\n"
        + "".join(f"Custody {i},関東財務局長第{i:05d}号,2020-01-01,\n" for i in range(n)),
        encoding="utf-8",
    )
    systems = tmp_path / "s.csv"
    systems.write_text(
        "name,notification_number,notified_from,notified_until\n"
        + "".join(f"Systems {i},N-{i},2026-01-01,{'2026-05-31' if i % 2 else ''}\n" for i in range(n)),
        encoding="utf-8",
    )
    check = CustodianCheck(load_custodians(custodians), DAY, load_custody_systems(systems))
    rows = [row(BTC, CustodySystem(f"Systems {i}", f"N-{i}"), i + 2, Custodian(f"Custody {i}", "")) for i in range(n)]
    rows[0] = row(BTC, CustodySystem("Systems 0", "N-0"), 2, Custodian("Custody 0", "関東財務局長第00000号"))
    calls = []
    real = custodians_module.unicodedata.normalize

    class Counting:
        @staticmethod
        def normalize(form, text):
            calls.append(text)
            return real(form, text)

    monkeypatch.setattr(custodians_module, "unicodedata", Counting)
    result = reconcile({"BTC": n * BTC}, rows, POLICY, assets={"BTC": 8}, options=ReconcileOptions(custodians=check))
    assert [a.counted for a in result.addresses] == [i % 2 == 0 for i in range(n)]  # odd providers lapsed
    assert len(calls) <= 10 * (n + n), len(calls)
