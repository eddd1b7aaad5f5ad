"""Nothing lost, nothing injected.

- `por publish` killed with SIGKILL in the middle of writing leaves no output folder that
  looks complete (only a hidden `.NAME.partial-*` staging folder); a rerun then succeeds and removes it.
- Every value from input that reaches an HTML page is shown as text: the audit report
  (por.audit.html.render_html) with markup in every field, and the offline verifier page with a
  real proof for an account id full of markup, both opened in headless Chromium.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from chains.records import AddressReserve, DeclaredWallet, OwnershipResult, Scheme, WalletType
from fixtures.adversarial import ROOT
from fixtures.sample import write_customers
from por.audit.html import render_html
from por.audit.policy import load_policy
from por.audit.reconcile import ReconcileOptions, reconcile

ENV = {**{k: v for k, v in os.environ.items() if k != "POR_DEBUG"}, "PYTHONPATH": str(ROOT)}


# --- SIGKILL in the middle of `por publish` ---------------------------------------------------------


@pytest.fixture(scope="module")
def big_customers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("big")
    yield write_customers(folder / "customers.csv", 300_000)
    shutil.rmtree(folder, ignore_errors=True)


def publish_cmd(customers: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "por",
        "publish",
        str(customers),
        "--exchange",
        "Ex",
        "--out",
        str(out),
        "--snapshot-id",
        "s-kill",
    ]


def verify_tree(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "por",
            "verify-tree",
            str(out / "tree.bin"),
            "--commitment",
            str(out / "commitment.json"),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )


@pytest.fixture
def scratch(tmp_path):
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)  # ~50 MB per publication: pytest keeps recent temp dirs


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2, 0.5])
def test_publish_killed_mid_write_leaves_nothing_that_looks_complete(big_customers, scratch, delay):
    tmp_path = scratch
    out = tmp_path / "publication"
    proc = subprocess.Popen(publish_cmd(big_customers, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    deadline = time.monotonic() + 120
    staging = []
    while not staging and proc.poll() is None and time.monotonic() < deadline:
        staging = list(tmp_path.glob(".publication.partial-*"))
        time.sleep(0.005)
    assert staging, "publish finished before it was seen writing: use a bigger input"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    if delay == 0.0:
        assert not out.exists(), "killed as soon as it started writing, yet the publication exists"
    if proc.returncode == -signal.SIGKILL and not out.exists():
        # killed while staging: the publication does not exist, only the hidden staging folder does (and the
        # lock file beside it, whose lock died with the process)
        assert all(
            p.name.startswith(".publication.partial-") or p.name == ".publication.lock" for p in tmp_path.iterdir()
        )
    else:
        # the rename had happened: then it is complete, every node recomputes against its commitment
        assert verify_tree(out).returncode == 0
        return
    again = subprocess.run(publish_cmd(big_customers, out), capture_output=True, text=True, env=ENV, timeout=300)
    assert again.returncode == 0, again.stderr
    done = verify_tree(out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((out / "commitment.json").read_text())["leaf_count"] == 300_000
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".publication.")]  # the rerun cleaned up


def test_prove_refuses_a_staging_folder(tmp_path):
    """A half-written publication is not something a customer can be handed a proof from."""
    staging = tmp_path / ".publication.partial-abc"
    staging.mkdir()
    (staging / "tree.bin").write_bytes(b"{}")
    done = subprocess.run(
        [sys.executable, "-m", "por", "prove", str(staging), "user-0000001"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert done.returncode == 2 and "commitment.json" in done.stderr and "Traceback" not in done.stderr


# --- markup from input is shown as text -------------------------------------------------------------------


def hostile(n: int) -> str:
    return f"<script>window.__pwned='{n}'</script><img src=x onerror=\"window.__pwned='i{n}'\">\"'&amp;<b>{n}"


def audit_doc() -> dict:
    """A real reconciliation's report document, as `por audit` builds it."""
    wallet = DeclaredWallet(
        "hardhat", "ETH", "0x" + "11" * 20, WalletType.COLD, Scheme.EIP191, "m", ("0x00",), source="wallets.csv:2"
    )
    bad = DeclaredWallet(
        "bitcoin", "BTC", "rb1qxyz", WalletType.HOT, Scheme.BIP322, "m", ("sig",), source="wallets.csv:3"
    )
    rows = [
        AddressReserve(wallet, OwnershipResult(True, "ok"), 5 * 10**18, 10, "p"),
        AddressReserve(bad, OwnershipResult(False, "signature is by another key"), 10**8, 10, "p", ["declared twice"]),
    ]
    result = reconcile(
        {"ETH": 6 * 10**18, "BTC": 2 * 10**8},
        rows,
        load_policy("full-reserve"),
        options=ReconcileOptions(also_claimed={("hardhat", "0x" + "11" * 20): "other"}),
    )
    doc = result.to_json()
    doc.update(
        verdict="fail",
        reasons=result.reasons,
        exchange="ex",
        snapshot_id="s",
        generated_at="t",
        por_version="v",
        liabilities={"root": "r", "leaf_count": 3, "tree_verified": True, "totals": {"ETH": "6", "BTC": "2"}},
        chains={"hardhat": {}},
    )
    return doc


