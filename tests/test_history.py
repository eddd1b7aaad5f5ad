"""Periodic, signed publications: three periods published through the CLI, then
`por history` and `por verify-inclusion` against honest and altered copies."""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from eth_account import Account

from fixtures.liabilities import run_por, run_por_process
from fixtures.sample import write_customers
from fixtures.signatures import high_s_twin
from por import signing
from por.amounts import BUILTIN_DECIMALS, format_amount, parse_amount
from por.audit.report_style import grouped
from por.publication.attestation import publication_page, verifier_page

KEY, OTHER = "5a" * 32, "a5" * 32
ADDRESS = Account.from_key(bytes.fromhex(KEY)).address
OTHER_ADDRESS = Account.from_key(bytes.fromhex(OTHER)).address
PERIODS = [
    ("2026-01", "2026-01-31T23:59:59Z"),
    ("2026-02", "2026-02-28T23:59:59Z"),
    ("2026-03", "2026-03-31T23:59:59Z"),
]
ACCOUNT = "user-0000003"


def csv_totals(path: Path) -> dict[str, str]:
    sums: dict[str, int] = defaultdict(int)
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            sums[row["asset"]] += parse_amount(row["amount"], BUILTIN_DECIMALS[row["asset"]])
    return {a: format_amount(v, BUILTIN_DECIMALS[a]) for a, v in sums.items()}


def publish(root: Path, name: str, snapshot: tuple[str, str], *extra: object, seed: int = 1) -> Path:
    customers = write_customers(root / f"{name}.csv", 30, seed=seed)
    code, out, err = run_por(
        "publish",
        customers,
        "--out",
        root / name,
        "--snapshot-id",
        snapshot[0],
        "--snapshot-time",
        snapshot[1],
        "--exchange",
        "chain-exchange",
        *extra,
    )
    assert code == 0, err
    return root / name


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Path:
    """p1 <- p2 <- p3, signed with KEY, balances changing each month; and proofs of one customer."""
    root = tmp_path_factory.mktemp("history")
    (root / "key.hex").write_text(KEY + "\n")
    (root / "other.hex").write_text("0x" + OTHER)
    previous: list[object] = []
    for i, period in enumerate(PERIODS):
        folder = publish(root, f"p{i + 1}", period, "--sign-key", root / "key.hex", *previous, seed=i + 1)
        previous = ["--previous", folder]
        code, _, err = run_por("prove", folder, ACCOUNT, "--out", root / f"proof-p{i + 1}.json")
        assert code == 0, err
    return root


def copy_chain(chain: Path, dest: Path) -> Path:
    for name in ("p1", "p2", "p3"):
        shutil.copytree(chain / name, dest / name, ignore=shutil.ignore_patterns("private"))
    return dest


def alter_totals(folder: Path) -> None:
    path = folder / "commitment.json"
    doc = json.loads(path.read_text())
    symbol = sorted(doc["totals"])[0]
    whole, dot, frac = doc["totals"][symbol].partition(".")
    doc["totals"][symbol] = str(int(whole) + 1) + dot + frac
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def history(*args: object) -> tuple[int, str, str]:
    return run_por("history", *args)


# --- publishing ---------------------------------------------------------------------


def test_publications_link_sign_and_carry_the_verifier_page(chain):
    docs = [json.loads((chain / f"p{i}" / "commitment.json").read_text()) for i in (1, 2, 3)]
    assert "previous" not in docs[0]
    for before, doc in zip(docs, docs[1:]):
        # the link names the very bytes the previous signature covers: one identity per commitment
        assert doc["previous"] == {"snapshot_id": before["snapshot_id"], "sha256": before["signature"]["digest"]}
        assert before["signature"]["digest"] == signing.digest_hex(before)
    assert all(d["signature"]["signer"] == ADDRESS for d in docs)
    for i in (1, 2, 3):  # the page with this period's commitment.json embedded, as published
        page = (chain / f"p{i}" / "verify.html").read_bytes()
        assert page == publication_page((chain / f"p{i}" / "commitment.json").read_text(encoding="utf-8"))
        assert page != verifier_page() and len(page) > len(verifier_page())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--snapshot-id", "2026-03", "--snapshot-time", "2026-04-30T00:00:00Z"], "same snapshot id"),
        (["--snapshot-id", "2026-04", "--snapshot-time", "2026-03-01T00:00:00Z"], "is not after the previous"),
        (
            ["--snapshot-id", "2026-04", "--snapshot-time", "2026-04-30T00:00:00Z", "--exchange", "someone-else"],
            "the previous publication is by",
        ),
    ],
)
def test_publish_refuses_a_link_that_cannot_be_right(chain, tmp_path, args, message):
    customers = write_customers(tmp_path / "c.csv", 5)
    code, _, err = run_por(
        "publish",
        customers,
        "--out",
        tmp_path / "p4",
        "--previous",
        chain / "p3",
        *(["--exchange", "chain-exchange"] if "--exchange" not in args else []),
        *args,
    )
    assert code == 2 and message in err, err
    assert not (tmp_path / "p4").exists()


