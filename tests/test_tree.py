"""The sum tree and the auditors' tree file: built right, and no forged tree verifies.

The fast numpy builder is checked against an independent plain-Python tree
(fixtures/liabilities.py) written from the documented byte layout; forged
trees are rebuilt with that reference so each one carries exactly one defect.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.liabilities import ReferenceTree, padding_node, random_liabilities, read_leaves, sums_bytes
from fixtures.vectors import SETS, load_vectors, publication_inputs
from por.amounts import MAX_UNITS, Asset
from por.errors import InputError
from por.liabilities import levels as L
from por.liabilities import tree as T
from por.liabilities.book import Liabilities
from por.liabilities.porjson import Commitment, parse_commitment
from por.liabilities.publish import build_tree, publish
from por.liabilities.treefile import TreeFile, verify_tree_file
from por.strictjson import load_file

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def publish_to(folder: Path, liabilities: Liabilities, split: int = 1) -> tuple[Path, Commitment]:
    out = folder / "pub"
    publish(
        liabilities,
        out,
        exchange="test-exchange",
        snapshot_id="snap-1",
        snapshot_time="2024-01-01T00:00:00Z",
        max_pieces=split,
    )
    return out, parse_commitment(load_file(out / "commitment.json"), "commitment.json")


def verdict_of(path: Path, commitment: Commitment | None = None):
    """A verdict, or a failed one when the file cannot even be read as a tree."""
    try:
        return verify_tree_file(path, commitment)
    except InputError as exc:
        return type("Refused", (), {"ok": False, "reasons": [str(exc)]})()


# --- shape ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "leaves, sizes",
    [
        (1, [2, 1]),
        (2, [2, 1]),
        (3, [4, 2, 1]),
        (5, [6, 4, 2, 1]),
        (7, [8, 4, 2, 1]),
        (8, [8, 4, 2, 1]),
        (9, [10, 6, 4, 2, 1]),
        (1000, [1000, 500, 250, 126, 64, 32, 16, 8, 4, 2, 1]),
    ],
)
def test_level_sizes_pad_every_odd_level(leaves, sizes):
    assert T.level_sizes(leaves) == sizes
    assert T.tree_height(leaves) == len(sizes) - 1


def test_a_tree_needs_a_leaf():
    with pytest.raises(T.TreeError):
        T.level_sizes(0)


def test_sibling_positions_name_the_padding():
    assert list(T.sibling_positions(4, 5)) == [(0, 5, True), (1, 3, True), (2, 0, False)]
    assert list(T.sibling_positions(0, 1)) == [(0, 1, True)]
    assert [p for _, _, p in T.sibling_positions(6, 8)] == [False, False, False]


# --- encoding and sums -----------------------------------------------------------


@pytest.mark.parametrize("bad", [-1, MAX_UNITS + 1, 1.0, "1"])
def test_sums_refuse_what_the_tree_cannot_hold(bad):
    with pytest.raises(T.TreeError):
        T.encode_sums([0, bad])


def test_sums_are_fixed_width_big_endian():
    assert T.encode_sums([1, MAX_UNITS]) == (1).to_bytes(16, "big") + b"\xff" * 16
    assert T.decode_sums(T.encode_sums([5, 1 << 100])) == [5, 1 << 100]


def test_adding_sums_never_wraps():
    assert T.add_sums([MAX_UNITS - 1, 0], [1, 0]) == [MAX_UNITS, 0]
    with pytest.raises(T.TreeError):
        T.add_sums([MAX_UNITS, 0], [1, 0])


def level_of(sums_rows: list[list[int]], seed: int = 0) -> np.ndarray:
    rng = random.Random(seed)
    raw = b"".join(rng.randbytes(32) + sums_bytes(s) for s in sums_rows)
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(sums_rows), -1).copy()


@pytest.mark.parametrize(
    "left, right, total",
    [
        ((1 << 64) - 1, 1, 1 << 64),  # carry from the low limb
        ((1 << 127), (1 << 127) - 1, MAX_UNITS),  # largest sum that fits
        ((1 << 64) - 1 + (5 << 64), (1 << 64) - 1, (7 << 64) - 2),
    ],
)
def test_vector_sums_carry_between_limbs(left, right, total):
    parents = L.parent_level(level_of([[left, 0], [right, 3]]), 1, 2)
    assert T.Node.from_record(parents[0]).sums == (total, 3)


@pytest.mark.parametrize(
    "left, right",
    [
        (MAX_UNITS, 1),
        (1 << 127, 1 << 127),
        (MAX_UNITS - (1 << 64) + 1, 1 << 64),  # high limb wraps
        (MAX_UNITS, (1 << 64)),  # carry and high wrap
    ],
)
def test_vector_sums_refuse_overflow(left, right):
    with pytest.raises(T.TreeError, match="exceeds"):
        L.parent_level(level_of([[0, left], [0, right]]), 3, 2)


def test_node_kinds_are_domain_separated():
    user = bytes(32)
    sums = T.encode_sums([0])
    leaf = T.leaf_hash(user, 0, 1, sums)
    inner = T.inner_hash(1, user, sums, user, sums)
    header = T.Header(2, "x", "s", "2026-01-01T00:00:00Z", 1, 1, (Asset("BTC", 8),))
    root = T.root_hash(header, user, sums)
    pads = {T.padding_hash(h, i) for h in range(3) for i in range(3)}
    assert len(pads) == 9  # height and index both bound
    assert len({leaf, inner, root, T.legacy_leaf_hash(user, 0, sums)} | pads) == 13
    assert T.inner_hash(1, user, sums, user, sums) != T.inner_hash(2, user, sums, user, sums)
    assert T.leaf_hash(user, 0, 2, sums) != T.leaf_hash(user, 1, 2, sums)
    assert T.leaf_hash(user, 0, 1, sums) != T.leaf_hash(user, 0, 2, sums)  # the piece count is bound


@pytest.mark.parametrize("piece, count", [(1, 1), (0, 0), (5, 3), (0, 2**32)])
def test_a_piece_must_be_one_of_its_count(piece, count):
    with pytest.raises(T.TreeError):
        T.leaf_hash(bytes(32), piece, count, T.encode_sums([0]))


HEADER = T.Header(2, "ex", "2026-06", "2026-06-30T23:59:59Z", 5, 3, (Asset("BTC", 8), Asset("ETH", 18)))


@pytest.mark.parametrize(
    "change",
    [
        {"exchange": "ex2"},
        {"snapshot_id": "2026-07"},
        {"snapshot_time": "2026-06-30T23:59:58Z"},
        {"leaf_count": 6},
        {"height": 4},
        {"assets": (Asset("BTC", 1), Asset("ETH", 18))},
        {"assets": (Asset("BTX", 8), Asset("ETH", 18))},
        {"assets": (Asset("BTC", 8),)},
        {"exchange": "e", "snapshot_id": "x2026-06"},  # a byte moved between texts
    ],
)
def test_the_root_binds_every_label(change):
    sums = T.encode_sums([1, 2])
    other = dataclasses.replace(HEADER, **change)
    assert T.canonical_header(other) != T.canonical_header(HEADER)
    assert T.root_hash(other, bytes(32), sums) != T.root_hash(HEADER, bytes(32), sums)


@pytest.mark.parametrize(
    "text",
    [
        "2026-06-30 23:59:59Z",
        "2026-06-30T23:59:59",
        "2026-06-30T23:59:59+00:00",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-06-30T24:00:00Z",
        "2026-6-30T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "２026-06-30T23:59:59Z",
        "",
    ],
)
def test_a_snapshot_time_has_one_spelling(text):
    with pytest.raises(T.TreeError):
        T.check_snapshot_time(text)
    with pytest.raises(T.TreeError):
        T.canonical_header(dataclasses.replace(HEADER, snapshot_time=text))


# --- the fast builder agrees with the reference ------------------------------------


@SETTINGS
@given(seed=st.integers(0, 2**32), accounts=st.integers(1, 300), assets=st.integers(1, 4))
def test_numpy_levels_equal_the_reference_tree(seed, accounts, assets):
    rng = random.Random(seed)
    leaves = [
        (rng.randbytes(32), [rng.choice([0, 1, (1 << 64) - 1, 1 << 64, rng.getrandbits(100)]) for _ in range(assets)])
        for _ in range(accounts)
    ]
    records = np.frombuffer(b"".join(h + sums_bytes(s) for h, s in leaves), dtype=np.uint8)
    levels = L.build_levels(records.reshape(accounts, -1).copy(), assets)
    reference = ReferenceTree.build(leaves, assets)
    assert [len(level) for level in levels] == T.level_sizes(accounts)
    for fast, slow in zip(levels, reference.levels, strict=True):
        assert fast.tobytes() == b"".join(h + sums_bytes(s) for h, s in slow)


def test_leaf_records_match_scalar_leaf_hash():
    rng = random.Random(3)
    users = np.frombuffer(rng.randbytes(32 * 5), dtype=np.uint8).reshape(5, 32)
    values = [[rng.getrandbits(110) for _ in range(5)] for _ in range(2)]
    limbs = [L.ints_to_limbs(v) for v in values]
    hi = np.stack([h for h, _ in limbs], axis=1)
    lo = np.stack([lo for _, lo in limbs], axis=1)
    records = L.leaf_records(users, np.arange(5), np.arange(5) + 3, hi, lo)
    for i in range(5):
        sums = T.encode_sums([values[0][i], values[1][i]])
        assert bytes(records[i]) == T.leaf_hash(bytes(users[i]), i, i + 3, sums) + sums


def test_built_tree_commits_to_every_account_once():
    rng = random.Random(11)
    book = random_liabilities(rng, 40, 3)
    built = build_tree(book, max_pieces=3)
    indices = [i for pieces in built.leaf_index for i in pieces]
    assert sorted(indices) == list(range(len(indices)))  # every leaf owned once
    root = T.Node.from_record(built.levels[-1][0])
    assert list(root.sums) == book.totals
    assert built.top != build_tree(book, max_pieces=3).top  # fresh nonces, fresh order


# --- the tree file -----------------------------------------------------------------


@SETTINGS
@given(
    seed=st.integers(0, 2**32),
    accounts=st.integers(1, 300),
    assets=st.integers(1, 4),
    split=st.integers(1, 4),
    picks=st.lists(st.integers(0, 2**32), min_size=30, max_size=30),
)
def test_published_tree_verifies_and_any_flipped_byte_is_caught(seed, accounts, assets, split, picks):
    rng = random.Random(seed)
    book = random_liabilities(rng, accounts, assets)
    with tempfile.TemporaryDirectory() as tmp:
        folder, commitment = publish_to(Path(tmp), book, split)
        path = folder / "tree.bin"
        verdict = verify_tree_file(path, commitment)
        assert verdict.ok, verdict.reasons
        assert commitment.totals == book.totals
        head, leaves = read_leaves(path)
        reference = ReferenceTree.build(leaves, assets)  # independent recompute
        assert reference.root(book.assets, "snap-1")[0] == commitment.root
        original = path.read_bytes()
        positions = list(range(len(head)))  # every header byte, and records
        positions += [len(head) + pick % (len(original) - len(head)) for pick in picks]
        forged = folder / "forged.bin"
        for position in positions:
            mask = rng.randint(1, 255)
            raw = bytearray(original)
            raw[position] ^= mask
            forged.write_bytes(bytes(raw))
            assert not verdict_of(forged, commitment).ok, f"byte {position} ^ {mask:#x} verified"
            if position >= len(head):  # records are self-checking, even with no commitment
                assert not verdict_of(forged).ok, f"byte {position} ^ {mask:#x} verified without commitment"


@pytest.fixture
def small_publication(tmp_path):
    book = random_liabilities(random.Random(5), 9, 2, zero_share=0)  # padding at heights 0, 1, 2
    folder, commitment = publish_to(tmp_path, book)
    head, leaves = read_leaves(folder / "tree.bin")
    return folder, commitment, head, leaves, book.assets


def only_reason(verdict) -> str:
    assert not verdict.ok
    assert len(verdict.reasons) == 1, verdict.reasons
    return verdict.reasons[0]


def test_duplicate_leaf_is_found_even_when_every_parent_adds_up(small_publication, tmp_path):
    folder, _, head, leaves, assets = small_publication
    leaves[7] = leaves[2]  # one leaf shown to two customers
    path = ReferenceTree.build(leaves, len(assets)).write(tmp_path / "dup.bin", assets, "snap-1")
    assert "leaves 2 and 7 are the same leaf" in only_reason(verify_tree_file(path))


def test_sum_that_wraps_around_is_refused(tmp_path):
    assets = [Asset("BTC", 8)]
    rng = random.Random(1)
    leaves = [(rng.randbytes(32), [MAX_UNITS]), (rng.randbytes(32), [2]), (rng.randbytes(32), [5])]
    tree = ReferenceTree.build(leaves, 1, add=lambda a, b: (a + b) % (MAX_UNITS + 1))
    assert tree.top[1] == [6]  # "negative" -1 hidden in the wrap
    path = tree.write(tmp_path / "wrap.bin", assets, "s")
    assert "exceeds 2^128-1" in only_reason(verify_tree_file(path))


def test_maxwell_parent_with_max_instead_of_sum_is_refused(small_publication, tmp_path):
    _, _, _, leaves, assets = small_publication
    path = ReferenceTree.build(leaves, len(assets), add=max).write(tmp_path / "max.bin", assets, "snap-1")
    assert "sums does not recompute" in only_reason(verify_tree_file(path))


@pytest.mark.parametrize("where", [0, 1, 2])
@pytest.mark.parametrize("forgery", ["zero hash", "other index", "other height", "carries money"])
def test_malformed_padding_is_refused(small_publication, tmp_path, where, forgery):
    _, _, _, leaves, assets = small_publication  # 9 leaves: padding at heights 0, 1 and 2

    def pad(height, index, count):
        node = padding_node(height, index, count)
        if height != where:
            return node
        return {
            "zero hash": (bytes(32), node[1]),
            "other index": padding_node(height, index + 1, count),
            "other height": padding_node(height + 1, index, count),
            "carries money": (node[0], [1] + node[1][1:]),
        }[forgery]

    path = ReferenceTree.build(leaves, len(assets), pad=pad).write(tmp_path / "pad.bin", assets, "snap-1")
    assert "malformed padding" in only_reason(verify_tree_file(path))


def test_odd_leaf_count_cannot_claim_its_padding_as_a_leaf(small_publication, tmp_path):
    folder, commitment, head, _, _ = small_publication
    raw = (folder / "tree.bin").read_bytes()
    lying = head.replace(b'"leaf_count":9,', b'"leaf_count":10,')
    assert lying != head and T.level_sizes(9) == T.level_sizes(10)  # same records, same size
    path = tmp_path / "lie.bin"
    path.write_bytes(lying + raw[len(head) :])
    assert "padding node" in only_reason(verify_tree_file(path))


def test_consistent_tree_with_other_balances_is_not_the_committed_one(small_publication, tmp_path):
    folder, commitment, _, leaves, assets = small_publication
    leaves[4] = (leaves[4][0], [0] * len(assets))  # drop one customer's money, rebuild
    path = ReferenceTree.build(leaves, len(assets)).write(tmp_path / "other.bin", assets, "snap-1")
    assert verify_tree_file(path).ok  # internally consistent ...
    verdict = verify_tree_file(path, commitment)  # ... but not what was committed
    assert not verdict.ok
    text = " | ".join(verdict.reasons)
    assert "is not the commitment's root" in text and "totals" in text and "sha256" in text


def test_commitment_with_other_totals_is_refused(small_publication):
    folder, _, _, _, _ = small_publication
    doc = json.loads((folder / "commitment.json").read_text())
    symbol = next(iter(doc["totals"]))
    doc["totals"][symbol] = "0"
    verdict = verify_tree_file(folder / "tree.bin", parse_commitment(doc, "c.json"))
    assert only_reason(verdict) == "root sums differ from the commitment's totals"


def test_commitment_of_another_snapshot_is_refused(small_publication):
    folder, _, _, _, _ = small_publication
    doc = json.loads((folder / "commitment.json").read_text())
    doc["snapshot_id"] = "snap-2"
    del doc["tree"]
    assert "snapshot id" in only_reason(verify_tree_file(folder / "tree.bin", parse_commitment(doc, "c")))


@pytest.mark.parametrize("cut, reason", [(-1, "truncated"), (-100, "truncated"), (1, "trailing data")])
def test_truncated_or_extended_file_is_refused(small_publication, tmp_path, cut, reason):
    folder, commitment, _, _, _ = small_publication
    raw = (folder / "tree.bin").read_bytes()
    path = tmp_path / "cut.bin"
    path.write_bytes(raw[:cut] if cut < 0 else raw + b"\0" * cut)
    assert reason in only_reason(verify_tree_file(path))


@pytest.mark.parametrize(
    "header",
    [
        b"",  # no header line at all
        b'{"format":"por-tree"',  # cut inside the header
        b"not json\n",
        b'{"format":"por-tree","version":1}\n',
        b'{"format":"por-tree","version":1,"hash":"sha256","snapshot_id":"s","assets":[{"symbol":"BTC",'
        b'"decimals":8}],"leaf_count":0,"height":1,"level_sizes":[2,1]}\n',
    ],
)
def test_broken_header_is_input_error(tmp_path, header):
    path = tmp_path / "h.bin"
    path.write_bytes(header)
    with pytest.raises(InputError):
        TreeFile(path)


def test_reformatted_header_is_refused(small_publication, tmp_path):
    folder, _, head, _, _ = small_publication
    raw = (folder / "tree.bin").read_bytes()
    pretty = (json.dumps(json.loads(head), indent=1).replace("\n", " ") + "\n").encode()
    path = tmp_path / "pretty.bin"
    path.write_bytes(pretty + raw[len(head) :])
    with pytest.raises(InputError, match="canonical"):
        TreeFile(path)


# --- frozen known-answer vectors (fixtures/vectors) ----------------------------------

V2 = load_vectors(2)


def vector_header(vectors) -> T.Header:
    f = vectors["header"]["fields"]
    return T.Header(
        f["version"],
        f["exchange"],
        f["snapshot_id"],
        f["snapshot_time"],
        f["leaf_count"],
        f["height"],
        tuple(Asset(a["symbol"], a["decimals"]) for a in f["assets"]),
    )


def test_vectors_are_what_the_generator_writes(tmp_path):
    """The committed data is what fixtures/vectors/generate.py (the independent reference) writes."""
    from fixtures.vectors.generate import write

    for path in write(tmp_path):
        committed = SETS[2 if path.parent.name == "v2" else 1] / path.name
        assert path.read_bytes() == committed.read_bytes(), f"{committed} is not what the generator writes"


def test_every_vector_preimage_and_digest_is_the_scalar_rules():
    """Each digest is SHA-256 of its preimage, and the preimage is what por's rules hash for that node."""
    users = {u["account_id"]: bytes.fromhex(u["digest"]) for u in V2["users"]}
    for u in V2["users"]:
        assert T.user_hash(bytes.fromhex(u["nonce"]), u["account_id"]).hex() == u["digest"]
        assert hashlib.sha256(bytes.fromhex(u["preimage"])).hexdigest() == u["digest"]
    nodes = {(n["height"], n["index"]): n for n in V2["nodes"]}
    kinds = {n["kind"] for n in V2["nodes"]}
    assert kinds == {"leaf", "inner", "padding"} and sum(n["kind"] == "padding" for n in V2["nodes"]) == 3
    for node in V2["nodes"]:
        assert hashlib.sha256(bytes.fromhex(node["preimage"])).hexdigest() == node["digest"]
        sums = T.encode_sums([int(v) for v in node["sums"]])
        h, i = node["height"], node["index"]
        if node["kind"] == "leaf":
            digest = T.leaf_hash(users[node["account_id"]], node["piece"], node["count"], sums)
        elif node["kind"] == "padding":
            digest = T.padding_hash(h, i)
            assert not any(int(v) for v in node["sums"])
        else:
            left, right = nodes[(h - 1, 2 * i)], nodes[(h - 1, 2 * i + 1)]
            digest = T.inner_hash(
                h,
                bytes.fromhex(left["digest"]),
                T.encode_sums([int(v) for v in left["sums"]]),
                bytes.fromhex(right["digest"]),
                T.encode_sums([int(v) for v in right["sums"]]),
            )
        assert digest.hex() == node["digest"], node
    header = vector_header(V2)
    assert T.canonical_header(header).hex() == V2["header"]["canonical"]
    assert hashlib.sha256(T.canonical_header(header)).hexdigest() == V2["header"]["digest"]
    top = V2["top"]
    assert (
        T.root_hash(header, bytes.fromhex(top["hash"]), T.encode_sums([int(v) for v in top["sums"]])).hex()
        == V2["root"]["digest"]
        == hashlib.sha256(bytes.fromhex(V2["root"]["preimage"])).hexdigest()
    )


