"""OKX verdicts a customer can stake money on, through the CLI (`python -m por` in a child process).

Issue 12, items 1, 2, 3 and 11: a root hash alone does not bind OKX's totals or height, so
the research's forgery of the genuine V1 proof (the root's amounts re-split, the root hash
kept) and a 2-leaf tree carrying the root of a 1025-leaf tree are refused once the
published totals are pinned, and are NOT VERIFIED with the root alone; a tree that relabels
or reorders the coins fails; a coin name is never a pattern; `--commitment` checks for OKX
files what it checks for por files. Each forgery has its honest twin, which verifies.

This file uses only the fixtures and the command line, no por internals, so it runs
unchanged against an older `por` to show what that one accepted.
"""

from __future__ import annotations

import hashlib
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest

from fixtures import okx as gen
from fixtures.liabilities import run_por_process

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "conformance" / "okx"
V1 = json.loads((FIX / "merkle_proof_file.json").read_text())
USER = (FIX / "user_info_file.json").read_text()
TREE = (FIX / "full-liabilities-merkle-tree.txt").read_text()
V1_ROOT = V1["path"][-1]["hash"]
V2_ROOT = TREE.split(",", 1)[0]
V1_TOTALS = V1["path"][-1]["balances"]  # what OKX published with that root
V2_TOTALS = json.loads(TREE.split("\n", 1)[0].split(",", 2)[2])
FORGED_V1 = gen.resplit_root(V1, {"BTC": "95088.5550565", "ETH": "6939953.49090361", "USDT": V1_TOTALS["USDT"]})


def por(folder: Path, *args) -> tuple[int, str]:
    code, out, err = run_por_process(*args, cwd=folder)
    assert "Traceback" not in out + err and len(err.strip().splitlines()) <= 1, err
    return code, " ".join((out + " " + err).split())


def write(folder: Path, **files) -> Path:
    for name, data in files.items():
        path = folder / name.replace("_json", ".json").replace("_txt", ".txt")
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return folder


def totals(amounts: dict) -> dict:
    return {"format": "por-totals", "version": 1, "totals": {k: str(v) for k, v in amounts.items()}}


def commitment(
    root: str, okx_height: int, leaf_count: int, amounts: dict, *, tree_sha256: str | None = None, decimals: int = 8
) -> dict:
    """A por commitment for an OKX tree: OKX's root, its levels above the leaves (OKX counts leaves as 1)."""
    doc = {
        "format": "por-commitment",
        "version": 1,
        "exchange": "OKX",
        "snapshot_id": "okx-example",
        "snapshot_time": "2022-11-22T00:00:00Z",
        "hash": "sha256",
        "root": root,
        "height": okx_height - 1,
        "leaf_count": leaf_count,
        "assets": [{"symbol": c, "decimals": decimals} for c in ("BTC", "ETH", "USDT")],
        "totals": {k: str(v) for k, v in amounts.items()},
    }
    if tree_sha256:
        doc["tree"] = {"file": "tree.txt", "sha256": tree_sha256}
    return doc


V2_TREE_SHA256 = hashlib.sha256((FIX / "full-liabilities-merkle-tree.txt").read_bytes()).hexdigest()
V2_COMMITMENT = commitment(V2_ROOT, 6, 21, V2_TOTALS, tree_sha256=V2_TREE_SHA256)
V1_COMMITMENT = commitment(V1_ROOT, 24, 6_000_000, V1_TOTALS)
NOT_BOUND = "published root alone does not bind the per-coin totals or the height"


@pytest.fixture
def genuine(tmp_path):
    return write(
        tmp_path,
        proof_json=V1,
        user_json=USER,
        tree_txt=TREE,
        v1_totals_json=totals(V1_TOTALS),
        v2_totals_json=totals(V2_TOTALS),
        v1_commitment_json=V1_COMMITMENT,
        v2_commitment_json=V2_COMMITMENT,
        forged_json=FORGED_V1,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["verify-inclusion", "proof.json", "--root", V1_ROOT, "--totals", "v1_totals.json"],
        ["verify-inclusion", "proof.json", "--commitment", "v1_commitment.json"],
        ["verify-inclusion", "user.json", "--tree", "tree.txt", "--root", V2_ROOT, "--totals", "v2_totals.json"],
        ["verify-inclusion", "user.json", "--tree", "tree.txt", "--commitment", "v2_commitment.json"],
        ["verify-tree", "tree.txt", "--root", V2_ROOT, "--totals", "v2_totals.json"],
        ["verify-tree", "tree.txt", "--commitment", "v2_commitment.json"],
    ],
)
def test_genuine_okx_files_verify_with_root_and_totals_pinned(genuine, argv):
    code, text = por(genuine, *argv)
    assert code == 0 and "VERIFIED" in text and "NOT VERIFIED" not in text, text
    assert "does not bind the per-coin totals or the height" in text and "compared with" in text, text


