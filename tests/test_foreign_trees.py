"""Full-tree foreign files: BitMEX liabilities trees and merkletreejs leaf lists (Bitso, Gate
2020-22, The Network Firm / Armanino). Every node recomputed; a customer finds their own leaves
with their nonce (BitMEX) or id and balances (merkletreejs).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures import foreign as gen
from por.errors import InputError
from por.liabilities.foreign import bitmex, detect
from por.liabilities.foreign.common import Customer

FIX = gen.CONFORMANCE
ROOT_DIR = Path(__file__).resolve().parents[1]
BITMEX = FIX / "bitmex" / "README-example-liabilities-100-proof.csv"
BITMEX_ROOT = "ceb08dfd693430ece544df853a989684056c0800088d61bfcc38c0d16cc1e1c7"
README_NONCES = {
    1: "4b014f71332f674b47ccec77ac055c7f6e94f7968afe15b9ffb63b9c392ee97a",
    2: "b88860add96111d84d38a500266df715158f91375d9aaa98aa58356f9a872412",
    3: "38de14dcd1425739ddbe2bcf7505c1bac602fd185727dc7f2fa9ddaeff9a36c9",
    4: "b4fb0f6cb39e1b47e159996d54121309d92fed531a4f55b7a30772cb5f21cf8a",
    5: "239573aae4710e1c1d09ffdf9de67a031176318a5caa901897183014776d607a",
}
N1, N2 = "11" * 32, "22" * 32
LEAVES = [
    (7, N1, 500),
    (9, N2, 40),
    (7, N1, 1500),
    (9, N2, 2),
    (7, N1, 1),
    (12, "33" * 32, 99),
    (9, N2, 0),
    (12, "33" * 32, 1),
]


def por_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "por", *args],
        capture_output=True,
        text=True,
        cwd=ROOT_DIR,
        env={"PYTHONPATH": str(ROOT_DIR), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )


def tree_file(tmp_path: Path, text: str, name: str = "liabilities.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def bitmex_verdict(path: Path, root: str | None = None, account=None, nonce=None):
    customer = Customer(account=str(account), nonce=nonce) if account is not None else None
    try:
        return bitmex.verify_bitmex_tree(path, root, customer=customer)
    except InputError as exc:
        from por.verdict import Verdict

        return Verdict(ok=False, reasons=[exc.location_text()])


# --- BitMEX --------------------------------------------------------------------------------


def test_bitmex_readme_tree_is_valid_and_none_of_its_nonces_matches():
    v = bitmex_verdict(BITMEX, BITMEX_ROOT)
    assert v.ok and v.facts["root"] == BITMEX_ROOT and v.facts["total_sats"] == 4_000_004_000
    assert v.facts["leaf_count"] == 8 and v.facts["block_height"] == 100 and v.facts["anchored"] is True
    for account, nonce in README_NONCES.items():
        mine = bitmex_verdict(BITMEX, BITMEX_ROOT, account, nonce)
        assert not mine.ok and "no leaf matches" in mine.reasons[0] and mine.facts["balances"] == {"BTC": "0"}


@pytest.mark.parametrize("sub", [False, True])
def test_bitmex_customer_finds_their_split_leaves_with_either_nonce(tmp_path, sub):
    path = tree_file(tmp_path, gen.bitmex_tree(LEAVES, sub=sub))
    v = bitmex_verdict(path, None, 7, N1)
    assert v.ok, v.reasons
    assert v.facts["account_sats"] == 2001 and [x["index"] for x in v.facts["leaves"]] == [0, 2, 4]
    assert ("proof's nonce" in v.facts["nonce_used"]) == sub
    assert v.facts["total_sats"] == sum(s for *_, s in LEAVES)


def test_bitmex_forgeries_are_rejected_for_the_rule_they_break(tmp_path):
    def edited(fn):
        return bitmex_verdict(tree_file(tmp_path, gen.bitmex_tree(LEAVES, edit=fn)))

    # a leaf's value changed, every parent recomputed: the HMAC no longer opens for its owner
    v = bitmex_verdict(
        tree_file(tmp_path, gen.bitmex_tree(LEAVES, edit=lambda d, i, n: (n[0], n[1] + 1) if (d, i) == (3, 0) else n)),
        None,
        7,
        N1,
    )
    assert v.facts["account_sats"] == 1501
    # a negative value, recomputed consistently (signed packing): a finding, not a crash
    neg = [(a, n, -s if i == 1 else s) for i, (a, n, s) in enumerate(LEAVES)]
    v = bitmex_verdict(tree_file(tmp_path, gen.bitmex_tree(neg)))
    assert not v.ok and any("not a u64" in r for r in v.reasons)
    # a parent's sum that is not its children's
    lines = gen.bitmex_tree(LEAVES).splitlines()
    h, s = lines[2].split(",")
    lines[2] = f"{h},{int(s) + 1}"
    v = bitmex_verdict(tree_file(tmp_path, "\n".join(lines) + "\n"))
    assert not v.ok and any("its children hold" in r for r in v.reasons)


def test_bitmex_incomplete_last_row_is_a_defect_not_silently_dropped(tmp_path):
    text = gen.bitmex_tree(LEAVES)
    short = "\n".join(text.splitlines()[:-1]) + "\n"
    v = bitmex_verdict(tree_file(tmp_path, short))
    assert not v.ok and "incomplete" in v.reasons[0]


@settings(max_examples=60, deadline=None)
@given(line=st.integers(1, 15), pos=st.integers(0, 80), char=st.sampled_from("0123456789abcdef,-: x"))
def test_bitmex_one_character_changed_never_verifies(tmp_path_factory, line, pos, char):
    lines = BITMEX.read_text().splitlines()
    text = lines[line]
    i = pos % (len(text) + 1)
    lines[line] = text[:i] + char + text[i + 1 :]
    if lines == BITMEX.read_text().splitlines():
        return
    path = tree_file(tmp_path_factory.mktemp("m"), "\n".join(lines) + "\n")
    assert not bitmex_verdict(path, BITMEX_ROOT).ok


def test_bitmex_block_height_is_bound_only_through_the_account_nonce(tmp_path):
    """No node hash holds the block height (the property test above leaves line 1 alone); a
    customer deriving the proof nonce from the account nonce sees a changed height."""
    text = gen.bitmex_tree(LEAVES).replace("block_height:100", "block_height:101")
    v = bitmex_verdict(tree_file(tmp_path, text), None, 7, N1)
    assert not v.ok and "no leaf matches" in v.reasons[0]
    assert any("block height" in line for line in bitmex_verdict(BITMEX).facts["not_checked"])


def test_bitmex_through_the_cli(tmp_path):
    run = por_cli("verify-tree", str(BITMEX), "--format", "auto", "--root", BITMEX_ROOT, "--json")
    out = json.loads(run.stdout)
    assert run.returncode == 0 and out["format"] == "bitmex" and out["anchored"] is True
    path = tree_file(tmp_path, gen.bitmex_tree(LEAVES))
    run = por_cli("verify-inclusion", str(path), "--account", "9", "--nonce", N2, "--json")
    out = json.loads(run.stdout)
    assert out["format"] == "bitmex" and out["account_sats"] == 42 and run.returncode == 1
    assert [r.split(":")[0] for r in out["reasons"]] == ["self-consistent, but nothing to compare it with"]
    run = por_cli("verify-inclusion", str(BITMEX), "--account", "2", "--nonce", README_NONCES[2], "--json")
    assert run.returncode == 1 and "no leaf matches" in json.loads(run.stdout)["reasons"][0]
    run = por_cli("verify-inclusion", str(BITMEX))
    assert run.returncode == 2 and "--account and --nonce" in run.stderr
    assert detect.tree_format(BITMEX.read_bytes()[:100], "t") == "bitmex"


# --- merkletreejs --------------------------------------------------------------------------

from por.liabilities.foreign import merkletreejs  # noqa: E402

BITSO = FIX / "merkletreejs" / "bitso.example-merkle-tree.tsv"
BITSO_ROOT = "e0f6eb0f1b1c71018dd00a625c20868f85b3fbba0991ce8280171fa91b7a647c"
BITSO_ME = Customer(account="d7ae2e6e-c36b-4b44-8b98-bdd59c4eebad", balances=(("btc", "0.00000001"),))
TNF_INPUT = FIX / "merkletreejs" / "tnf.example_input.txt"


def mtjs_verdict(path: Path, root: str | None = None, customer: Customer | None = None):
    try:
        return merkletreejs.verify_merkletreejs(path, root, customer=customer)
    except InputError as exc:
        from por.verdict import Verdict

        return Verdict(ok=False, reasons=[exc.location_text()])


def leaf_list(leaves: list[str], layers: int | None = None, ending: str = "\n") -> str:
    n = merkletreejs.layers(len(leaves)) if layers is None else layers
    return "Level\tHash" + ending + "".join(f"{n},{i}\t{x}{ending}" for i, x in enumerate(leaves))


def test_bitso_example_root_and_the_readme_leaf():
    v = mtjs_verdict(BITSO, BITSO_ROOT, BITSO_ME)
    assert v.ok and v.facts["root"] == BITSO_ROOT and v.facts["leaf_count"] == 18 and v.facts["height"] == 6
    assert v.facts["leaf"] == "e17e7edf6faa1a6a" and v.facts["leaf_position"] == 14
    assert v.facts["leaf_rule"].startswith("bitso") and v.facts["anchored"] is True
    assert "2^32" in v.facts["coverage"]["hash"] and v.facts["coverage"]["sums"].startswith("none")
    unpinned = mtjs_verdict(BITSO)
    assert unpinned.ok and unpinned.facts["anchored"] is False


def test_merkletreejs_someone_else_is_not_found():
    other = Customer(account=BITSO_ME.account, balances=(("btc", "0.00000002"),))
    v = mtjs_verdict(BITSO, BITSO_ROOT, other)
    assert not v.ok and "not in the file" in v.reasons[0]


def test_bitso_zero_stripping_is_reproduced_with_its_bug():
    """Bitso's regex strips one zero too many from integers: '10' is hashed as '1'."""
    from por.liabilities.foreign.common import sha256_hex

    me = Customer(account="acct", balances=(("usd", "10"),))
    leaves = merkletreejs.customer_leaves(me)
    assert leaves["bitso (as Bitso's tool strips zeros)"] == sha256_hex("acct" + sha256_hex("1"))[:16]
    assert leaves["bitso (balances as typed)"] == sha256_hex("acct" + sha256_hex("10"))[:16]


