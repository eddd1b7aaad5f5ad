"""docs/formats/wallets.md holds: its worked examples verify, `--json` matches its schema, every label is enforced.

Labels: the scheme (a BIP-137 signature under bip322 is refused: test_bitcoin_proofs), the exchange
and the snapshot id (every source must agree: exit 2), duplicates (every declaration flagged with all
positions), and the whole-yen rounding of the `total_jpy` cold-storage requirement (docs/policies.md).
"""

import json
import re
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import jsonschema
import pytest

from chains import family_module
from chains.base import Call, MockAdapter, adapter_factory
from chains.records import AddressReserve, ChainSnapshot, OwnershipResult, Snapshot, ownership_message
from fixtures.liabilities import run_por
from por.audit.policy import ColdStorageRule
from por.audit.rules import cold_total_jpy_check
from por.errors import InputError
from por.reserves.inputs import load_declaration, settle_exchange
from por.reserves.okx_addresses import check_okx_file
from por.reserves.read import flag_duplicates, read_reserves

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "formats" / "wallets.md"
SCHEMA = json.loads((ROOT / "docs" / "formats" / "reserves.schema.json").read_text())
CHAINS = {
    "bitcoin": {"family": "bitcoin", "network": "bitcoin", "node_rpc": ["http://127.0.0.1:9"], "min_confirmations": 1},
    "ethereum": {
        "family": "evm",
        "chain_id": 1,
        "rpc": ["http://127.0.0.1:9"],
        "native_asset": "ETH",
        "min_confirmations": 1,
    },
}


def example_file(tmp_path) -> Path:
    blocks = re.findall(r"```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "wallets.md carries exactly one example wallets file"
    path = tmp_path / "wallets.json"
    path.write_text(blocks[0], encoding="utf-8")
    return path


def test_every_worked_example_verifies_and_covers_every_scheme(tmp_path):
    declaration = load_declaration(example_file(tmp_path))
    assert declaration.exchange == "Example Exchange" and declaration.snapshot_id == "2026-06-30"
    kinds = set()
    for wallet in declaration.wallets:
        config = CHAINS[wallet.chain]
        expected = ownership_message(declaration.snapshot_id, declaration.exchange, wallet.address)
        result = family_module(config["family"]).verify_ownership(wallet, expected, config)
        assert result.ok, (wallet.address, result.reason)
        kinds.add((wallet.scheme.value, wallet.address[:4], len(wallet.signatures), wallet.signatures[0][:3]))
        other = ownership_message(declaration.snapshot_id, "Another Exchange", wallet.address)
        assert not family_module(config["family"]).verify_ownership(wallet, other, config).ok
    schemes = {k[0] for k in kinds}
    assert schemes == {"eip191", "bip137", "bip322"}
    assert {k[3] for k in kinds if k[1] == "bc1p"} == {"smp", "ful"}  # P2TR simple and full
    assert any(k[0] == "bip137" and k[2] == 2 for k in kinds)  # multisig, one signature per key
    assert any(
        k[0] == "bip322" and k[1].startswith("bc1q") and k[2] == 1 and len(w.address) == 62
        for k in kinds
        for w in declaration.wallets
        if w.address.startswith(k[1])
    )


def test_the_example_table_numbers_every_example(tmp_path):
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \|", DOC.read_text(encoding="utf-8"), re.M)
    declaration = load_declaration(example_file(tmp_path))
    assert [(int(n), s) for n, s in rows] == [(i, w.scheme.value) for i, w in enumerate(declaration.wallets)]


# --- por reserves --json: the schema ---------------------------------------------------------------------------
async def test_reserves_json_matches_its_schema(tmp_path):
    declaration = load_declaration(example_file(tmp_path))
    snapshot = Snapshot("2026-06-30", {c: ChainSnapshot(c, 10, "ab" * 32) for c in CHAINS})
    address = "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs"  # witness v2: valid, not checkable yet
    future = replace(
        declaration.wallets[1],
        address=address,
        source="w.json#future",
        message=ownership_message("2026-06-30", "Example Exchange", address),
    )

    def chain(call: Call):
        return {"tip_height": 20, "block_hash": "ab" * 32}.get(call.method) or [7 * 10**8] * len(call.queries)

    report = await read_reserves(
        [*declaration.wallets, future],
        snapshot,
        CHAINS,
        "Example Exchange",
        make_adapter=adapter_factory(MockAdapter(chain)),
    )
    flag_duplicates(report.rows)
    doc = report.to_json()
    jsonschema.validate(doc, SCHEMA)
    assert doc["verified"] and doc["unsupported"] == 1 and doc["addresses"][-1]["balance"] is None
    assert doc["addresses"][-1]["ownership"]["status"] == "unsupported"
    for name in ("okx_por_example.csv", "okx_por_staking_example.csv"):
        jsonschema.validate(check_okx_file(ROOT / "fixtures" / "conformance" / "okx" / name).to_json(), SCHEMA)


# --- labels ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "option, stated, committed, agreed",
    [
        (None, "A", None, "A"),
        ("A", "A", "A", "A"),
        ("A", None, None, "A"),
        (None, None, "A", "A"),
        ("B", "A", None, None),
        ("B", None, "A", None),
        (None, "A", "B", None),
        ("A", "A", "B", None),
    ],
)
def test_every_exchange_label_must_agree(option, stated, committed, agreed):
    if agreed is not None:
        assert settle_exchange(option, stated, committed, "w.json") == agreed
        return
    with pytest.raises(InputError) as err:
        settle_exchange(option, stated, committed, "w.json")
    assert "exchange names disagree" in err.value.reason and err.value.field == "--exchange"
    for name in {option, stated, committed} - {None}:
        assert repr(name) in err.value.reason


