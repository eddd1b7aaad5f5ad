"""Trees built in pieces are the tree built whole: streamed to disk, in blocks, same bytes.

The reference is the in-memory builder (`build_tree`: every level in RAM)
and a secrets file written one `json.dumps` per line, as the format says.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from fixtures.liabilities import random_liabilities
from por.amounts import Asset
from por.liabilities import build
from por.liabilities.book import Liabilities
from por.liabilities.build import LeafMaker, Pieces, Shuffle, block_levels, upper_levels, user_table
from por.liabilities.inclusion import verify_inclusion
from por.liabilities.levels import build_levels
from por.liabilities.porjson import parse_commitment
from por.liabilities.prove import cut_proof
from por.liabilities.publish import build_tree, publish
from por.liabilities.tree import Header, TreeError, level_sizes
from por.liabilities.treefile import verify_tree_file, write_tree
from por.strictjson import load_file


def reference_files(book: Liabilities, shuffle: Shuffle, snapshot_id: str) -> tuple[bytes, bytes]:
    """tree.bin and secrets.jsonl as the whole-tree builder and a per-line writer make them."""
    built = build_tree(book, shuffle=shuffle)
    import io

    tree = io.BytesIO()
    header = Header(2, "x", snapshot_id, "2024-01-01T00:00:00Z", len(book), len(built.levels) - 1, tuple(book.assets))
    write_tree(tree, header, built.levels)
    lines = [
        json.dumps(
            {
                "format": "por-secrets",
                "version": 1,
                "snapshot_id": snapshot_id,
                "root": built.root_of(header).hex(),
                "warning": "private: never publish this file",
            }
        )
    ]
    for i, account_id in enumerate(book.account_ids):
        lines.append(
            f'{{"account_id":{json.dumps(account_id, ensure_ascii=False)},'
            f'"nonce":"{built.nonces[32 * i : 32 * i + 32].hex()}","leaves":{built.leaf_index[i]}}}'
        )
    return tree.getvalue(), ("\n".join(lines) + "\n").encode()


def publish_with(book: Liabilities, out: Path, shuffle: Shuffle, **kwargs):
    return publish(
        book, out, exchange="x", snapshot_id="s1", snapshot_time="2024-01-01T00:00:00Z", shuffle=shuffle, **kwargs
    )


@pytest.mark.parametrize("accounts", [1, 2, 3, 5, 8, 9, 33, 257, 1000])
def test_streamed_publication_is_the_whole_tree_byte_for_byte(tmp_path, monkeypatch, accounts):
    monkeypatch.setattr(build, "CHUNK_NODES", 8)  # many chunks, odd tails, padding at every level
    book = random_liabilities(random.Random(accounts), accounts, 3)
    shuffle = Shuffle.draw(accounts, accounts)
    commitment = publish_with(book, tmp_path / "pub", shuffle)
    tree, secrets = reference_files(book, shuffle, "s1")
    assert (tmp_path / "pub" / "tree.bin").read_bytes() == tree
    assert (tmp_path / "pub" / "private" / "secrets.jsonl").read_bytes() == secrets
    assert commitment.totals == book.totals and commitment.leaf_count == accounts
    assert verify_tree_file(tmp_path / "pub" / "tree.bin", commitment).ok


def test_ids_json_must_escape_are_written_as_json_dumps_writes_them(tmp_path):
    ids = ['q"uote', "back\\slash", "客户ü", "line\u2028sep", "del\x7f", "plain", "😀"]
    book = Liabilities([Asset("BTC", 8)], ids, [[1, 2, 3, 4, 5, 6, 7]])
    shuffle = Shuffle.draw(len(ids), len(ids))
    publish_with(book, tmp_path / "pub", shuffle)
    assert (tmp_path / "pub" / "private" / "secrets.jsonl").read_bytes() == reference_files(book, shuffle, "s1")[1]
    for account_id in ids:
        assert verify_inclusion(cut_proof(tmp_path / "pub", account_id)).ok


def test_split_publication_streams_every_piece(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "CHUNK_NODES", 16)
    book = random_liabilities(random.Random(5), 60, 2)
    commitment = publish(book, tmp_path / "pub", exchange="x", snapshot_id="s1", max_pieces=4)
    assert verify_tree_file(tmp_path / "pub" / "tree.bin", commitment).ok
    assert commitment.totals == book.totals and commitment.leaf_count > 60
    secrets = (tmp_path / "pub" / "private" / "secrets.jsonl").read_text().splitlines()[1:]
    leaves = sorted(i for line in secrets for i in json.loads(line)["leaves"])
    assert leaves == list(range(commitment.leaf_count))
    for account_id in book.account_ids[:10]:
        proof = cut_proof(tmp_path / "pub", account_id)
        assert verify_inclusion(proof, commitment=commitment).ok
        assert proof.balances() == [book.balances_of(book.account_ids.index(account_id))[a.symbol] for a in book.assets]


@pytest.mark.parametrize("leaves", [1, 2, 3, 4, 5, 7, 16, 17, 31, 100, 1023, 1025])
def test_power_of_two_blocks_combine_into_the_same_tree(leaves):
    book = random_liabilities(random.Random(leaves), leaves, 2)
    shuffle = Shuffle.draw(leaves, leaves)
    hi, lo = book.limbs()
    maker = LeafMaker(user_table(book.ids, shuffle.nonces), Pieces(hi, lo), shuffle.order)
    whole = build_levels(maker.records(0, leaves), 2)
    height = len(level_sizes(leaves)) - 1
    for top in range(0, height + 1):
        size = 1 << top
        blocks = [block_levels(maker.records(s, min(s + size, leaves)), s, top, 2) for s in range(0, leaves, size)]
        levels = [np.concatenate([b[h] for b in blocks]) for h in range(top)]
        levels += upper_levels(np.concatenate([b[top] for b in blocks]), top, 2)
        assert [lv.tobytes() for lv in levels] == [lv.tobytes() for lv in whole], (leaves, top)


def test_a_block_must_start_on_its_boundary():
    with pytest.raises(TreeError):
        block_levels(np.zeros((2, 48), np.uint8), 2, 2, 1)


@pytest.mark.parametrize(
    "nonces, order",
    [
        (b"\0" * 31 * 3, [0, 1, 2]),
        (b"\0" * 96, [0, 1]),
        (b"\0" * 96, [0, 1, 1]),
        (b"\0" * 96, [0, 1, 3]),
        (b"\0" * 96, [-1, 0, 1]),
    ],
)
def test_a_shuffle_that_is_not_one_is_refused(nonces, order):
    book = Liabilities([Asset("BTC", 8)], ["a", "b", "c"], [[1, 2, 3]])
    with pytest.raises(TreeError):
        build_tree(book, shuffle=Shuffle(nonces, np.asarray(order)))


def test_balances_a_tree_cannot_hold_are_refused_before_hashing():
    for bad in (-1, 1 << 128, 1.5, True):
        book = Liabilities([Asset("BTC", 8)], ["a", "b"], [[1, bad]])
        with pytest.raises(TreeError):
            build_tree(book)


def test_publication_commitment_matches_its_files(tmp_path):
    book = random_liabilities(random.Random(9), 100, 4)
    publish_with(book, tmp_path / "pub", Shuffle.draw(100, 100))
    commitment = parse_commitment(load_file(tmp_path / "pub" / "commitment.json"), "c")
    import hashlib

    assert commitment.tree_sha256 == hashlib.sha256((tmp_path / "pub" / "tree.bin").read_bytes()).digest()
    assert verify_tree_file(tmp_path / "pub" / "tree.bin", commitment).ok
