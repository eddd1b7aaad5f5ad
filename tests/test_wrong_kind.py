"""One of por's own files given in the wrong place is a usage mistake (exit 2, with the fix), not a
"NOT VERIFIED" that a customer would read as the exchange's fault."""

from __future__ import annotations

import json
import random

import pytest

from fixtures.liabilities import random_liabilities, run_por, run_por_process, write_customers_csv
from por.kinds import por_kind


@pytest.fixture(scope="module")
def publication(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kinds")
    customers = write_customers_csv(tmp / "c.csv", random_liabilities(random.Random(5), 40, 2))
    code, _, err = run_por("publish", customers, "--exchange", "Ex", "--out", tmp / "pub", "--snapshot-id", "s1")
    assert code == 0, err
    account = json.loads((tmp / "pub" / "private" / "secrets.jsonl").read_text().splitlines()[1])["account_id"]
    code, _, err = run_por("prove", tmp / "pub", account, "--out", tmp / "proof.json")
    assert code == 0, err
    _write_anchor_and_report(tmp)
    return tmp


def _write_anchor_and_report(tmp):
    """anchor.json beside the commitment and an audit report, as their writers start them (`format`
    first, indented): nothing here reads a chain or runs an audit, and por_kind reads only the start."""
    from por.audit.reconcile import REPORT_FORMAT, REPORT_VERSION
    from por.publication.anchor import ANCHOR_FORMAT

    anchor = {"format": ANCHOR_FORMAT, "version": 1, "chain": "btc", "snapshot_id": "s1", "digest": "ab" * 32}
    (tmp / "pub" / "anchor.json").write_text(json.dumps(anchor, indent=2) + "\n")
    report = {"format": REPORT_FORMAT, "version": REPORT_VERSION, "ok": False, "verdict": "fail"}
    (tmp / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def files(tmp):
    pub = tmp / "pub"
    return {
        "proof": tmp / "proof.json",
        "tree": pub / "tree.bin",
        "commitment": pub / "commitment.json",
        "secrets": pub / "private" / "secrets.jsonl",
        "anchor": pub / "anchor.json",
        "report": tmp / "report.json",
    }


MISTAKES = [
    # (command line from the files, what the message must say)
    (
        lambda f: ["verify-inclusion", f["commitment"]],
        "this is a por commitment (commitment.json), not an inclusion proof",
    ),
    (lambda f: ["verify-inclusion", f["tree"]], "this is a por liabilities tree (tree.bin), not an inclusion proof"),
    (lambda f: ["verify-inclusion", f["secrets"]], "private secrets file (keep it secret), not an inclusion proof"),
    (
        lambda f: ["verify-inclusion", f["proof"], "--commitment", f["tree"]],
        "--commitment: this is a por liabilities tree",
    ),
    (
        lambda f: ["verify-inclusion", f["proof"], "--commitment", f["proof"]],
        "--commitment: this is a por inclusion proof",
    ),
    (
        lambda f: ["verify-tree", f["proof"]],
        "this is a por inclusion proof, not a tree: check a proof with por verify-inclusion",
    ),
    (lambda f: ["verify-tree", f["commitment"]], "this is a por commitment (commitment.json), not a tree"),
    (lambda f: ["verify-tree", f["tree"], "--commitment", f["tree"]], "not a commitment: give commitment.json"),
    (
        lambda f: ["verify-inclusion", f["anchor"]],
        "this is a por anchor record (anchor.json), not an inclusion proof: give the customer's proof",
    ),
    (
        lambda f: ["verify-inclusion", f["proof"], "--commitment", f["anchor"]],
        "--commitment: this is a por anchor record (anchor.json), not a commitment: give commitment.json",
    ),
    (
        lambda f: ["verify-inclusion", f["report"]],
        "this is a por audit report, not an inclusion proof: give the customer's proof",
    ),
    (
        lambda f: ["verify-inclusion", f["proof"], "--commitment", f["report"]],
        "--commitment: this is a por audit report, not a commitment: give the commitment the audit checked",
    ),
]


@pytest.mark.parametrize("line, says", MISTAKES)
def test_a_por_file_in_the_wrong_place_is_a_usage_mistake_with_the_fix(publication, line, says):
    code, out, err = run_por(*line(files(publication)))
    assert code == 2, (out, err)
    assert says in err and "NOT VERIFIED" not in out + err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "line",
    [
        lambda f: [f["commitment"]],
        lambda f: [f["anchor"]],
        lambda f: [f["report"]],
        lambda f: [f["proof"], "--commitment", f["anchor"]],
        lambda f: [f["proof"], "--commitment", f["report"]],
    ],
    ids=["commitment-as-proof", "anchor-as-proof", "report-as-proof", "anchor-as-commitment", "report-as-commitment"],
)
def test_the_customers_lean_path_says_the_same(publication, line):
    """`python -m por verify-inclusion` runs without typer (por/cli/lean.py): the same refusal."""
    argv = ["verify-inclusion", *line(files(publication))]
    lean = run_por_process(*argv)
    assert lean == run_por(*argv) and lean[0] == 2 and "this is a por" in lean[2], lean


def test_the_right_files_still_verify(publication):
    f = files(publication)
    assert run_por("verify-inclusion", f["proof"], "--commitment", f["commitment"])[0] == 0
    assert run_por("verify-tree", f["tree"], "--commitment", f["commitment"])[0] == 0


def test_a_proof_resaved_with_other_key_order_is_judged_not_refused(publication, tmp_path):
    """Only por's own first bytes are recognised: a commitment re-saved with sorted keys is read as the
    proof it was given as, and fails as one (exit 1), as before."""
    doc = json.loads(files(publication)["commitment"].read_text())
    resaved = tmp_path / "sorted.json"
    resaved.write_text(json.dumps(doc, sort_keys=True))
    assert por_kind(resaved.read_bytes()) is None
    code, out, err = run_por("verify-inclusion", resaved)
    assert code == 1 and "NOT VERIFIED" in out + err


@pytest.mark.parametrize(
    "head, kind",
    [
        (b'{"format":"por-tree","version":2}', "por-tree"),
        (b'\xef\xbb\xbf\n  { "format" : "por-commitment", "version": 2}', "por-commitment"),
        (b'{"version": 2, "format": "por-commitment"}', None),
        (b'{"format": "okx"}', None),
        (b"\x00\x01", None),
    ],
)
def test_por_kind_reads_only_por_own_first_bytes(head, kind):
    assert por_kind(head) == kind
