"""Proofs cut after anchoring carry anchor.json as their `anchor`, and a verifier names it as a claim.

`prove DIR ID`, `prove DIR A B …` and `prove --all` all carry the same value. The root binds none
of it: `verify-inclusion` reports "anchor claimed … not checked" without `--anchor`, and never
counts it as what the verdict is anchored to (a proof alone stays self-consistent). The anchor is
recorded here by hand (the chains are in tests/test_anchor.py and tests/test_anchor_bitcoin.py).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from fixtures.liabilities import random_liabilities
from por.liabilities.porjson import parse_anchor, parse_proof
from por.liabilities.prove import cut_proof
from por.liabilities.publish import publish
from por.signing import digest_hex

BITCOIN = {
    "format": "por-anchor",
    "version": 1,
    "chain": "btc",
    "address": "rb1qnjeyhtt7q44h3kn4gruq0f8dty3yf9gryacund",
    "snapshot_id": "2025-06",
    "digest": "",
    "transaction": "ab" * 32,
    "block": 545,
    "block_hash": "cd" * 32,
    "exchange": "Acme",
}
EVM = {
    "format": "por-anchor",
    "version": 1,
    "chain": "hardhat",
    "registry": "0x" + "12" * 20,
    "exchange": "0x" + "34" * 20,
    "snapshot_id": "2025-06",
    "digest": "",
    "transaction": "0x" + "ef" * 32,
    "block": 12,
    "block_hash": "0x" + "56" * 32,
}


SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "docs/formats/inclusion-proof.schema.json").read_text())


def validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(SCHEMA)
    return Draft202012Validator(SCHEMA)


def por(*args):
    return subprocess.run(
        [sys.executable, "-m", "por", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )


@pytest.fixture(scope="module", params=["bitcoin", "evm"])
def anchored(request, tmp_path_factory):
    book = random_liabilities(random.Random(17), 23, 2)
    folder = tmp_path_factory.mktemp("carried") / "pub"
    publish(book, folder, exchange="Acme", snapshot_id="2025-06", max_pieces=2)
    doc = json.loads((folder / "commitment.json").read_text())
    anchor = dict(BITCOIN if request.param == "bitcoin" else EVM, digest=digest_hex(doc))
    (folder / "anchor.json").write_text(json.dumps(anchor, indent=2) + "\n")
    return folder, book.account_ids, anchor


def test_every_way_of_cutting_a_proof_carries_the_anchor(anchored, tmp_path):
    folder, ids, anchor = anchored
    one = json.loads(por("prove", folder, ids[0]).stdout)
    assert one["anchor"] == anchor and list(one)[-1] == "anchor"
    validator().validate(one)
    lines = por("prove", folder, ids[0], ids[1]).stdout.splitlines()
    assert [json.loads(line)["anchor"] for line in lines] == [anchor, anchor]
    done = por("prove", folder, "--all", "--out-dir", tmp_path / "all", "-q")
    assert done.returncode == 0, done.stderr
    shards = [
        json.loads(line) for f in sorted((tmp_path / "all").glob("*.jsonl")) for line in f.read_text().splitlines()
    ]
    assert len(shards) == len(ids) and all(p["anchor"] == anchor for p in shards)
    by_id = {p["account_id"]: p for p in shards}
    assert by_id[ids[0]] == one  # the streaming writer spells the same document
    assert parse_proof(one, "proof").anchor == anchor
    done = por("verify-inclusion", "--batch", tmp_path / "all", "--commitment", folder / "commitment.json")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_carried_anchor_is_named_as_a_claim_and_never_anchors_the_verdict(anchored, tmp_path):
    folder, ids, anchor = anchored
    proof = tmp_path / "p.json"
    proof.write_text(por("prove", folder, ids[0]).stdout)
    done = por("verify-inclusion", proof, "--commitment", folder / "commitment.json", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    facts = json.loads(done.stdout)
    assert facts["anchor_claimed"] == anchor
    claimed = f"anchor claimed: {anchor['chain']}, transaction {anchor['transaction']}"
    assert any(claimed in n and "not checked" in n for n in facts["notes"])
    done = por("verify-inclusion", proof)  # the proof alone: its anchor is no pin
    assert done.returncode == 1 and "self-consistent" in done.stdout.lower(), done.stdout
    bare = json.loads(proof.read_text())
    bare.pop("anchor")
    proof.write_text(json.dumps(bare))
    done = por("verify-inclusion", proof, "--commitment", folder / "commitment.json", "--json")
    assert done.returncode == 0 and "anchor_claimed" not in json.loads(done.stdout)


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda a: a.update(format="other"), "format"),
        (lambda a: a.update(surprise=1), "surprise"),
        (lambda a: a.update(digest="AB" * 32), "digest"),
        (lambda a: a.update(transaction="xyz"), "transaction"),
        (lambda a: a.update(block=-1), "block"),
        (lambda a: a.update(registry="0x" + "12" * 20, address="rb1q"), "registry"),
    ],
)
def test_a_malformed_carried_anchor_makes_the_proof_defective(anchored, tmp_path, edit, field):
    folder, ids, _ = anchored
    doc = json.loads(por("prove", folder, ids[0]).stdout)
    edit(doc["anchor"])
    proof = tmp_path / "p.json"
    proof.write_text(json.dumps(doc))
    done = por("verify-inclusion", proof, "--commitment", folder / "commitment.json")
    assert done.returncode == 1 and f"anchor.{field}" in done.stdout, done.stdout + done.stderr
    assert not validator().is_valid(doc)


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda a: a.update(digest="ab" * 32), "not the pinned commitment's"),
        (lambda a: a.update(snapshot_id="2025-07"), "not the proof's '2025-06'"),
    ],
)
def test_a_carried_anchor_of_another_commitment_or_period_fails(anchored, tmp_path, edit, words):
    """Well formed, but naming another commitment than the one pinned (or another period): the exchange
    contradicts itself, so the verdict fails before any chain is read."""
    folder, ids, _ = anchored
    doc = json.loads(por("prove", folder, ids[0]).stdout)
    edit(doc["anchor"])
    proof = tmp_path / "p.json"
    proof.write_text(json.dumps(doc))
    done = por("verify-inclusion", proof, "--commitment", folder / "commitment.json")
    assert done.returncode == 1 and "NOT VERIFIED" in done.stdout, done.stdout + done.stderr
    assert words in " ".join(done.stdout.split()), done.stdout


def test_a_malformed_anchor_json_stops_prove(tmp_path):
    book = random_liabilities(random.Random(3), 5, 1)
    folder = tmp_path / "pub"
    publish(book, folder, exchange="Acme", snapshot_id="2025-06")
    (folder / "anchor.json").write_text('{"format": "por-anchor", "version": 1}')
    done = por("prove", folder, book.account_ids[0])
    assert done.returncode == 2 and "anchor.json" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(Exception, match="chain"):
        cut_proof(folder, book.account_ids[0])
    assert parse_anchor(dict(EVM, digest="00" * 32), "x")["chain"] == "hardhat"
