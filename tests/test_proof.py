"""Inclusion proofs: every customer's proof verifies, and no edited proof does.

Edits are made to the parsed JSON document, one field at a time, for every
field a proof has (each hex digit of each hash, the nonce, every amount,
index, piece, height, padding flag, id, leaf count, root); each must be
refused by parsing (InputError) or by verification against the commitment.
"""

from __future__ import annotations

import copy
import json
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chains.eip191 import recover_text_signer
from fixtures.liabilities import random_liabilities
from fixtures.proof_edits import field_edits
from fixtures.vectors import SETS, load_vectors, publication_inputs
from por.amounts import MAX_UNITS, Asset, format_amount
from por.errors import InputError
from por.liabilities.book import Liabilities
from por.liabilities.check import verify_proof_document
from por.liabilities.inclusion import verify_inclusion
from por.liabilities.porjson import Commitment, dumps, parse_commitment, parse_proof, value_difference
from por.liabilities.prove import cut_proof
from por.liabilities.publish import publish
from por.strictjson import load_file, loads

SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def publish_to(folder: Path, book: Liabilities, split: int = 1, snapshot: str = "snap-1") -> Commitment:
    publish(
        book,
        folder,
        exchange="test-exchange",
        snapshot_id=snapshot,
        snapshot_time="2024-01-01T00:00:00Z",
        max_pieces=split,
    )
    return parse_commitment(load_file(folder / "commitment.json"), "commitment.json")


def accepted(doc: dict[str, Any], commitment: Commitment) -> bool:
    try:
        proof = parse_proof(copy.deepcopy(doc), "proof.json")
    except InputError:
        return False
    return verify_inclusion(proof, commitment=commitment).ok


def assert_every_edit_refused(doc: dict[str, Any], commitment: Commitment) -> int:
    assert accepted(doc, commitment)
    count = 0
    for label, edited in field_edits(doc):
        if edited == doc:
            continue
        assert not accepted(edited, commitment), f"edit accepted: {label}"
        count += 1
    return count


# --- properties -----------------------------------------------------------------------


@SETTINGS
@given(seed=st.integers(0, 2**32), accounts=st.integers(1, 300), assets=st.integers(1, 4), split=st.integers(1, 4))
def test_every_account_verifies_with_its_exact_balances(seed, accounts, assets, split):
    book = random_liabilities(random.Random(seed), accounts, assets)
    with tempfile.TemporaryDirectory() as tmp:
        commitment = publish_to(Path(tmp) / "pub", book, split)
        assert commitment.totals == book.totals
        for i, account in enumerate(book.account_ids):
            proof = cut_proof(Path(tmp) / "pub", account)
            text = dumps(proof.to_json())
            value = loads(text, "p")
            parsed = parse_proof(value, "p")  # what a customer receives
            assert value_difference(value, parsed) is None
            verdict = verify_inclusion(parsed, commitment=commitment)
            assert verdict.ok, (account, verdict.reasons)
            assert verify_inclusion(parsed, root=commitment.root).ok
            expected = {a.symbol: format_amount(book.columns[k][i], a.decimals) for k, a in enumerate(book.assets)}
            assert verdict.facts["balances"] == expected
            assert 1 <= len(parsed.leaves) <= split


@SETTINGS
@given(
    seed=st.integers(0, 2**32),
    accounts=st.integers(1, 300),
    assets=st.integers(1, 4),
    split=st.integers(1, 4),
    pick=st.integers(0, 10**6),
)
def test_any_edit_to_any_field_of_a_proof_is_refused(seed, accounts, assets, split, pick):
    book = random_liabilities(random.Random(seed), accounts, assets)
    with tempfile.TemporaryDirectory() as tmp:
        commitment = publish_to(Path(tmp) / "pub", book, split)
        doc = cut_proof(Path(tmp) / "pub", book.account_ids[pick % accounts]).to_json()
        assert assert_every_edit_refused(doc, commitment) > 64 * 3


# --- targeted attacks -------------------------------------------------------------------