def test_por_reserves_refuses_mismatched_labels_before_reading_any_chain(tmp_path):
    wallets = example_file(tmp_path)
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(
        json.dumps(
            {"snapshot_id": "2026-06-30", "chains": {c: {"height": 10, "block_hash": "ab" * 32} for c in CHAINS}}
        )
    )
    config = tmp_path / "chains.toml"
    config.write_text(
        '[chains.bitcoin]\nfamily = "bitcoin"\nnetwork = "bitcoin"\nnode_rpc = ["http://127.0.0.1:9"]\n'
        '[chains.ethereum]\nfamily = "evm"\nchain_id = 1\nrpc = ["http://127.0.0.1:9"]\n'
    )
    args = ["reserves", wallets, "--snapshot", snapshot, "--config", config]
    code, _, err = run_por(*args, "--exchange", "Another Exchange")
    assert code == 2 and "exchange names disagree" in err and "'Example Exchange'" in err
    other = json.loads(snapshot.read_text()) | {"snapshot_id": "2026-07-31"}
    snapshot.write_text(json.dumps(other))
    code, _, err = run_por(*args)
    assert code == 2 and "declares snapshot '2026-06-30'" in err and "'2026-07-31'" in err


def test_por_audit_refuses_another_exchanges_commitment(tmp_path):
    customers = tmp_path / "customers.csv"
    customers.write_text("account_id,asset,amount\nalice,BTC,1\n")
    assert (
        run_por(
            "publish", customers, "--exchange", "Exchange A", "--snapshot-id", "2026-06-30", "--out", tmp_path / "out"
        )[0]
        == 0
    )
    wallets = tmp_path / "w.json"
    wallets.write_text(example_file(tmp_path).read_text())
    code, _, err = run_por(
        "audit",
        "--commitment",
        tmp_path / "out" / "commitment.json",
        "--wallets",
        wallets,
        "--snapshot",
        tmp_path / "none.json",
        "--config",
        tmp_path / "none.toml",
        "--policy",
        "full-reserve",
        "--exchange",
        "Exchange B",
    )
    assert code == 2 and "exchange names disagree" in err and "the commitment says 'Exchange A'" in err


def test_every_duplicate_declaration_is_flagged_with_all_positions(tmp_path):
    wallet = load_declaration(example_file(tmp_path)).wallets[1]
    rows = [AddressReserve(replace(wallet, source=f"w.csv:{n}"), OwnershipResult(True, "ok"), 1) for n in (2, 5, 9)]
    flag_duplicates(rows)
    assert [r.flags for r in rows] == [
        ["declared 3 times (also at w.csv:5, w.csv:9); counted at most once"],
        ["declared 3 times (also at w.csv:2, w.csv:9); counted at most once"],
        ["declared 3 times (also at w.csv:2, w.csv:5); counted at most once"],
    ]


def test_the_total_jpy_cold_requirement_is_rounded_up_to_a_whole_yen():
    rule = ColdStorageRule(Decimal("0.95"), "total_jpy")
    # 1001 yen of customer crypto: 95% is 950.95 yen, so 951 yen are required, and 950.95 is short.
    exact = cold_total_jpy_check(rule, [(100100, 95095, Fraction(1, 100))])
    assert exact.required == "951" and exact.actual == "950.95" and not exact.ok
    assert cold_total_jpy_check(rule, [(100100, 95100, Fraction(1, 100))]).ok  # 951 yen: met
