"""End-to-end audits on real local hardhat and bcoin nodes, through the `por audit` CLI.

One module-wide pair of nodes; every scenario is its own exchange with its own
keys, funded to its own fractions of the same published liabilities, signed,
snapshotted, then moved after the snapshot.
"""

import csv
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import jsonschema
import pytest

from fixtures.exchange import INSOLVENT, SOLVENT, Funding, local_chains, open_exchange
from fixtures.japan import write_steady_volumes
from fixtures.sample import write_customers
from por.liabilities.ingest import load_customers
from por.liabilities.publish import publish

pytestmark = pytest.mark.nodes  # real hardhat and bcoin nodes

NAME = "e2e-exchange"
ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs/formats/audit-report.schema.json").read_text())


@pytest.fixture(scope="module")
def chains():
    with local_chains() as running:
        yield running


@pytest.fixture(scope="module")
def publication(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pub")
    customers = write_customers(folder / "customers.csv", 120, seed=3)
    publish(load_customers(customers), folder / "publication", exchange=NAME, snapshot_id="2026-11-e2e")
    return folder / "publication"


def run_audit(publication, files, policy, tmp_path, *extra):
    if policy == "jp-fsa":  # its liability reserve is computed from the monthly trading volumes
        extra = ("--volumes", str(write_steady_volumes(tmp_path / "volumes.json")), *extra)
    cmd = [
        sys.executable,
        "-m",
        "por",
        "audit",
        "--commitment",
        str(publication / "commitment.json"),
        "--tree",
        str(publication / "tree.bin"),
        "--wallets",
        str(files.wallets),
        "--snapshot",
        str(files.snapshot),
        "--config",
        str(files.chains),
        "--policy",
        policy,
        "--prices",
        str(files.prices),
        "--insurance-jpy",
        "2500000000",
        "--json-out",
        str(tmp_path / f"{policy}.json"),
        "--html",
        str(tmp_path / f"{policy}.html"),
        *extra,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert "Traceback" not in done.stderr + done.stdout
    report = json.loads((tmp_path / f"{policy}.json").read_text()) if done.returncode in (0, 1) else None
    if report is not None:
        jsonschema.validate(report, SCHEMA)  # the whole report, as written, is the documented format
    return done, report


def reasons_of(report):
    return " | ".join(report["reasons"])


def test_solvent_exchange_passes_both_policies_with_tip_balances_moved(chains, publication, tmp_path):
    files = open_exchange(chains, publication, tmp_path / "ex", exchange=NAME, funding=SOLVENT)
    for policy in ("jp-fsa", "full-reserve"):
        done, report = run_audit(
            publication,
            files,
            policy,
            tmp_path,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert report["verdict"] == "pass" and report["liabilities"]["tree_verified"] is True
        by_asset = {a["asset"]: a for a in report["assets"]}
        for asset, kinds in files.expected.items():
            # ETH hot holds one extra ether for gas; everything else is exactly what was funded at the snapshot
            extra = 10**18 if asset == "ETH" else 0
            decimals = by_asset[asset]["decimals"]
            assert _units(by_asset[asset]["cold"], decimals) == kinds["cold"]
            assert _units(by_asset[asset]["hot"], decimals) == kinds["hot"] + extra
            assert _units(by_asset[asset]["own"], decimals) == kinds["own"]
        assert "PASS" in (tmp_path / f"{policy}.html").read_text()


def test_insolvent_exchange_fails_with_every_reason(chains, publication, tmp_path):
    files = open_exchange(chains, publication, tmp_path / "ex", exchange=NAME, funding=INSOLVENT)
    done, report = run_audit(publication, files, "jp-fsa", tmp_path)
    assert done.returncode == 1
    text = reasons_of(report)
    for asset in ("BTC", "ETH", "USDT"):
        assert f"{asset}: cold wallets hold" in text
        assert f"{asset}: reserves (cold+hot)" in text
    assert "not matched by own coins" in text
    assert "FAIL" in done.stdout


def test_94_percent_cold_fails_jp_fsa_only(chains, publication, tmp_path):
    files = open_exchange(
        chains,
        publication,
        tmp_path / "ex",
        exchange=NAME,
        funding=Funding(cold=Fraction(94, 100), hot=Fraction(6, 100), own=Fraction(6, 100)),
    )
    done, report = run_audit(publication, files, "jp-fsa", tmp_path)
    assert done.returncode == 1
    assert all("cold wallets hold" in r and "94.00%" in r for r in report["reasons"]), report["reasons"]
    assert len(report["reasons"]) == 3
    done, report = run_audit(publication, files, "full-reserve", tmp_path)
    assert done.returncode == 0, reasons_of(report)


def test_hot_part_not_covered_by_own_coins_fails_jp_fsa(chains, publication, tmp_path):
    files = open_exchange(
        chains,
        publication,
        tmp_path / "ex",
        exchange=NAME,
        funding=Funding(cold=Fraction(96, 100), hot=Fraction(4, 100), own=Fraction(0)),
    )
    done, report = run_audit(publication, files, "jp-fsa", tmp_path)
    assert done.returncode == 1
    assert report["reasons"] and all("not matched by own coins" in r for r in report["reasons"])


def test_one_asset_short_while_the_others_are_fine(chains, publication, tmp_path):
    short = Funding(cold=Fraction(96, 100), hot=Fraction(2, 100), own=Fraction(5, 100))
    files = open_exchange(chains, publication, tmp_path / "ex", exchange=NAME, per_asset={"USDT": short})
    done, report = run_audit(publication, files, "jp-fsa", tmp_path)
    assert done.returncode == 1
    verdicts = {a["asset"]: a["verdict"] for a in report["assets"]}
    assert verdicts == {"BTC": "pass", "ETH": "pass", "USDT": "fail"}
    assert all(r.startswith("USDT: reserves (cold+hot)") for r in report["reasons"]), report["reasons"]


def test_an_address_declared_twice_counts_once(chains, publication, tmp_path):
    # Half the BTC in cold: declaring the cold P2WSH twice would make it look fully covered.
    files = open_exchange(
        chains,
        publication,
        tmp_path / "ex",
        exchange=NAME,
        per_asset={"BTC": Funding(cold=Fraction(50, 100), hot=Fraction(2, 100), own=Fraction(0))},
    )
    rows = list(csv.DictReader(open(files.wallets, encoding="utf-8")))
    cold = next(r for r in rows if r["asset"] == "BTC" and r["wallet_type"] == "cold" and r["scheme"] == "bip322")
    with open(files.wallets, "a", newline="", encoding="utf-8") as handle:
        csv.DictWriter(handle, list(rows[0])).writerow(cold)
    done, report = run_audit(publication, files, "full-reserve", tmp_path)
    assert done.returncode == 1
    btc = next(a for a in report["assets"] if a["asset"] == "BTC")
    assert btc["verdict"] == "fail"
    flagged = [a for a in report["addresses"] if a["address"] == cold["address"]]
    assert len(flagged) == 2 and all(any("declared 2 times" in f for f in a["flags"]) for a in flagged)
    assert sum(1 for a in flagged if a["counted"]) == 1


def test_an_address_also_claimed_by_another_exchange_is_excluded(chains, publication, tmp_path):
    files = open_exchange(chains, publication, tmp_path / "ex", exchange=NAME, funding=SOLVENT)
    rows = list(csv.DictReader(open(files.wallets, encoding="utf-8")))
    cold = next(r for r in rows if r["asset"] == "BTC" and r["wallet_type"] == "cold" and r["scheme"] == "bip322")
    other = tmp_path / "other-exchange.csv"
    with open(other, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerow(cold)
    done, report = run_audit(publication, files, "full-reserve", tmp_path, "--also-claimed", str(other))
    assert done.returncode == 1
    row = next(a for a in report["addresses"] if a["address"] == cold["address"])
    assert not row["counted"] and any("also claimed by other-exchange" in f for f in row["flags"])
    assert any(r.startswith("BTC:") for r in report["reasons"])


def test_a_failed_ownership_proof_fails_the_audit(chains, publication, tmp_path):
    files = open_exchange(chains, publication, tmp_path / "ex", exchange=NAME, funding=SOLVENT)
    text = files.wallets.read_text(encoding="utf-8").replace(f"by {NAME}:", "by someone-else:", 1)
    files.wallets.write_text(text, encoding="utf-8")
    done, report = run_audit(publication, files, "full-reserve", tmp_path)
    assert done.returncode == 1
    assert any(r.startswith("ownership proof failed") and "is not the expected" in r for r in report["reasons"])


def test_an_unreachable_provider_is_exit_2_naming_it(chains, publication, tmp_path):
    files = open_exchange(chains, publication, tmp_path / "ex", exchange=NAME, funding=SOLVENT)
    dead = "http://127.0.0.1:9"
    files.chains.write_text(files.chains.read_text().replace(chains.esplora.url, dead))
    done, _ = run_audit(publication, files, "full-reserve", tmp_path)
    assert done.returncode == 2
    assert dead in done.stderr and len(done.stderr.strip().splitlines()) == 1


def _units(text, decimals):
    whole, _, frac = text.partition(".")
    return int(whole) * 10**decimals + int(frac.ljust(decimals, "0") or 0)


def test_html_reports_render_in_chromium_with_the_verdict_first(
    chains, publication, tmp_path, chromium, screenshot_dir
):
    outcomes = {}
    for name, funding in (("solvent", SOLVENT), ("insolvent", INSOLVENT)):
        files = open_exchange(chains, publication, tmp_path / name, exchange=NAME, funding=funding)
        out = tmp_path / name
        done, report = run_audit(publication, files, "jp-fsa", out)
        page = chromium.new_page(viewport={"width": 1200, "height": 900})
        page.goto((out / "jp-fsa.html").as_uri())
        verdict = page.locator("#verdict")
        assert verdict.is_visible()
        box = verdict.bounding_box()
        assert box["y"] < 100  # the verdict is the first thing on the page
        outcomes[name] = verdict.locator("h1").inner_text().split()[0]  # "FAIL 不適合": English first
        chains_read = page.locator("#chains").inner_text()
        for info in report["chains"].values():
            assert info["providers"] and all(p in chains_read for p in info["providers"])
            assert f"{info['height']:,}" in chains_read and info["block_hash"] in chains_read
        assert page.locator("svg[aria-label='coverage per asset'] rect").count() == len(report["assets"])
        assert page.evaluate("document.querySelectorAll('script, link[rel=stylesheet], img').length") == 0
        page.screenshot(path=str(screenshot_dir / f"audit-{name}.png"), full_page=True)
        page.close()
    assert outcomes == {"solvent": "PASS", "insolvent": "FAIL"}


def test_audit_in_an_80_column_terminal_cuts_no_amount(chains, publication, tmp_path):
    """The real `por audit` on a real pseudo-terminal of 80 columns: every amount whole, every rule a row."""
    from fixtures.terminal import Terminal
    from por.cli.output import group_amount

    files = open_exchange(chains, publication, tmp_path / "ex", exchange=NAME, funding=SOLVENT)
    term = Terminal(
        "audit",
        "--commitment",
        publication / "commitment.json",
        "--tree",
        publication / "tree.bin",
        "--wallets",
        files.wallets,
        "--snapshot",
        files.snapshot,
        "--config",
        files.chains,
        "--policy",
        "jp-fsa",
        "--prices",
        files.prices,
        "--json-out",
        tmp_path / "r.json",
        "--volumes",
        write_steady_volumes(tmp_path / "volumes.json"),
        columns=80,
        cwd=ROOT,
    )
    code, text = term.finish(300)
    assert code == 1, text  # no --insurance-jpy: the liability reserve fails, and says which option
    report = json.loads((tmp_path / "r.json").read_text())
    words = text.split()
    for asset in report["assets"]:
        for key in ("liabilities", "cold", "hot", "own", "surplus", "shortfall"):
            assert group_amount(asset[key]) in words, (asset["asset"], key, asset[key])
    rules = [line.split()[1] for line in text.splitlines() if line.startswith("rule ")]
    assert rules == [c["rule"] for a in report["assets"] for c in a["checks"]] + [c["rule"] for c in report["checks"]]
    assert "--insurance-jpy" in text and "Traceback" not in text
    long = [line for line in text.splitlines() if len(line) > 80 and " " in line.strip() and "━" not in line]
    assert not long, long  # progress bars (━) are drawn by rich to the terminal's width


def test_jp_fsa_statement_custodians_and_insurance_through_the_cli(chains, publication, tmp_path):
    """The Japanese audit end to end: a cold wallet at a custodian registered, then lapsed; insurance
    in force; the statement's CSV numbers are the JSON report's."""
    from fixtures.japan import REGISTRY, write_insurance, write_registry

    files = open_exchange(chains, publication, tmp_path / "ex", exchange=NAME, funding=SOLVENT)
    with open(files.wallets, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    first_cold = next(i for i, r in enumerate(rows) if r["wallet_type"] == "cold" and r["asset"] == "BTC")
    registry = write_registry(tmp_path / "custodians.csv")
    insurance = write_insurance(
        tmp_path / "insurance.csv", [("Example Marine & Fire", "CY-1", "2500000000", "2020-01-01", "2040-12-31")]
    )

    def audit_with(custodian):
        for i, r in enumerate(rows):
            r["custodian"], r["custodian_registration"] = custodian if i == first_cold else ("", "")
        with open(files.wallets, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        out = tmp_path / f"statement-{custodian[0][:4]}"
        cmd = [
            sys.executable,
            "-m",
            "por",
            "audit",
            "--commitment",
            str(publication / "commitment.json"),
            "--wallets",
            str(files.wallets),
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
            "--custodians",
            str(registry),
            "--json-out",
            str(out) + ".json",
            "--statement",
            "ja",
            "--statement-out",
            str(out),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert "Traceback" not in done.stdout + done.stderr
        report = json.loads(Path(str(out) + ".json").read_text())
        jsonschema.validate(report, SCHEMA)
        return done, report, out

    done, report, out = audit_with(REGISTRY[0][:2])  # registered on the snapshot date
    assert done.returncode == 0, done.stdout + done.stderr
    assets = list(csv.reader((out / "statement-assets.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert [r[:4] for r in assets[1:]] == [
        [a["asset"], a["liabilities"], a["cold"], a["hot"]] for a in report["assets"]
    ]
    assert "利用者暗号資産" in (out / "statement.html").read_text(encoding="utf-8")
    done, report, out = audit_with(REGISTRY[1][:2])  # lapsed on 2026-03-31
    assert done.returncode == 1
    assert any("lapsed on 2026-03-31" in r for r in report["reasons"]), report["reasons"]
    assert "不適合" in (out / "statement.html").read_text(encoding="utf-8")