def test_a_bad_key_file_is_bad_input_and_writes_nothing(tmp_path):
    customers = write_customers(tmp_path / "c.csv", 5)
    (tmp_path / "key").write_text("not a key\n")
    code, out, err = run_por_process(
        "publish", customers, "--exchange", "Ex", "--out", tmp_path / "out", "--sign-key", tmp_path / "key"
    )
    assert code == 2 and "Traceback" not in err and "--sign-key" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


# --- por history ---------------------------------------------------------------------


def test_history_of_an_honest_chain_shows_totals_over_time(chain):
    code, out, err = history(chain / "p3", chain / "p1", chain / "p2", "--signer", ADDRESS, "--json")  # any order
    assert code == 0, out
    doc = json.loads(out)
    assert doc["verified"] is True and doc["state"] == "verified" and doc["reasons"] == []
    assert [p["snapshot_id"] for p in doc["periods"]] == ["2026-01", "2026-02", "2026-03"]
    assert [p["link"] for p in doc["periods"]] == ["first", "ok", "ok"]
    for i, period in enumerate(doc["periods"], 1):
        assert {k: v for k, v in period["totals"].items() if v} == csv_totals(chain / f"p{i}.csv")
        assert period["signature"].startswith("verified")
    code, out, _ = history(chain / "p1", chain / "p2", chain / "p3", "--signer", ADDRESS)
    assert code == 0 and "CHAIN VERIFIED" in out and out.count("✓ verified") == 3