@pytest.fixture(scope="module")
def publication(tmp_path_factory):
    """9 accounts split over up to 3 leaves, and a second, unrelated tree."""
    tmp = tmp_path_factory.mktemp("proofs")
    book = random_liabilities(random.Random(21), 9, 2, zero_share=0)
    commitment = publish_to(tmp / "a", book, split=3)
    other = publish_to(tmp / "b", book, split=3)
    return tmp, book, commitment, other


def doc_of(publication, account: int = 0) -> dict[str, Any]:
    tmp, book, _, _ = publication
    return cut_proof(tmp / "a", book.account_ids[account]).to_json()


def reasons(doc: dict[str, Any], commitment: Commitment | None = None, root: bytes | None = None) -> str:
    verdict = verify_inclusion(parse_proof(doc, "p"), commitment=commitment, root=root)
    assert not verdict.ok
    return " | ".join(verdict.reasons)


def first_step(doc, padding: bool):
    for leaf in doc["leaves"]:
        for step in leaf["path"]:
            if bool(step.get("padding")) == padding:
                return leaf, step
    raise AssertionError("no such step")


def multi_piece_doc(publication) -> dict[str, Any]:
    for account in range(9):
        doc = doc_of(publication, account)
        if len(doc["leaves"]) > 1:
            return doc
    raise AssertionError("no split account")


def test_sibling_sum_that_overflows_is_refused(publication):
    doc = doc_of(publication)
    _, step = first_step(doc, padding=False)
    symbol = next(iter(step["sums"]))
    decimals = {a["symbol"]: a["decimals"] for a in doc["assets"]}[symbol]
    step["sums"][symbol] = format_amount(MAX_UNITS, decimals)
    assert "exceeds 2^128-1" in reasons(doc, publication[2])


def test_sibling_that_understates_its_sum_is_refused(publication):
    """Hu, Zhang and Guo: a sibling reporting less than its hash commits to."""
    doc = doc_of(publication)
    _, step = first_step(doc, padding=False)
    step["sums"] = {k: "0" for k in step["sums"]}
    assert "does not recompute the root" in reasons(doc, publication[2])


@pytest.fixture(scope="module")
def padded_publication(tmp_path_factory):
    """9 accounts, one leaf each: 9 leaves, so the leaf level always ends in a padding node."""
    tmp = tmp_path_factory.mktemp("padded")
    book = random_liabilities(random.Random(22), 9, 2, zero_share=0)
    return tmp, book, publish_to(tmp / "a", book, split=1), None


@pytest.mark.parametrize("forgery", ["hash", "sums", "unmarked"])
def test_padding_sibling_is_checked(padded_publication, forgery):
    publication = padded_publication
    docs = [doc_of(publication, account) for account in range(9)]
    doc = next(d for d in docs if any(s.get("padding") for leaf in d["leaves"] for s in leaf["path"]))
    _, step = first_step(doc, padding=True)
    if forgery == "hash":
        step["hash"] = "00" * 32
    elif forgery == "sums":
        step["sums"] = {k: "1" for k in step["sums"]}
    else:
        del step["padding"]
    expected = "must be padding" if forgery == "unmarked" else "malformed padding"
    assert expected in reasons(doc, publication[2])


def test_real_sibling_cannot_be_called_padding(publication):
    doc = doc_of(publication)
    _, step = first_step(doc, padding=False)
    step["padding"] = True
    assert "must not be padding" in reasons(doc, publication[2])


def test_proof_from_another_tree_is_refused(publication):
    _, _, commitment, other = publication
    doc = doc_of(publication)
    assert verify_inclusion(parse_proof(doc, "p"), commitment=commitment).ok
    assert "is not the commitment's root" in reasons(doc, other)
    assert "is not the pinned root" in reasons(doc, root=other.root)


def test_another_customers_id_does_not_fit_the_leaf(publication):
    doc = doc_of(publication)
    doc["account_id"] = publication[1].account_ids[1]
    assert "does not recompute the root" in reasons(doc, publication[2])