@pytest.mark.parametrize(
    "argv",
    [
        ["verify-inclusion", "proof.json", "--root", V1_ROOT],
        ["verify-inclusion", "user.json", "--tree", "tree.txt", "--root", V2_ROOT],
        ["verify-tree", "tree.txt", "--root", V2_ROOT],
    ],
)
def test_an_okx_root_alone_is_not_verified(genuine, argv):
    code, text = por(genuine, *argv)
    assert code == 1 and NOT_BOUND in text and "--totals FILE" in text, text


def test_the_re_split_root_of_the_genuine_v1_proof_is_refused(genuine):
    """ "95088.55505656"+"939953.49090361" read as "95088.5550565"+"6939953.49090361": 6 million ETH
    more, the genuine root hash, every sum along the path adding up (today's code said VERIFIED)."""
    code, text = por(genuine, "verify-inclusion", "forged.json", "--root", V1_ROOT)
    assert code == 1 and NOT_BOUND in text, text
    code, text = por(genuine, "verify-inclusion", "forged.json", "--root", V1_ROOT, "--totals", "v1_totals.json")
    assert code == 1 and "totals: BTC 95088.5550565 is not the published total 95088.55505656" in text, text
    assert "totals: ETH 6939953.49090361 is not the published total 939953.49090361" in text, text
    code, text = por(genuine, "verify-inclusion", "forged.json", "--commitment", "v1_commitment.json")
    assert code == 1 and "ETH 6939953.49090361 is not the published total" in text, text


def _tall_tree():
    """1025 leaves (height 12) whose USDT total has room for one more digit."""
    rng = random.Random(12)
    leaves = [
        gen.split_leaf(
            rng.randbytes(32).hex(),
            {
                "BTC": Decimal(rng.randrange(10**6)) / 10**8,
                "ETH": Decimal(rng.randrange(10**9)) / 10**8,
                "USDT": Decimal(rng.randrange(1000)),
            },
        )
        for _ in range(1025)
    ]
    return gen.build(leaves)


def test_a_two_leaf_tree_with_the_root_of_a_1025_leaf_tree_is_refused(tmp_path):
    levels = _tall_tree()
    root, real = levels[-1][0]
    assert len(levels) == 12
    write(
        tmp_path,
        tall_txt="".join(gen.tree_lines(levels)),
        short_txt=gen.lower_tree_same_root(levels),
        totals_json=totals({k: gen.text(v) for k, v in real.items()}),
        commitment_json=commitment(root, 12, 1025, {k: gen.text(v) for k, v in real.items()}),
    )
    assert por(tmp_path, "verify-tree", "tall.txt", "--root", root, "--totals", "totals.json")[0] == 0
    assert por(tmp_path, "verify-tree", "tall.txt", "--commitment", "commitment.json")[0] == 0
    code, text = por(tmp_path, "verify-tree", "short.txt", "--root", root)
    assert code == 1 and NOT_BOUND in text, text
    code, text = por(tmp_path, "verify-tree", "short.txt", "--root", root, "--totals", "totals.json")
    usdt = gen.text(real["USDT"])
    assert code == 1 and f"totals: USDT {usdt}{len(levels) // 10} is not the published total {usdt}" in text, text
    code, text = por(tmp_path, "verify-tree", "short.txt", "--commitment", "commitment.json")
    assert code == 1 and "leaf count differs" in text and "height differs" in text, text


@pytest.mark.parametrize(
    "name, edit",
    [
        ("relabelled", lambda t: t.replace('"BTC"', '"DOGE"')),
        ("swapped", lambda t: t.replace('"BTC"', '"TMP"').replace('"ETH"', '"BTC"').replace('"TMP"', '"ETH"')),
        ("fourth coin", lambda t: t.replace('"}\n', '","XRP":"0"}\n')),
        ("lower case", lambda t: t.replace('"USDT"', '"usdt"')),
    ],
)
def test_a_tree_that_owes_other_coins_than_the_user_file_fails(genuine, name, edit):
    """Tree coin names enter no hash, so once a tree saying DOGE for the user's BTC verified."""
    write(genuine, other_txt=edit(TREE))
    code, text = por(
        genuine, "verify-inclusion", "user.json", "--tree", "other.txt", "--root", V2_ROOT, "--totals", "v2_totals.json"
    )
    assert code == 1 and "OKX writes exactly BTC, ETH, USDT, in that order" in text, (name, text)
    code, text = por(genuine, "verify-tree", "other.txt", "--root", V2_ROOT, "--totals", "v2_totals.json")
    assert code == 1, (name, text)