def poison(value, counter: list[int], key: str | None = None):
    """Every string value (and the asset names used as keys of totals) replaced by distinct markup."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            new_key = k
            if key == "totals":
                counter[0] += 1
                new_key = hostile(counter[0])
            out[new_key] = poison(v, counter, k)
        return out
    if isinstance(value, list):
        return [poison(v, counter, key) for v in value]
    if isinstance(value, str):
        counter[0] += 1
        return hostile(counter[0])
    return value


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def poisoned_report(tmp_path_factory):
    counter = [0]
    doc = poison(audit_doc(), counter)
    html = render_html(doc)
    path = tmp_path_factory.mktemp("xss") / "report.html"
    path.write_text(html, encoding="utf-8")
    return path, html, counter[0]


def test_report_markup_from_input_never_becomes_markup(poisoned_report):
    _, html, count = poisoned_report
    assert count > 40
    parser = Tags()
    parser.feed(html)
    assert not [t for t, _ in parser.tags if t in ("script", "img", "iframe", "object")]
    assert not [(t, a) for t, attrs in parser.tags for a, _ in attrs if a.lower().startswith("on")]
    text = "".join(parser.text)
    shown = [n for n in range(1, count + 1) if hostile(n) in text]
    assert len(shown) >= count * 0.6, f"only {len(shown)} of {count} input values are shown, as text"


def test_report_in_chromium_runs_no_script_and_shows_the_markup_as_text(poisoned_report, chromium):
    path, _, _ = poisoned_report
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: errors.append(f"dialog {d.message}") or d.dismiss())
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("script").count() == 0 and page.locator("img").count() == 0
    body = page.inner_text("body")
    assert "<script>window.__pwned=" in body and "onerror=" in body
    assert page.inner_text("#verdict").startswith("FAIL")
    assert not errors, errors
    page.close()


def test_verifier_page_shows_a_markup_account_id_as_text(tmp_path, chromium):
    """publish accepts any printable id, `<img onerror>` included: the offline page must not run it."""
    account = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    customers = tmp_path / "customers.csv"
    customers.write_text(
        'account_id,asset,amount\n"' + account.replace('"', '""') + '",BTC,1.5\nbob,BTC,2\n', encoding="utf-8"
    )
    pub = tmp_path / "pub"
    for argv in (
        ["publish", str(customers), "--exchange", "Ex", "--out", str(pub), "--snapshot-id", "s-xss"],
        ["prove", str(pub), account, "--out", str(tmp_path / "proof.json")],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "por", *argv], capture_output=True, text=True, env=ENV, timeout=120
        )
        assert done.returncode == 0, done.stderr
    page_file = pub / "verify.html"
    assert page_file.exists(), "publish always writes the offline verifier page"
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: errors.append(f"dialog {d.message}") or d.dismiss())
    page.goto(page_file.as_uri())
    page.set_input_files(
        "#proof-file",
        files=[
            {"name": "proof.json", "mimeType": "application/json", "buffer": (tmp_path / "proof.json").read_bytes()}
        ],
    )
    page.wait_for_selector("body[data-status]:not([data-status='idle'])", state="attached")
    result = page.evaluate("window.porLastResult")
    assert result["state"] == "unconfirmed", result  # recomputed to the page's own commitment; nothing pinned
    assert page.evaluate("typeof window.__pwned") == "undefined"
    page.evaluate("for (const d of document.querySelectorAll('details')) d.open = true")
    assert account in page.inner_text("body")
    assert not errors, errors
    page.close()