def test_split_pieces_cannot_be_renumbered_or_repeated(publication):
    doc = multi_piece_doc(publication)
    first, second = doc["leaves"][0], doc["leaves"][1]
    first["piece"], second["piece"] = second["piece"], first["piece"]
    assert "does not recompute the root" in reasons(doc, publication[2])
    doc = multi_piece_doc(publication)
    doc["leaves"][1]["index"] = doc["leaves"][0]["index"]
    assert "same leaf index" in reasons(doc, publication[2])


def test_index_beyond_the_tree_is_refused(publication):
    doc = doc_of(publication)
    doc["leaves"][0]["index"] = doc["leaf_count"]
    assert "beyond" in reasons(doc, publication[2])


@pytest.mark.parametrize("text", ["-1", "1e-8", "+1", "1.0", "01", ".5", "1.", " 1", "0x1", "１"])
def test_ambiguous_or_negative_numbers_are_not_amounts(publication, text):
    doc = doc_of(publication)
    symbol = doc["assets"][0]["symbol"]
    doc["leaves"][0]["path"][0]["sums"][symbol] = text
    with pytest.raises(InputError, match=r"leaves\[0\]\.path\[0\]\.sums"):
        parse_proof(doc, "p")


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(extra=1),
        lambda d: d["leaves"][0].update(balances=[]),
        lambda d: d.update(leaf_count=True),
        lambda d: d.update(leaves=[]),
        lambda d: d["root"].update(hash="AB" * 32),
        lambda d: d.update(account_id="\ud800"),
        lambda d: d["assets"].reverse(),
    ],
)
def test_malformed_documents_are_input_errors_naming_the_field(publication, edit):
    doc = doc_of(publication)
    edit(doc)
    with pytest.raises(InputError):
        parse_proof(doc, "p")


def layouts(doc: dict[str, Any]) -> list[bytes]:
    """The same value saved as editors and tools save it: other indentation, CRLF, a byte
    order mark, keys in another order, ASCII escapes, no final newline, all on one line."""
    text = dumps(doc)
    return [
        text.encode(),
        text.replace("\n", "\r\n").encode(),
        b"\xef\xbb\xbf" + text.encode(),
        json.dumps(doc, indent=4, sort_keys=True, ensure_ascii=True).encode(),
        text.rstrip("\n").encode(),
        json.dumps(doc, separators=(",", ":")).encode(),
        text.replace("  ", "\t").encode(),
        b"\xef\xbb\xbf"
        + json.dumps(dict(reversed(list(doc.items()))), indent=1).replace("\n", "\r\n").encode()
        + b"\r\n\r\n",
    ]


def test_the_layout_is_not_the_proof_the_value_is(publication):
    """A proof re-saved (CRLF, BOM, re-indented, keys reordered) is the same proof."""
    commitment = publication[2]
    doc = doc_of(publication)
    for raw in layouts(doc):
        value = loads(raw, "p")
        assert value == doc and value_difference(value, parse_proof(value, "p")) is None
        verdict = verify_proof_document("por", raw, Path("p.json"), commitment, None, None)
        assert verdict.ok and verdict.verified, (raw[:80], verdict.reasons)


@pytest.mark.parametrize(
    "text, reason",
    [
        ('{"index": -0}', "-0 is not a canonical integer"),
        ('{"a": 1, "a": 1}', "duplicate key 'a'"),
        ('{"a": NaN}', "NaN is not allowed"),
        ('{"a": 1}\n{"a": 1}', "invalid JSON"),
        ('\ufeff\ufeff{"a": 1}', "invalid JSON"),  # one byte order mark, not two
        ('{"a": 1e400}', "number 1e400 is out of range"),
    ],
)
def test_strict_reading_refuses_a_value_spelled_two_ways(text, reason):
    with pytest.raises(InputError, match=reason):
        loads(text.encode(), "p")


def test_a_bad_byte_is_named_by_its_offset_in_the_file():
    with pytest.raises(InputError, match=r"not UTF-8 text \(byte 10\)"):
        loads(b'\xef\xbb\xbf{"a": "\xff"}', "p")


