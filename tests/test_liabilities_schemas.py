"""The documented schemas (docs/formats/) describe what `por publish` and `por prove` really write.

Real documents are generated and validated; tampered ones are refused; and
no proof the parser accepts is refused by the schema (the schema is never
stricter than the code it documents).
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from fixtures.liabilities import random_liabilities
from fixtures.proof_edits import field_edits
from por.errors import InputError
from por.liabilities.porjson import parse_proof
from por.liabilities.prove import cut_proof
from por.liabilities.publish import publish

FORMATS = Path(__file__).resolve().parent.parent / "docs" / "formats"
NAMES = ["commitment", "inclusion-proof", "tree-header", "secrets"]


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((FORMATS / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.fixture(scope="module")
def publication(tmp_path_factory):
    book = random_liabilities(random.Random(8), 37, 3)
    folder = tmp_path_factory.mktemp("schemas") / "pub"
    publish(book, folder, exchange="Schema Exchange", snapshot_id="2024-06-01", max_pieces=3)
    proofs = [cut_proof(folder, account).to_json() for account in book.account_ids]
    return folder, proofs


@pytest.mark.parametrize("name", NAMES)
def test_schemas_are_valid_draft_2020_12(name):
    validator(name)


def test_real_documents_validate(publication):
    folder, proofs = publication
    validator("commitment").validate(json.loads((folder / "commitment.json").read_text()))
    with open(folder / "tree.bin", "rb") as handle:
        validator("tree-header").validate(json.loads(handle.readline()))
    secrets = validator("secrets")
    lines = (folder / "private" / "secrets.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 38
    for line in lines:
        secrets.validate(json.loads(line))
    proof = validator("inclusion-proof")
    assert any(s.get("padding") for p in proofs for leaf in p["leaves"] for s in leaf["path"])
    assert any(len(p["leaves"]) > 1 for p in proofs)
    for doc in proofs:
        proof.validate(doc)


@pytest.mark.parametrize(
    "name, edit",
    [
        ("commitment", lambda d: d.update(root=d["root"].upper())),
        ("commitment", lambda d: d["totals"].update(BTC="-1")),
        ("commitment", lambda d: d["totals"].update(BTC="1.50")),
        ("commitment", lambda d: d.update(height=0)),
        ("commitment", lambda d: d.pop("totals")),
        ("commitment", lambda d: d["tree"].update(extra=1)),
        ("inclusion-proof", lambda d: d.update(nonce="00" * 31)),
        ("inclusion-proof", lambda d: d["leaves"][0]["path"][0].update(padding=False)),
        ("inclusion-proof", lambda d: d.update(leaves=[])),
        ("inclusion-proof", lambda d: d["root"].update(sums={"BTC": 1})),
        ("inclusion-proof", lambda d: d.update(comment="x")),
    ],
)
def test_tampered_documents_are_refused(publication, name, edit):
    folder, proofs = publication
    doc = (
        copy.deepcopy(proofs[0]) if name == "inclusion-proof" else json.loads((folder / "commitment.json").read_text())
    )
    doc["totals" if name == "commitment" else "balances"].setdefault("BTC", "1")
    edit(doc)
    assert not validator(name).is_valid(doc)


def test_schema_accepts_every_proof_the_parser_accepts(publication):
    _, proofs = publication
    schema = validator("inclusion-proof")
    checked = 0
    doc = max(proofs, key=lambda p: len(p["leaves"]))
    for n, (label, edited) in enumerate(field_edits(doc)):
        if n % 4 and "padding" not in label and "drop" not in label:
            continue  # a sample: jsonschema is slow
        try:
            parse_proof(copy.deepcopy(edited), "p")
        except InputError:
            continue
        assert schema.is_valid(edited), f"schema stricter than the parser: {label}"
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("version", [2, 1])
def test_frozen_vectors_validate_in_both_formats(version):
    """The schemas describe format 2 and the legacy format 1 (fixtures/vectors)."""
    from fixtures.vectors import SETS, load_vectors

    folder, vectors = SETS[version], load_vectors(version)
    validator("commitment").validate(json.loads((folder / "commitment.json").read_text()))
    with open(folder / "tree.bin", "rb") as handle:
        validator("tree-header").validate(json.loads(handle.readline()))
    for name in vectors["files"]["proofs"].values():
        doc = json.loads((folder / name).read_text())
        validator("inclusion-proof").validate(doc)
        doc["version"] = 3 - version  # the other format's fields are refused
        assert not validator("inclusion-proof").is_valid(doc)