def test_a_user_file_with_other_coins_fails(genuine):
    write(genuine, other_json=USER.replace('"BTC"', '"DOGE"'))
    code, text = por(
        genuine, "verify-inclusion", "other.json", "--tree", "tree.txt", "--root", V2_ROOT, "--totals", "v2_totals.json"
    )
    assert code == 1 and "'DOGE' is not a coin of OKX's Merkle files" in text, text


def test_a_coin_name_is_never_a_pattern(genuine):
    """`B.C` on line 1 and `BXC` on every other line: the pattern built from line 1 matched them all."""
    lines = TREE.splitlines(keepends=True)
    write(
        genuine,
        dotted_txt="".join(
            [lines[0].replace('"BTC"', '"B.C"')] + [line.replace('"BTC"', '"BXC"') for line in lines[1:]]
        ),
    )
    code, text = por(genuine, "verify-tree", "dotted.txt", "--root", V2_ROOT, "--totals", "v2_totals.json")
    assert code == 1 and "'B.C' is not a coin" in text, text


@pytest.mark.parametrize(
    "change, words",
    [
        ({"root": "ef" * 32}, "is not the published root"),
        ({"totals": {**V2_TOTALS, "ETH": "0.2"}}, "totals: ETH 0.1 is not the published total 0.2"),
        ({"height": 6}, "height differs from the commitment's: 5 levels above the leaves"),
        ({"leaf_count": 22}, "leaf count differs from the commitment's: the tree has 21"),
        (
            {
                "assets": [
                    {"symbol": "BTC", "decimals": 8},
                    {"symbol": "ETH", "decimals": 18},
                    {"symbol": "USDT", "decimals": 8},
                ]
            },
            "asset list differs from the commitment's",
        ),
        ({"tree": {"file": "tree.txt", "sha256": "00" * 32}}, "sha256 differs"),
    ],
)
def test_a_commitment_binds_okx_trees_as_it_binds_por_trees(genuine, change, words):
    write(genuine, c_json={**V2_COMMITMENT, **change})
    for argv in (["verify-tree", "tree.txt"], ["verify-inclusion", "user.json", "--tree", "tree.txt"]):
        code, text = por(genuine, *argv, "--commitment", "c.json")
        assert code == 1 and words in text, (argv, text)


def test_a_commitment_binds_a_v1_proof_as_far_as_the_proof_shows(genuine):
    for change, words in [
        ({"height": 24}, "height differs"),
        ({"leaf_count": 5_000_000}, "fits a tree of 5767169..6291456"),
        ({"totals": {**V1_TOTALS, "BTC": "95088.55505657"}}, "BTC 95088.55505656 is not the published"),
    ]:
        write(genuine, c_json={**V1_COMMITMENT, **change})
        code, text = por(genuine, "verify-inclusion", "proof.json", "--commitment", "c.json")
        assert code == 1 and words in text, (change, text)
    code, text = por(genuine, "verify-inclusion", "proof.json", "--commitment", "v1_commitment.json")
    assert code == 0 and "leaf count only as 5767169..6291456" in text and "OKX files carry no snapshot id" in text


@pytest.mark.parametrize(
    "argv, words",
    [
        (["verify-tree", "tree.txt", "--totals", "v2_totals.json"], "--totals: needs --root"),
        (["verify-inclusion", "proof.json", "--totals", "v1_totals.json"], "--totals: needs --root"),
        (
            ["verify-tree", "tree.txt", "--commitment", "v2_commitment.json", "--totals", "v2_totals.json"],
            "--totals: give --totals with --root, not with --commitment",
        ),
        (
            ["verify-tree", "tree.txt", "--root", V2_ROOT, "--totals", "bad.json"],
            "bad.json: totals.ETH: '0.10' is not a",
        ),
        (["verify-tree", "tree.txt", "--root", V2_ROOT, "--totals", "extra.json"], "bad_field: unknown field"),
        (
            ["verify-inclusion", "proof.json", "proof.json", "--root", V1_ROOT, "--totals", "v1_totals.json"],
            "--totals: --totals pins one period",
        ),
    ],
)
def test_totals_usage_and_bad_totals_files_are_bad_input(genuine, argv, words):
    write(genuine, bad_json=totals({**V2_TOTALS, "ETH": "0.10"}), extra_json={**totals(V2_TOTALS), "bad_field": 1})
    code, text = por(genuine, *argv)
    assert code == 2 and words in text, text