def test_a_value_not_spelled_as_por_spells_it_is_named(publication):
    """What the parser would accept but por never writes is named by its field."""
    doc = doc_of(publication)
    proof = parse_proof(doc, "p")
    edited = copy.deepcopy(doc)
    edited["leaves"][0]["path"][0]["hash"] = "x"
    assert (
        value_difference(edited, proof) == "leaves[0].path[0].hash: 'x' is not how por writes this value "
        f"({doc['leaves'][0]['path'][0]['hash'][:40]!r})"
    )
    edited = {**doc, "extra": 1}
    assert value_difference(edited, proof) == "extra: not a member of this proof"
    assert value_difference({**doc, "leaf_count": True}, proof).startswith("leaf_count: ")


@pytest.mark.parametrize("pinned", ["commitment", "root"])
def test_dropping_an_empty_last_piece_is_refused(tmp_path, pinned):
    """A piece holding nothing, left out of a proof, does not change the balance shown; in format 1 it
    still verified. Format 2 binds the piece count into every leaf, so every leaf of the shorter proof
    recomputes to another hash."""
    book = Liabilities(assets=[Asset("BTC", 8)], account_ids=["a", "b"], columns=[[0, 5]])
    for attempt in range(50):  # the number of pieces is random
        folder = tmp_path / f"pub{attempt}"
        commitment = publish_to(folder, book, split=8)
        doc = cut_proof(folder, "a").to_json()
        if len(doc["leaves"]) > 1:
            break
    if not (len(doc["leaves"]) > 1 and accepted(doc, commitment)):
        pytest.fail("precondition: a verifying proof with several pieces")  # not the expected failure
    del doc["leaves"][-1]
    pins = {"commitment": commitment} if pinned == "commitment" else {"root": commitment.root}
    verdict = verify_inclusion(parse_proof(doc, "p"), **pins)
    assert not verdict.ok and all("does not recompute the root" in r for r in verdict.reasons), verdict.reasons


def test_dropping_a_last_piece_with_money_is_refused(publication):
    doc = multi_piece_doc(publication)
    dropped = doc["leaves"].pop()
    decimals = {a["symbol"]: a["decimals"] for a in doc["assets"]}
    from por.amounts import parse_amount

    doc["balances"] = {
        k: format_amount(parse_amount(v, decimals[k]) - parse_amount(dropped["balances"][k], decimals[k]), decimals[k])
        for k, v in doc["balances"].items()
    }
    assert "does not recompute the root" in reasons(doc, root=publication[2].root)


def test_ids_that_json_must_escape_are_proved(tmp_path):
    ids = ['quote"d', "back\\slash", "tab\there", "客户-ü", "plain"]
    book = Liabilities(assets=[Asset("BTC", 8)], account_ids=ids, columns=[[1, 2, 3, 4, 5]])
    commitment = publish_to(tmp_path / "pub", book, split=2)
    for i, account in enumerate(ids):
        proof = cut_proof(tmp_path / "pub", account)
        assert proof.account_id == account and proof.balances() == [i + 1]
        assert verify_inclusion(proof, commitment=commitment).ok


# --- frozen known-answer vectors (fixtures/vectors) ----------------------------------


def _verdict(version: int, name: str, **pins):
    from por.liabilities.check import verify_proof_document

    raw = (SETS[version] / name).read_bytes()
    return verify_proof_document("por", raw, Path(name), pins.get("commitment"), pins.get("root"), None)