def test_tnf_reference_roots_from_its_example_input():
    text = TNF_INPUT.read_text()
    leaves, root = merkletreejs.tnf_tree(text)
    assert leaves == [
        "4d5b6745607fb0f8",
        "fceae9bdf4ac639a",
        "21544f90b6a6f44b",
        "22bf213fc87d039d",
        "a15eb5f9d7cb1fa8",
    ]
    assert root == "aece07167a9b1391710bbef42ceafdceb3a0c0e0d43434070f6dea178daf0960"
    assert (
        merkletreejs.tnf_tree(text, concatenate=True)[1]
        == "b03c200f074fe4ddf0cbbef4fbeda6a02e9f36349e5b8fb1130fad3a9af38ad9"
    )


def test_tnf_output_tree_with_crlf_finds_a_customer_under_the_tnf_rule(tmp_path):
    leaves, root = merkletreejs.tnf_tree(TNF_INPUT.read_text())
    path = tree_file(tmp_path, leaf_list(leaves, ending="\r\n"), "out.txt")
    me = Customer(
        account="2",
        balances=(
            ("balance1", "1.0000001"),
            ("balance2", "100.0000001"),
            ("balance3", "1.0000001"),
            ("balance4", "10000"),
        ),
    )
    v = mtjs_verdict(path, root, me)
    assert v.ok and v.facts["leaf_rule"].startswith("tnf") and v.facts["leaf_position"] == 1