def test_history_with_no_key_pinned_is_only_self_consistent(chain):
    """Anyone can write a chain of consistent, linked periods: without the exchange's key nothing ties
    them to the exchange, so the chain is NOT VERIFIED (exit 1), amber, with what to pin."""
    code, out, _ = history(chain / "p3", chain / "p1", chain / "p2", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["verified"] is False and doc["state"] == "self-consistent"
    assert doc["findings"] == [] and doc["reasons"] == [
        "self-consistent, but nothing to compare it with: no signing key was pinned, so nothing ties these "
        "periods to the exchange"
    ]
    assert all(p["signature"].startswith("not checked (no key pinned)") for p in doc["periods"])
    assert "signatures: not checked (no key pinned): pin the exchange's key with --signer" in doc["notes"]
    code, out, _ = history(chain / "p1", chain / "p2", chain / "p3")
    assert code == 1 and "CHAIN NOT VERIFIED: self-consistent, but nothing to compare it with" in out
    assert "CHAIN VERIFIED" not in out


@pytest.mark.parametrize("altered", ["p1", "p2"])
@pytest.mark.parametrize("extra", [[], ["--no-trees"]])
def test_history_points_at_an_altered_old_commitment(chain, tmp_path, altered, extra):
    copy = copy_chain(chain, tmp_path)
    alter_totals(copy / altered)
    code, out, _ = history(copy / "p1", copy / "p2", copy / "p3", *extra)
    assert code == 1
    following = {"p1": "2026-02", "p2": "2026-03"}[altered]
    assert f"{copy / altered} (snapshot" in out
    assert f"is not the one snapshot '{following}' linked to: it was changed after publication" in out
    blamed = [line for line in out.splitlines() if "✗" in line and "linked to" in line]
    assert len(blamed) == 1 and str(copy / altered) in blamed[0]


def test_history_points_at_an_altered_last_commitment(chain, tmp_path):
    copy = copy_chain(chain, tmp_path)
    alter_totals(copy / "p3")
    code, out, _ = history(copy / "p1", copy / "p2", copy / "p3")  # nothing links to p3: its tree does
    assert code == 1 and f"{copy / 'p3'} (snapshot '2026-03'): root, totals" in out
    code, out, _ = history(copy / "p1", copy / "p2", copy / "p3", "--no-trees", "--signer", ADDRESS)
    assert code == 1 and f"{copy / 'p3'} (snapshot '2026-03'): signature: the commitment was changed" in out
    code, out, _ = history(copy / "p1", copy / "p2", copy / "p3", "--no-trees")
    assert code == 1  # no tree, no key, nothing after it: nothing can tell, and it says so
    assert "self-consistent, but nothing to compare it with" in out and "✗" not in out
    assert "signatures: not checked (no key pinned)" in out


def test_history_flags_a_broken_or_missing_link(chain, tmp_path):
    code, out, _ = history(chain / "p1", chain / "p3")
    assert code == 1 and "links to snapshot '2026-02', but the period before it is '2026-01'" in out
    unlinked = publish(tmp_path, "p4", ("2026-04", "2026-04-30T00:00:00Z"), "--sign-key", chain / "key.hex")
    code, out, _ = history(chain / "p1", chain / "p2", chain / "p3", unlinked)
    assert code == 1 and f"{unlinked} (snapshot '2026-04'): no link to the previous period '2026-03'" in out


def test_history_flags_a_republished_period_under_an_old_snapshot_id(chain, tmp_path):
    again = publish(tmp_path, "p2", PERIODS[1], "--sign-key", chain / "key.hex", "--previous", chain / "p1", seed=9)
    code, out, _ = history(chain / "p1", again, chain / "p3", "--signer", ADDRESS)
    assert code == 1 and f"{again} (snapshot '2026-02'): commitment.json is not the one snapshot '2026-03'" in out
    code, out, _ = history(chain / "p1", chain / "p2", again, chain / "p3")
    assert code == 1 and "a different commitment under the same snapshot id" in out


def test_history_rejects_a_period_signed_by_another_key(chain, tmp_path):
    copy = copy_chain(chain, tmp_path / "c")
    forged = publish(
        tmp_path,
        "p4",
        ("2026-04", "2026-04-30T00:00:00Z"),
        "--sign-key",
        chain / "other.hex",
        "--previous",
        copy / "p3",
    )
    code, out, _ = history(copy / "p1", copy / "p2", copy / "p3", forged, "--signer", ADDRESS)
    assert code == 1
    assert f"signed by {OTHER_ADDRESS.lower()}, not by the pinned key {ADDRESS.lower()}" in out
    assert out.count("✗ failed") == 1


def test_an_unreadable_commitment_is_a_finding_that_names_it(chain, tmp_path):
    copy = copy_chain(chain, tmp_path)
    (copy / "p2" / "commitment.json").write_text('{"format": "por-commitment"')
    code, out, _ = history(copy / "p1", copy / "p2", copy / "p3")
    assert code == 1 and f"{copy / 'p2'}: commitment cannot be read" in out
    code, _, err = history(copy / "p1", tmp_path / "nowhere")
    assert code == 2 and "nowhere" in err


def test_history_never_follows_a_tree_path_out_of_the_folder(chain, tmp_path):
    copy = copy_chain(chain, tmp_path)
    path = copy / "p2" / "commitment.json"
    doc = json.loads(path.read_text())
    doc["tree"]["file"] = "../p1/tree.bin"
    path.write_text(json.dumps(doc))
    code, out, _ = history(copy / "p2")
    assert code == 1 and "'../p1/tree.bin' is not a plain file name beside the commitment" in out


def test_history_html_is_self_contained_plots_totals_and_escapes_every_value(chain, tmp_path):
    copy = copy_chain(chain, tmp_path)
    path = copy / "p3" / "commitment.json"
    doc = json.loads(path.read_text())
    doc["exchange"] = doc["snapshot_time"] = '<img src=x onerror="alert(1)">&'
    path.write_text(json.dumps(doc))
    out_html = tmp_path / "history.html"
    code, out, _ = history(copy / "p1", copy / "p2", copy / "p3", "--no-trees", "--html", out_html)
    assert code == 1 and out_html.exists()
    page = out_html.read_text()
    assert "<img" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;" in page
    assert page.count("<svg") == len(doc["totals"]) and "<script" not in page
    assert "http://" not in page and "https:" not in page
    for i in (1, 2):
        for asset, amount in csv_totals(chain / f"p{i}.csv").items():
            assert f"title='{amount} {asset}'" in page  # exact in the title, grouped on the page
            assert grouped(amount)[0] in page


# --- verify-inclusion / verify-tree with keys and periods ------------------------------


def test_one_customer_over_three_periods(chain):
    proofs = [chain / f"proof-p{i}.json" for i in (3, 1, 2)]
    commitments = [a for i in (1, 2, 3) for a in ("--commitment", chain / f"p{i}")]
    code, out, _ = run_por("verify-inclusion", *proofs, *commitments, "--signer", ADDRESS, "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert [p["snapshot_id"] for p in doc["periods"]] == ["2026-03", "2026-01", "2026-02"]
    for period in doc["periods"]:
        i = int(period["snapshot_id"][-1])
        rows = [r for r in csv.DictReader(open(chain / f"p{i}.csv")) if r["account_id"] == ACCOUNT]
        expected = {
            r["asset"]: format_amount(
                parse_amount(r["amount"], BUILTIN_DECIMALS[r["asset"]]), BUILTIN_DECIMALS[r["asset"]]
            )
            for r in rows
        }
        assert {k: v for k, v in period["balances"].items() if v != "0"} == expected
        assert period["signature"].startswith("verified")


def test_each_proof_is_checked_against_its_own_period(chain, tmp_path):
    p1, p2 = chain / "proof-p1.json", chain / "proof-p2.json"
    code, out, _ = run_por("verify-inclusion", p1, p2, "--commitment", chain / "p1", "--commitment", chain / "p3")
    assert code == 1 and "no --commitment given for snapshot '2026-02'" in out
    copy = copy_chain(chain, tmp_path)
    alter_totals(copy / "p2")
    code, out, _ = run_por("verify-inclusion", p1, p2, "--commitment", copy / "p1", "--commitment", copy / "p2")
    assert code == 1 and "root sums differ from the commitment's totals" in out
    code, out, _ = run_por(
        "verify-inclusion",
        p1,
        p2,
        "--commitment",
        chain / "p1",
        "--commitment",
        chain / "p2",
        "--signer",
        OTHER_ADDRESS,
    )
    assert code == 1 and out.count("not by the pinned key") == 2
    code, _, _ = run_por("prove", chain / "p2", "user-0000004", "--out", tmp_path / "other.json")
    code, out, _ = run_por(
        "verify-inclusion", p1, tmp_path / "other.json", "--commitment", chain / "p1", "--commitment", chain / "p2"
    )
    assert code == 1 and "the proofs are of different customers" in out
    code, _, err = run_por("verify-inclusion", p1, p2, "--root", "00" * 32)
    assert code == 2 and "--root" in err


def test_several_proofs_with_nothing_pinned_are_not_verified(chain):
    proofs = [chain / f"proof-p{i}.json" for i in (1, 2, 3)]
    code, out, _ = run_por("verify-inclusion", *proofs, "--json")
    doc = json.loads(out)
    assert code == 1 and doc["verified"] is False and doc["state"] == "self-consistent"
    assert all(p["state"] == "self-consistent" for p in doc["periods"])
    assert all(
        p["reasons"] == ["self-consistent, but nothing to compare it with: no published commitment or root was given"]
        for p in doc["periods"]
    )
    code, out, _ = run_por("verify-inclusion", *proofs)
    assert code == 1 and "NOT VERIFIED: self-consistent, but nothing to compare it with" in out


def test_a_pinned_key_with_nothing_to_check_it_against_is_a_usage_error(chain):
    """The key signs commitment.json: without one it would be silently ignored, so it is refused (exit 2)."""
    proofs = [chain / f"proof-p{i}.json" for i in (1, 2)]
    for argv in (
        ["verify-inclusion", *proofs, "--signer", ADDRESS],
        ["verify-inclusion", proofs[0], "--signer", ADDRESS],
        ["verify-inclusion", proofs[0], "--root", "00" * 32, "--signer", ADDRESS],
        ["verify-tree", chain / "p1" / "tree.bin", "--signer", ADDRESS],
    ):
        code, out, err = run_por_process(*argv)
        assert code == 2 and out == "" and err.count("\n") == 1 and "--signer" in err, (argv, out, err)
        assert "nothing to check the key against" in err, err


def test_signature_checked_when_pinned_and_said_so_when_not(chain, tmp_path):
    proof, commitment = chain / "proof-p1.json", chain / "p1" / "commitment.json"
    code, out, _ = run_por("verify-inclusion", proof, "--commitment", commitment)
    assert code == 0 and "signature: not checked (no key pinned)" in out
    code, out, _ = run_por("verify-inclusion", proof, "--commitment", commitment, "--signer", ADDRESS)
    assert code == 0 and f"signature: verified: signed by the pinned key {ADDRESS.lower()}" in out
    code, out, _ = run_por("verify-inclusion", proof, "--commitment", commitment, "--signer", OTHER_ADDRESS)
    assert code == 1 and "NOT VERIFIED" in out and "not by the pinned key" in out
    code, _, err = run_por("verify-inclusion", proof, "--signer", ADDRESS)
    assert code == 2 and "--signer" in err
    unsigned = publish(tmp_path, "u", PERIODS[0])
    code, _, _ = run_por("prove", unsigned, ACCOUNT, "--out", tmp_path / "u.json")
    code, out, _ = run_por("verify-inclusion", tmp_path / "u.json", "--commitment", unsigned / "commitment.json")
    assert code == 0 and "signature: not checked (no key pinned)" in out
    code, out, _ = run_por(
        "verify-inclusion", tmp_path / "u.json", "--commitment", unsigned / "commitment.json", "--signer", ADDRESS
    )
    assert code == 1 and "the commitment is not signed, but a signing key is pinned" in out


def test_verify_tree_checks_the_pinned_signer(chain):
    tree, commitment = chain / "p2" / "tree.bin", chain / "p2" / "commitment.json"
    code, out, _ = run_por("verify-tree", tree, "--commitment", commitment, "--signer", ADDRESS)
    assert code == 0 and "signature: verified" in out
    code, out, _ = run_por("verify-tree", tree, "--commitment", commitment, "--signer", OTHER_ADDRESS)
    assert code == 1 and "not by the pinned key" in out
    code, out, _ = run_por("verify-tree", tree, "--commitment", commitment)
    assert code == 0 and "signature: not checked (no key pinned)" in out


# --- one commitment, one identity: canonical links, low-s signatures (issue 12, class 9) ------------


def reformat(path: Path) -> None:
    """A harmless re-format: other indentation and key order, same JSON values."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(dict(reversed(list(doc.items()))), indent=4, ensure_ascii=True) + "\r\n")


def test_a_reformatted_signed_commitment_is_the_same_commitment_not_an_alarm(chain, tmp_path):
    copy = copy_chain(chain, tmp_path / "c")
    for name in ("p1", "p2"):
        reformat(copy / name / "commitment.json")
    assert (copy / "p1" / "commitment.json").read_bytes() != (chain / "p1" / "commitment.json").read_bytes()
    code, out, _ = history(copy / "p1", copy / "p2", copy / "p3", "--signer", ADDRESS)
    assert code == 0 and "CHAIN VERIFIED" in out and out.count("✓ verified") == 3, out
    # the original and its re-formatted copy, side by side: one commitment, not two for one snapshot
    code, out, _ = history(chain / "p1", copy / "p1", chain / "p2", chain / "p3", "--signer", ADDRESS)
    assert code == 0 and "different commitment" not in out, out
    code, out, _ = run_por(
        "verify-inclusion",
        chain / "proof-p1.json",
        chain / "proof-p2.json",
        "--commitment",
        chain / "p1",
        "--commitment",
        copy / "p1",
        "--commitment",
        copy / "p2",
        "--signer",
        ADDRESS,
    )
    assert code == 0 and "a different commitment" not in out, out


def test_a_high_s_twin_of_a_signed_commitment_is_refused_everywhere(chain, tmp_path):
    copy = copy_chain(chain, tmp_path / "c")
    path = copy / "p2" / "commitment.json"
    path.write_text(json.dumps(high_s_twin(json.loads(path.read_text())), indent=2, ensure_ascii=False) + "\n")
    code, out, _ = history(copy / "p1", copy / "p2", copy / "p3", "--signer", ADDRESS)
    assert (
        code == 1
        and f"{copy / 'p2'} (snapshot '2026-02'): signature: malformed signature: value: s is in the upper half" in out
    ), out
    code, out, _ = run_por_process(
        "verify-inclusion", chain / "proof-p2.json", "--commitment", path, "--signer", ADDRESS
    )
    assert code == 1 and "upper half of the curve order" in out, out
    code, out, _ = run_por_process("verify-tree", copy / "p2" / "tree.bin", "--commitment", path, "--signer", ADDRESS)
    assert code == 1 and "upper half of the curve order" in out, out


def test_a_link_to_the_file_bytes_written_before_canonical_links_still_verifies(chain, tmp_path):
    copy = copy_chain(chain, tmp_path / "c")
    raw = (copy / "p1" / "commitment.json").read_bytes()
    path = copy / "p2" / "commitment.json"
    doc = json.loads(path.read_text())
    doc["previous"]["sha256"] = __import__("hashlib").sha256(raw).hexdigest()
    del doc["signature"]
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    code, out, _ = history(copy / "p1", copy / "p2", "--no-trees")  # unsigned now: no key can anchor it
    assert code == 1 and "✓ linked" in out and "self-consistent, but nothing to compare it with" in out, out
    assert "✗" not in out
    reformat(copy / "p1" / "commitment.json")  # such a link names bytes: a re-format breaks it
    code, out, _ = history(copy / "p1", copy / "p2", "--no-trees")
    assert code == 1 and "it was changed after publication" in out