def test_frozen_proofs_are_what_prove_cuts_and_verify(tmp_path):
    vectors = load_vectors(2)
    book, shuffle, labels = publication_inputs(vectors)
    publish(book, tmp_path / "pub", shuffle=shuffle, **labels)
    commitment = parse_commitment(load_file(SETS[2] / "commitment.json"), "commitment.json")
    for account, name in vectors["files"]["proofs"].items():
        assert dumps(cut_proof(tmp_path / "pub", account).to_json()) == (SETS[2] / name).read_text(encoding="utf-8")
        for pins in ({"commitment": commitment}, {"root": bytes.fromhex(vectors["root"]["digest"])}):
            verdict = _verdict(2, name, **pins)
            assert verdict.state == "verified" and verdict.reasons == [], verdict.reasons
        nothing = _verdict(2, name)
        assert nothing.state == "self-consistent" and nothing.reasons == [
            "self-consistent, but nothing to compare it with: no published commitment or root was given"
        ]
    bob = json.loads((SETS[2] / vectors["files"]["proofs"]["bob-ü"]).read_text())
    assert [leaf["piece"] for leaf in bob["leaves"]] == [0, 1, 2]
    assert all(v == "0" for v in bob["leaves"][-1]["balances"].values())  # the empty last piece
    from por import signing

    doc = json.loads((SETS[2] / "commitment.json").read_text())
    address = signing.normalise_address(vectors["signing_key"]["address"])
    assert signing.check(doc, address, recover_text_signer).state == "verified"


def test_frozen_legacy_proofs_still_read_and_say_so():
    """Format 1: with its commitment it verifies, labelled legacy; its root alone binds no label: not verified."""
    vectors = load_vectors(1)
    commitment = parse_commitment(load_file(SETS[1] / "commitment.json"), "commitment.json")
    root = bytes.fromhex(vectors["root"]["digest"])
    for name in vectors["files"]["proofs"].values():
        verdict = _verdict(1, name, commitment=commitment)
        assert verdict.state == "verified" and "legacy: labels not bound" in verdict.facts["notes"]
        alone = _verdict(1, name, root=root)
        assert alone.state == "self-consistent" and alone.reasons == [
            "self-consistent, but nothing to compare it with: the root of a por format 1 (legacy) document does not "
            "bind the asset labels, snapshot id or leaf count, so a pinned root alone anchors nothing: give the "
            "published commitment, or the published totals beside the root"
        ]
        assert _verdict(1, name).state == "self-consistent"
    v2 = parse_commitment(load_file(SETS[2] / "commitment.json"), "c")
    mixed = _verdict(1, vectors["files"]["proofs"]["carol"], commitment=v2)
    assert mixed.state == "failed" and "format version 1 differs from the commitment's 2" in mixed.reasons


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["assets"][0].update(decimals=1),  # BTC counted in tenths
        lambda d: [a.update(symbol={"BTC": "BTX", "ETH": "ETH", "USDT": "USDT"}[a["symbol"]]) for a in d["assets"]],
        lambda d: d.update(snapshot_id="2026-07-31"),
        lambda d: d.update(exchange="Another Exchange"),
        lambda d: d.update(snapshot_time="2026-06-30T23:59:58Z"),
    ],
)
def test_a_bare_root_binds_every_label(edit):
    """Format 1 bound amounts by position only: a relabelled proof verified under a bare --root."""
    vectors = load_vectors(2)
    doc = json.loads((SETS[2] / vectors["files"]["proofs"]["carol"]).read_text())
    _respell(doc)
    root = bytes.fromhex(vectors["root"]["digest"])
    assert verify_inclusion(parse_proof(doc, "p"), root=root).ok  # respelling alone changes nothing
    edit(doc)
    _respell(doc)
    verdict = verify_inclusion(parse_proof(doc, "p"), root=root)
    assert not verdict.ok and "path does not recompute the root" in verdict.reasons[0], verdict.reasons


def _respell(doc: dict[str, Any]) -> None:
    """Rewrites every amount under the document's (edited) asset labels, keeping the base units."""
    original = {"BTC": 8, "ETH": 18, "USDT": 6, "BTX": 8}
    from por.amounts import parse_amount

    def fix(sums):
        out = {}
        for asset, (symbol, text) in zip(doc["assets"], list(sums.items())):
            units = parse_amount(text, original[symbol] if symbol in original else asset["decimals"])
            out[asset["symbol"]] = format_amount(units, asset["decimals"])
        return out

    doc["balances"] = fix(doc["balances"])
    doc["root"]["sums"] = fix(doc["root"]["sums"])
    for leaf in doc["leaves"]:
        leaf["balances"] = fix(leaf["balances"])
        for step in leaf["path"]:
            step["sums"] = fix(step["sums"])
