"""Issue 13 item 7: every input re-saved as editors save it (a UTF-8 byte order mark, CRLF line ends,
other indentation or key order) reads as the same value, and through the CLI verifies as before;
what is strict stays strict (a duplicate key, -0)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures.adversarial.input_cases import CHAINS, SNAPSHOT, WALLET_HEAD, WALLET_ROW
from fixtures.liabilities import run_por, run_por_process
from por.audit.policy import load_policy
from por.errors import InputError
from por.liabilities.pins import read_totals
from por.liabilities.porjson import parse_commitment
from por.reserves.inputs import load_chains_config, load_snapshot, load_wallets
from por.strictjson import load_file

POLICY = (Path(__file__).resolve().parents[1] / "por" / "policies" / "jp-fsa.toml").read_text()


def resaved(text: str) -> bytes:
    """A byte order mark and CRLF line ends, as a Windows editor saves a file."""
    return b"\xef\xbb\xbf" + text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def rejson(doc) -> bytes:
    """Re-indented, keys reversed, ASCII escapes, then saved with a BOM and CRLF."""
    if isinstance(doc, dict):
        doc = dict(reversed(list(doc.items())))
    return resaved(json.dumps(doc, indent=4, ensure_ascii=True) + "\n")


@pytest.fixture(scope="module")
def publication(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("resaved")
    (tmp / "c.csv").write_text("account_id,asset,amount\nalice,BTC,1.5\nbob,ETH,2\nzoë,BTC,3\n")
    assert run_por("publish", tmp / "c.csv", "--exchange", "Ex", "--out", tmp / "pub", "-q")[0] == 0
    assert run_por("prove", tmp / "pub", "zoë", "-o", tmp / "p.json")[0] == 0
    return tmp


def test_a_resaved_proof_and_commitment_verify_through_the_cli(publication):
    tmp = publication
    commitment = json.loads((tmp / "pub" / "commitment.json").read_text())
    (tmp / "c2.json").write_bytes(rejson(commitment))
    (tmp / "p2.json").write_bytes(rejson(json.loads((tmp / "p.json").read_text())))
    code, out, err = run_por_process("verify-inclusion", tmp / "p2.json", "--commitment", tmp / "c2.json")
    assert code == 0 and out.startswith("VERIFIED"), out + err
    code, out, err = run_por("verify-tree", tmp / "pub" / "tree.bin", "--commitment", tmp / "c2.json")
    assert code == 0, out + err
    code, out, _ = run_por("verify-inclusion", tmp / "p2.json", "--root", commitment["root"], "-j")
    assert code == 0 and json.loads(out)["verified"] is True
    assert parse_commitment(load_file(tmp / "c2.json"), "c2") == parse_commitment(commitment, "c")


def test_strict_stays_strict_in_a_resaved_proof(publication):
    tmp = publication
    text = rejson(json.loads((tmp / "p.json").read_text())).decode("utf-8-sig")
    for name, edited in (
        ("dup", text.replace('"leaf_count": 3', '"leaf_count": 3, "leaf_count": 3', 1)),
        ("zero", text.replace('"piece": 0', '"piece": -0', 1)),
    ):
        assert edited != text, name
        (tmp / f"{name}.json").write_bytes(b"\xef\xbb\xbf" + edited.encode())
        code, out, _ = run_por(
            "verify-inclusion", tmp / f"{name}.json", "--commitment", tmp / "pub" / "commitment.json"
        )
        assert code == 1 and ("duplicate key" in out or "-0 is not a canonical integer" in out), out


def test_every_json_and_toml_input_reads_resaved(tmp_path):
    wallets_csv = WALLET_HEAD + WALLET_ROW
    wallets = {"exchange": "ex", "wallets": list(csv.DictReader(io.StringIO(wallets_csv)))}
    totals = {"format": "por-totals", "version": 1, "totals": {"BTC": "1.5", "ETH": "2"}, "snapshot_id": "s"}
    cases = [
        ("snapshot.json", json.dumps(SNAPSHOT), rejson(SNAPSHOT), load_snapshot),
        ("wallets.json", json.dumps(wallets), rejson(wallets), load_wallets),
        ("wallets.csv", wallets_csv, resaved(wallets_csv), load_wallets),
        ("totals.json", json.dumps(totals), rejson(totals), read_totals),
        ("chains.toml", CHAINS, resaved(CHAINS), load_chains_config),
        ("policy.toml", POLICY, resaved(POLICY), lambda p: replace(load_policy(p), sha256="")),  # names its bytes
    ]
    for name, original, saved, reader in cases:
        path = tmp_path / name  # one path: what a reader records of its source is the same
        path.write_text(original)
        before = reader(path)
        path.write_bytes(saved)
        assert reader(path) == before, name


def test_two_byte_order_marks_are_not_one(tmp_path):
    path = tmp_path / "s.json"
    path.write_bytes(b"\xef\xbb\xbf" + rejson(SNAPSHOT))
    with pytest.raises(InputError, match="invalid JSON"):
        load_snapshot(path)
