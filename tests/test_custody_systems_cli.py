"""Custody-system providers through the command line, on real local nodes: `por audit --custody-systems`
(notified: pass; lapsed: fail naming it; the option missing under jp-fsa: exit 2) and
`por reserves --custody-systems` (the wallet on a provider not notified is flagged and not counted)."""

import csv
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from fixtures.exchange import SOLVENT, local_chains, open_exchange
from fixtures.japan import CUSTODY_SYSTEMS, write_custody_systems, write_insurance, write_steady_volumes
from fixtures.sample import write_customers
from por.liabilities.ingest import load_customers
from por.liabilities.publish import publish

pytestmark = pytest.mark.nodes  # real hardhat and bcoin nodes

NAME = "systems-exchange"
ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs/formats/audit-report.schema.json").read_text())
RESERVES_SCHEMA = json.loads((ROOT / "docs/formats/reserves.schema.json").read_text())


@pytest.fixture(scope="module")
def exchange(tmp_path_factory):
    folder = tmp_path_factory.mktemp("systems")
    customers = write_customers(folder / "customers.csv", 40, seed=5)
    publish(load_customers(customers), folder / "publication", exchange=NAME, snapshot_id="2026-12-systems")
    with local_chains() as chains:
        files = open_exchange(chains, folder / "publication", folder / "ex", exchange=NAME, funding=SOLVENT)
        yield folder, files


def por(*args, cwd=ROOT):
    done = subprocess.run([sys.executable, "-m", "por", *args], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert "Traceback" not in done.stdout + done.stderr
    return done


def wallets_on(files, tmp_path, system):
    """The exchange's wallets, the first BTC cold wallet run on `system` (name, notification number)."""
    with open(files.wallets, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    first = next(i for i, r in enumerate(rows) if r["wallet_type"] == "cold" and r["asset"] == "BTC")
    for i, r in enumerate(rows):
        r["custody_system"], r["custody_system_notification"] = system if i == first else ("", "")
    path = tmp_path / "wallets.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path, rows[first]["address"]


def audit(folder, files, tmp_path, wallets, *extra):
    insurance = write_insurance(
        tmp_path / "insurance.csv", [("Example Marine & Fire", "CY-1", "2500000000", "2020-01-01", "2040-12-31")]
    )
    out = tmp_path / "report.json"
    done = por(
        "audit",
        "--commitment",
        str(folder / "publication" / "commitment.json"),
        "--wallets",
        str(wallets),
        "--snapshot",
        str(files.snapshot),
        "--config",
        str(files.chains),
        "--policy",
        "jp-fsa",
        "--volumes",
        str(write_steady_volumes(tmp_path / "volumes.json")),
        "--insurance",
        str(insurance),
        "--json-out",
        str(out),
        "--statement",
        "en",
        "--statement-out",
        str(tmp_path / "statement"),
        *extra,
    )
    report = json.loads(out.read_text()) if done.returncode in (0, 1) else None
    if report is not None:
        jsonschema.validate(report, SCHEMA)
    return done, report


def test_por_audit_counts_a_notified_provider_and_fails_a_lapsed_one(exchange, tmp_path):
    folder, files = exchange
    systems = write_custody_systems(tmp_path / "custody-systems.csv")
    wallets, address = wallets_on(files, tmp_path, CUSTODY_SYSTEMS[0][:2])
    done, report = audit(folder, files, tmp_path, wallets, "--custody-systems", str(systems))
    assert done.returncode == 0, done.stdout + done.stderr
    (row,) = [a for a in report["addresses"] if a["address"] == address]
    assert row["counted"] and row["custody_system"]["name"] == CUSTODY_SYSTEMS[0][0]
    page = (tmp_path / "statement" / "statement.html").read_text(encoding="utf-8")
    assert CUSTODY_SYSTEMS[0][1] in page
    text = (tmp_path / "statement" / "statement-custodians.csv").read_text(encoding="utf-8-sig")
    (_, written) = list(csv.reader(text.splitlines()))  # the header and the one wallet on a provider
    assert written[:5] == [row["chain"], row["asset"], row["address"], row["wallet_type"], row["balance"]]
    assert written[7:10] == [CUSTODY_SYSTEMS[0][0], CUSTODY_SYSTEMS[0][1], "counted"]

    wallets, address = wallets_on(files, tmp_path, CUSTODY_SYSTEMS[1][:2])  # notified until 2026-05-31
    done, report = audit(folder, files, tmp_path, wallets, "--custody-systems", str(systems))
    assert done.returncode == 1, done.stdout + done.stderr
    (row,) = [a for a in report["addresses"] if a["address"] == address]
    assert not row["counted"] and "notification lapsed on 2026-05-31" in row["not_counted_reason"]
    (check,) = [c for c in report["checks"] if c["rule"] == "custodians"]
    assert not check["ok"] and address in check["reason"] and CUSTODY_SYSTEMS[1][0] in check["reason"]


def test_por_audit_without_the_providers_list_is_bad_input(exchange, tmp_path):
    folder, files = exchange
    wallets, _ = wallets_on(files, tmp_path, CUSTODY_SYSTEMS[0][:2])
    done, _ = audit(folder, files, tmp_path, wallets)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--custody-systems" in done.stderr and CUSTODY_SYSTEMS[0][0] in done.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("name,notification_number,notified_from,notified_until\nX,1,2026-13-01,\n", encoding="utf-8")
    done, _ = audit(folder, files, tmp_path, wallets, "--custody-systems", str(bad))
    assert done.returncode == 2 and "bad.csv:2" in done.stderr and "notified_from" in done.stderr


@pytest.mark.parametrize(
    ("system", "counted", "why"),
    [
        (CUSTODY_SYSTEMS[0][:2], True, ""),
        (CUSTODY_SYSTEMS[1][:2], False, "notification lapsed on 2026-05-31"),
        (CUSTODY_SYSTEMS[2][:2], False, "notified only from 2026-10-01, after the snapshot date 2026-06-30"),
        (("Unknown Systems", "X-1"), False, "not in the registry"),
    ],
)
def test_por_reserves_flags_and_recounts_without_providers_not_notified(exchange, tmp_path, system, counted, why):
    _, files = exchange
    snapshot = json.loads(files.snapshot.read_text())
    snapshot["time"] = "2026-06-30T03:00:00Z"  # dated before the third provider's notification
    dated = tmp_path / "snapshot.json"
    dated.write_text(json.dumps(snapshot))
    wallets, address = wallets_on(files, tmp_path, system)
    args = ["reserves", str(wallets), "--snapshot", str(dated), "--config", str(files.chains), "--exchange", NAME]
    plain = json.loads(por(*args, "--json").stdout)
    done = por(*args, "--custody-systems", str(write_custody_systems(tmp_path / "s.csv")), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    jsonschema.validate(doc, RESERVES_SCHEMA)
    (row,) = [a for a in doc["addresses"] if a["address"] == address]
    assert row["custody_system"] == {"name": system[0], "notification": system[1]}
    cold, before = Decimal(doc["assets"]["BTC"]["cold"]), Decimal(plain["assets"]["BTC"]["cold"])
    if counted:
        assert cold == before and not row["flags"]
    else:
        assert before - cold == Decimal(row["balance"]) > 0  # exactly that wallet left out
        assert any(why in f and "not counted" in f for f in row["flags"]), row["flags"]