def test_the_canonical_header_vector_reads_field_by_field():
    """The header bytes, cut by the layout of docs/design.md, give back every field (no hidden byte)."""
    raw, at = bytes.fromhex(V2["header"]["canonical"]), 0

    def take(n):
        nonlocal at
        at += n
        return raw[at - n : at]

    def text():
        return take(int.from_bytes(take(2), "big")).decode("utf-8")

    fields = V2["header"]["fields"]
    assert take(1)[0] == 2 and text() == "sha256" and text() == fields["exchange"]
    assert text() == fields["snapshot_id"] and text() == fields["snapshot_time"]
    assert int.from_bytes(take(8), "big") == fields["leaf_count"] and take(1)[0] == fields["height"]
    assets = [{"symbol": text(), "decimals": take(1)[0]} for _ in range(int.from_bytes(take(2), "big"))]
    assert assets == fields["assets"] and at == len(raw)


@pytest.mark.parametrize("version", [2, 1])
def test_builder_and_reference_reproduce_the_frozen_tree(tmp_path, version):
    """por publish (numpy, streamed) and the reference tree both write the committed tree.bin byte for byte."""
    vectors = load_vectors(version)
    files = SETS[version]
    book, shuffle, labels = publication_inputs(vectors)
    if version == 2:
        commitment = publish(book, tmp_path / "pub", shuffle=shuffle, **labels)
        assert (tmp_path / "pub" / "tree.bin").read_bytes() == (files / "tree.bin").read_bytes()
        assert commitment.root.hex() == vectors["root"]["digest"]
        published = json.loads((tmp_path / "pub" / "commitment.json").read_text())
        frozen = json.loads((files / "commitment.json").read_text())
        assert published == {k: v for k, v in frozen.items() if k != "signature"}
    records = b"".join(
        bytes.fromhex(n["digest"]) + T.encode_sums([int(v) for v in n["sums"]])
        for n in vectors["nodes"]
        if n["kind"] == "leaf"
    )
    levels = L.build_levels(np.frombuffer(records, dtype=np.uint8).reshape(9, -1).copy(), 3)
    assert [bytes.fromhex(n["digest"]) for n in vectors["nodes"]] == [bytes(r[:32]) for lv in levels for r in lv]
    head, leaves = read_leaves(files / "tree.bin")
    reference = ReferenceTree.build(leaves, 3)
    labels_of = {
        "exchange": vectors["inputs"]["exchange"],
        "snapshot_time": vectors["inputs"]["snapshot_time"],
        "version": version,
    }
    assets = [Asset(a["symbol"], a["decimals"]) for a in vectors["inputs"]["assets"]]
    frozen = (files / "tree.bin").read_bytes()
    assert reference.file_bytes(assets, vectors["inputs"]["snapshot_id"], **labels_of) == frozen
    verdict = verify_tree_file(files / "tree.bin", parse_commitment(load_file(files / "commitment.json"), "c"))
    assert verdict.ok and verdict.facts["root"] == vectors["root"]["digest"], verdict.reasons


def test_a_header_with_other_decimals_no_longer_has_the_pinned_root(tmp_path):
    """verify-tree --root: in format 1 a header edited to other decimals printed totals 10^6 times too large
    under a matching root; in format 2 the decimals are in the root."""
    from por.liabilities.check import verify_tree_document

    raw = (SETS[2] / "tree.bin").read_bytes()
    forged = tmp_path / "tree.bin"
    forged.write_bytes(raw.replace(b'"symbol":"USDT","decimals":6', b'"symbol":"USDT","decimals":0', 1))
    root = bytes.fromhex(V2["root"]["digest"])
    assert verify_tree_document("por", SETS[2] / "tree.bin", None, root).verified
    verdict = verify_tree_document("por", forged, None, root)
    assert verdict.state == "failed" and "root record: hash does not recompute from the header" in verdict.reasons[0]
    assert any("is not the pinned root" in r for r in verdict.reasons), verdict.reasons
