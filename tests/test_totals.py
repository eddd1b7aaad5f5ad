"""`--totals FILE`: the per-asset totals an exchange published, pinned beside its root, for por inputs
(OKX inputs: tests/test_okx_cli.py). Through `python -m por` in a child process.

With a root, the totals anchor what a root binds only by position: the asset names and their
decimals. A proof that re-declares BTC with 1 decimal (the commitment counts satoshis) shows
10^7 times the balance; pinned totals refuse it, by name and exact value. The file itself is
input to use: any defect in it, or a combination of pins that would leave one unchecked, is
bad input (exit 2, one line).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from fixtures.liabilities import run_por_process

SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "formats" / "totals.schema.json"
CUSTOMERS = "account_id,asset,amount\nalice,BTC,1.5\nalice,USDT,20\nbob,BTC,0.25\nbob,ETH,3\ncarol,USDT,7.125\n"
TOTALS = {"BTC": "1.75", "ETH": "3", "USDT": "27.125"}


def por(folder: Path, *args) -> tuple[int, str]:
    code, out, err = run_por_process(*args, cwd=folder)
    assert "Traceback" not in out + err and len(err.strip().splitlines()) <= 1, err
    return code, " ".join((out + " " + err).split())


def totals_doc(amounts: dict, **extra) -> dict:
    return {"format": "por-totals", "version": 1, "totals": amounts, **extra}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    folder = tmp_path_factory.mktemp("totals")
    (folder / "customers.csv").write_text(CUSTOMERS)
    assert (
        por(
            folder,
            "publish",
            "customers.csv",
            "--exchange",
            "example-exchange",
            "--out",
            "pub",
            "--snapshot-id",
            "2024-06-01",
        )[0]
        == 0
    )
    assert por(folder, "prove", "pub", "alice", "--out", "alice.json")[0] == 0
    root = json.loads((folder / "pub" / "commitment.json").read_text())["root"]
    (folder / "totals.json").write_text(json.dumps(totals_doc(TOTALS, snapshot_id="2024-06-01")))
    return folder, root


def _redeclared(proof: dict, symbol: str, decimals: int) -> dict:
    """The same proof (same units, same hashes) with `symbol` declared at other decimals."""
    old = next(a["decimals"] for a in proof["assets"] if a["symbol"] == symbol)

    def shift(text: str) -> str:
        value = (Decimal(text) * 10**old / 10**decimals).normalize()
        return format(value, "f")

    def walk(node):
        if isinstance(node, dict):
            return {k: (shift(v) if k == symbol and isinstance(v, str) else walk(v)) for k, v in node.items()}
        return [walk(v) for v in node] if isinstance(node, list) else node

    doc = walk(proof)
    doc["assets"] = [{**a, "decimals": decimals} if a["symbol"] == symbol else a for a in proof["assets"]]
    return doc


def test_published_totals_anchor_a_por_proof_and_tree(published):
    folder, root = published
    code, text = por(folder, "verify-inclusion", "alice.json", "--root", root, "--totals", "totals.json")
    assert code == 0 and "VERIFIED" in text and "NOT VERIFIED" not in text, text
    code, text = por(folder, "verify-tree", "pub/tree.bin", "--root", root, "--totals", "totals.json")
    assert code == 0 and "NOT VERIFIED" not in text, text


def test_a_proof_that_redeclares_decimals_is_refused_by_the_published_totals(published):
    """BTC at 1 decimal: 1.5 BTC reads 15000000 BTC, the root hash unchanged in format v1."""
    folder, root = published
    doc = _redeclared(json.loads((folder / "alice.json").read_text()), "BTC", 1)
    assert doc["balances"]["BTC"] == "15000000"
    (folder / "redeclared.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    code, text = por(folder, "verify-inclusion", "redeclared.json", "--root", root, "--totals", "totals.json")
    assert code == 1 and "totals: BTC 17500000 is not the published total 1.75" in text, text


@pytest.mark.parametrize(
    "amounts, extra, words",
    [
        ({**TOTALS, "BTC": "1.76"}, {}, "totals: BTC 1.75 is not the published total 1.76"),
        ({"BTC": "1.75", "ETH": "3"}, {}, "the tree holds USDT, which totals.json does not list"),
        ({**TOTALS, "SOL": "0"}, {}, "totals.json lists SOL, which the tree does not hold"),
        ({"ETH": "1.75", "BTC": "3", "USDT": "27.125"}, {}, "totals: BTC 1.75 is not the published total 3"),
        (TOTALS, {"snapshot_id": "2024-05-01"}, "snapshot '2024-06-01' is not the published totals' '2024-05-01'"),
    ],
)
def test_other_published_totals_fail_proof_and_tree(published, amounts, extra, words):
    folder, root = published
    (folder / "other.json").write_text(json.dumps(totals_doc(amounts, **extra)))
    for argv in (["verify-inclusion", "alice.json"], ["verify-tree", "pub/tree.bin"]):
        code, text = por(folder, *argv, "--root", root, "--totals", "other.json")
        assert code == 1 and words.replace("totals.json", "other.json") in text, (argv, text)


@pytest.mark.parametrize(
    "doc, words",
    [
        (totals_doc({**TOTALS, "ETH": "3.0"}), "totals.ETH: '3.0' is not a canonical decimal"),
        (totals_doc({**TOTALS, "ETH": "-3"}), "totals.ETH: '-3' is not a canonical decimal"),
        (totals_doc({**TOTALS, "ETH": 3}), "totals.ETH: expected a string, got an integer"),
        (totals_doc({**TOTALS, "eth": "3"}), "asset symbol 'eth' must be"),
        (totals_doc({}), "totals: no assets"),
        ({**totals_doc(TOTALS), "root": "00" * 32}, "root: unknown field"),
        ({**totals_doc(TOTALS), "version": 2}, "version: unsupported version"),
        ('{"format": "por-totals", "format": "x"}', "duplicate key"),
    ],
)
def test_a_defective_totals_file_is_bad_input(published, doc, words):
    folder, root = published
    (folder / "bad.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
    code, text = por(folder, "verify-inclusion", "alice.json", "--root", root, "--totals", "bad.json")
    assert code == 2 and words in text and text.startswith("por: "), text


def test_totals_without_a_root_or_beside_a_commitment_are_bad_input(published):
    folder, _ = published
    code, text = por(folder, "verify-tree", "pub/tree.bin", "--totals", "totals.json")
    assert code == 2 and "--totals: needs --root" in text, text
    code, text = por(
        folder, "verify-inclusion", "alice.json", "--commitment", "pub/commitment.json", "--totals", "totals.json"
    )
    assert code == 2 and "not with --commitment" in text, text


def test_the_schema_describes_what_the_reader_accepts(published):
    folder, _ = published
    schema = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    validator.validate(json.loads((folder / "totals.json").read_text()))
    validator.validate(totals_doc({"BTC": "0", "ETH": "3137909428.88369702"}, published_at="https://example.org/por"))
    for bad in (
        totals_doc({"BTC": "1.50"}),
        totals_doc({"btc": "1"}),
        {**totals_doc(TOTALS), "root": "00"},
        totals_doc({}),
        {"format": "por-totals", "totals": TOTALS},
    ):
        assert not validator.is_valid(bad), bad