def test_merkletreejs_list_defects_are_rejected(tmp_path):
    leaves = [f"{i:016x}" for i in range(5)]
    assert mtjs_verdict(tree_file(tmp_path, leaf_list(leaves))).ok
    assert "layers" in mtjs_verdict(tree_file(tmp_path, leaf_list(leaves, layers=3))).reasons[0]
    twice = leaf_list(leaves[:4] + leaves[:1])
    assert any("listed twice" in r for r in mtjs_verdict(tree_file(tmp_path, twice)).reasons)
    swapped = leaf_list(leaves).replace("4,1\t", "4,7\t")
    assert any("position" in r for r in mtjs_verdict(tree_file(tmp_path, swapped)).reasons)
    mixed = leaf_list(leaves).replace("4,2\t0000000000000002\n", "4,2\t0000000000000002\r\n")
    assert "mixed line endings" in mtjs_verdict(tree_file(tmp_path, mixed)).reasons[0]


@settings(max_examples=80, deadline=None)
@given(line=st.integers(0, 18), pos=st.integers(0, 40), char=st.sampled_from("0123456789abcdef,\t x"))
def test_merkletreejs_one_character_changed_never_verifies(tmp_path_factory, line, pos, char):
    lines = BITSO.read_text().split("\n")
    text = lines[line]
    i = pos % (len(text) + 1)
    lines[line] = text[:i] + char + text[i + 1 :]
    if "\n".join(lines) == BITSO.read_text():
        return
    path = tree_file(tmp_path_factory.mktemp("m"), "\n".join(lines))
    assert not mtjs_verdict(path, BITSO_ROOT).ok


def test_merkletreejs_through_the_cli():
    run = por_cli(
        "verify-inclusion",
        str(BITSO),
        "--format",
        "auto",
        "--account",
        BITSO_ME.account,
        "--balance",
        "btc=0.00000001",
        "--root",
        BITSO_ROOT,
        "--json",
    )
    out = json.loads(run.stdout)
    assert run.returncode == 0 and out["format"] == "merkletreejs" and out["leaf"] == "e17e7edf6faa1a6a"
    run = por_cli("verify-tree", str(TNF_INPUT))
    assert run.returncode == 2 and "generator input" in run.stderr
    run = por_cli("verify-inclusion", str(BITSO), "--account", "x")
    assert run.returncode == 2 and "--balance" in run.stderr
