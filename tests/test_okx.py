"""OKX formats: the genuine files verify, any tampered copy fails, each check stands alone.

Targeted cases are built with fixtures/okx.py, which recomputes every hash above the
change, so exactly one rule is broken and the test proves that rule is enforced.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fixtures import okx as gen
from por.errors import InputError
from por.liabilities.foreign import okx
from por.liabilities.foreign.okx.rules import parse_units, readings, units_text
from por.liabilities.foreign.okx.tree import scan_okx_v2_tree
from por.liabilities.pins import Pins, PublishedTotals

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "conformance" / "okx"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "okx"
V1 = (FIX / "merkle_proof_file.json").read_text()
USER = (FIX / "user_info_file.json").read_text()
TREE_PATH = FIX / "full-liabilities-merkle-tree.txt"
TREE = TREE_PATH.read_text()
V1_ROOT = "ac6b39d2a0aa8112bd1aadff5e7d4b5c2b91cd54d595262ba4367f5d2db4160d"
V2_ROOT = "9e98ebde32ef22ded88a5fb2d5e53d76ed57cb9c6b2c966f250721defe6ab041"
# The totals OKX published with these roots (the root entries of the genuine files)
V1_TOTALS = {"BTC": "95088.55505656", "ETH": "939953.49090361", "USDT": "3137909428.88369702"}
V2_TOTALS = {"BTC": "0.00005", "ETH": "0.1", "USDT": "1.42045977"}
JSON_SPACE = " \t\r\n"


def pinned(root: str, totals) -> Pins:
    """A root and the totals published with it, as `--root HEX --totals FILE` pin them."""
    return Pins(
        root=bytes.fromhex(root.lower().removeprefix("0x")),
        totals=PublishedTotals("totals.json", {k: Decimal(str(v)) for k, v in totals.items()}),
    )


def v1_verdict(text: str, root: str | None = None, totals=V1_TOTALS):
    return okx.verify_okx_v1(okx.parse_okx_v1_proof(text, "proof.json"), pinned(root, totals) if root else None)


def tree_verdict(text: str, root: str | None = None, totals=V2_TOTALS):
    return okx.verify_okx_v2_tree(io.BytesIO(text.encode()), pinned(root, totals) if root else None)


def user_verdict(text: str, tree: str = TREE, root: str | None = None, totals=V2_TOTALS):
    return okx.verify_okx_v2_user(
        okx.parse_okx_v2_user(text, "user.json"), io.BytesIO(tree.encode()), pinned(root, totals) if root else None
    )


def accepted(check, text: str) -> bool:
    try:
        return check(text).ok
    except InputError:
        return False


CHECKS = {
    "v1": (V1, lambda t: v1_verdict(t, V1_ROOT)),
    "user": (USER, lambda t: user_verdict(t, root=V2_ROOT)),
    "tree": (TREE, lambda t: tree_verdict(t, V2_ROOT)),
}


# --- the genuine files -------------------------------------------------------------------


def test_fixture_copies_are_the_shared_files():
    if not SHARED.is_dir():
        pytest.skip("../shared not present")
    for name in ("merkle_proof_file.json", "user_info_file.json", "full-liabilities-merkle-tree.txt"):
        assert (FIX / name).read_bytes() == (SHARED / name).read_bytes()


def test_genuine_v1_proof_verifies_and_shows_the_users_balances():
    v = v1_verdict(V1, V1_ROOT)
    assert v.ok, v.reasons
    assert v.facts["format"] == "okx-v1" and v.facts["root"] == V1_ROOT and v.facts["height"] == 24
    assert v.facts["balances"] == {"BTC": "1.000069", "ETH": "0.99908176", "USDT": "19398.33550812"}
    assert v.facts["root_balances"]["USDT"] == "3137909428.88369702"
    path = v.facts["path"]
    assert [s["height"] for s in path] == list(range(1, 24))
    assert path[21]["side"] == "padding" and path[0]["side"] == "left"


def test_genuine_v2_user_file_verifies_against_the_full_tree():
    v = okx.verify_okx_v2_user(okx.parse_okx_v2_user(USER, "u"), TREE_PATH, pinned(V2_ROOT, V2_TOTALS))
    assert v.ok, v.reasons
    assert v.facts["balances"] == {"BTC": "0.00005", "ETH": "0", "USDT": "0"}
    assert v.facts["inclusion_checked"] and v.facts["root"] == V2_ROOT
    assert sorted(v.facts["leaf_lines"].values()) == [34, 40]


def test_genuine_v2_tree_verifies_with_root_totals_and_counts():
    v = okx.verify_okx_v2_tree(TREE_PATH, pinned("0x" + V2_ROOT.upper(), V2_TOTALS))
    assert v.ok, v.reasons
    assert v.facts["root"] == V2_ROOT and v.facts["height"] == 6 and v.facts["leaf_count"] == 21
    assert v.facts["totals"] == {"BTC": "0.00005", "ETH": "0.1", "USDT": "1.42045977"}


def test_v2_tree_from_a_non_seekable_stream_and_with_crlf_lines():
    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self.inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self.inner.readinto(b)

    assert okx.verify_okx_v2_tree(io.BufferedReader(Pipe(TREE.encode())), pinned(V2_ROOT, V2_TOTALS)).ok
    assert tree_verdict(TREE.replace("\n", "\r\n"), V2_ROOT).ok


def test_other_published_root_fails_every_format():
    other = "00" * 32
    assert "is not the published root" in v1_verdict(V1, other).reasons[-1]
    assert not tree_verdict(TREE, other).ok
    assert not user_verdict(USER, root=other).ok


def test_v2_user_file_alone_checks_itself_but_cannot_anchor_a_root():
    user = okx.parse_okx_v2_user(USER, "u")
    alone = okx.verify_okx_v2_user(user, None, None)
    assert alone.ok and alone.facts["inclusion_checked"] is False
    assert not okx.verify_okx_v2_user(user, None, V2_ROOT).ok


def test_detect_format():
    from por.errors import InputError
    from por.liabilities.foreign import detect

    assert detect.proof_format(V1.encode(), "p") == "okx-v1"
    assert detect.proof_format(USER.encode(), "p") == "okx-v2"
    assert detect.tree_format(TREE.encode()[:200], "t") == "okx-v2"
    assert detect.proof_format(b'{"format":"por-inclusion-proof","version":1}', "p") == "por"
    with pytest.raises(InputError):
        detect.proof_format(b"account_id,asset,amount\n", "p")


# --- one-character tampering, everywhere --------------------------------------------------


def _substitutes(c: str) -> list[str]:
    out = ["e" if c != "e" else "d", "7" if c != "7" else "3", "x", "-"]
    if c.isalpha():
        out.append(c.swapcase())
    return [r for r in out if r != c]


def _significant(text: str, i: int, kind: str) -> bool:
    """Whitespace between JSON tokens carries no meaning; everything else does."""
    return not (kind != "tree" and text[i] in JSON_SPACE)


@pytest.mark.parametrize("kind", sorted(CHECKS))
def test_every_one_character_change_is_rejected(kind):
    text, check = CHECKS[kind]
    assert check(text).ok
    tried = 0
    for i, c in enumerate(text):
        if not _significant(text, i, kind):
            continue
        for r in _substitutes(c):
            tried += 1
            assert not accepted(check, text[:i] + r + text[i + 1 :]), (kind, i, c, r, text[max(0, i - 40) : i + 5])
    assert tried > 2000


@pytest.mark.parametrize("kind", sorted(CHECKS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hypothesis_random_character_changes_are_rejected(kind, data):
    text, check = CHECKS[kind]
    edits = data.draw(st.integers(1, 3))
    out = list(text)
    for _ in range(edits):
        i = data.draw(st.integers(0, len(text) - 1))
        r = data.draw(st.characters(min_codepoint=9, max_codepoint=0x7F) | st.sampled_from("0123456789abcdef"))
        assume(_significant(text, i, kind) or r not in JSON_SPACE)
        out[i] = r
    tampered = "".join(out)
    assume(tampered != text)
    assert not accepted(check, tampered)


def test_every_line_deleted_duplicated_or_swapped_is_rejected():
    lines = TREE.splitlines(keepends=True)
    for i in range(len(lines)):
        assert not accepted(tree_verdict, "".join(lines[:i] + lines[i + 1 :])), ("deleted", i + 1)
        assert not accepted(tree_verdict, "".join(lines[: i + 1] + lines[i:])), ("duplicated", i + 1)
        if i + 1 < len(lines) and lines[i] != lines[i + 1]:
            swapped = lines[:i] + [lines[i + 1], lines[i]] + lines[i + 2 :]
            assert not accepted(tree_verdict, "".join(swapped)), ("swapped", i + 1)


# --- each V2 tree check on its own ---------------------------------------------------------


def _leaves(rng, count):
    return [gen.split_leaf(rng.randbytes(32).hex(), gen.random_balances(rng)) for _ in range(count)]


def _tree_text(levels) -> str:
    return "".join(gen.tree_lines(levels))


def _tree_check(levels):
    """The tree's verdict pinned to its own root and totals: only what is wrong inside it fails."""
    return tree_verdict(_tree_text(levels), *levels[-1][0])


def _only(verdict, *words):
    assert not verdict.ok and len(verdict.reasons) == 1, verdict.reasons
    assert all(w in verdict.reasons[0] for w in words), verdict.reasons


def test_negative_leaf_is_the_only_finding():
    rng = random.Random(3)
    leaves = _leaves(rng, 9)
    leaves[4] = gen.split_leaf("ab" * 32, {"BTC": Decimal("-0.5"), "ETH": Decimal(100), "USDT": Decimal(100)})
    leaves[5] = (leaves[5][0], {"BTC": Decimal(7), "ETH": Decimal(0), "USDT": Decimal(0)})
    _only(_tree_check(gen.build(leaves)), "negative amount BTC -0.5")


def test_duplicated_leaf_is_the_only_finding_in_memory_and_spilled_to_disk():
    rng = random.Random(4)
    leaves = _leaves(rng, 12)
    leaves[9] = leaves[2]
    text = _tree_text(gen.build(leaves))
    _only(_tree_check(gen.build(leaves)), "duplicate leaf")
    _only(scan_okx_v2_tree(io.BytesIO(text.encode()), dedupe_batch=3).verdict, "duplicate leaf")


def test_padding_with_balances_is_the_only_finding():
    rng = random.Random(5)
    leaves = _leaves(rng, 11)
    bump = {"BTC": Decimal("0.1"), "ETH": Decimal(0), "USDT": Decimal(0)}

    def mutate(height, index, node):
        return (node[0], bump) if height == 1 and index == 11 else node

    _only(_tree_check(gen.build(leaves, mutate)), "padding node with non-zero balances")


def test_padding_away_from_the_level_end_is_the_only_finding():
    rng = random.Random(6)
    leaves = _leaves(rng, 8)
    leaves[3] = (leaves[2][0], gen.zero())
    _only(_tree_check(gen.build(leaves)), "not the first node of height 1")


def test_internal_hash_that_does_not_recompute_is_the_only_finding():
    rng = random.Random(7)

    def mutate(height, index, node):
        return ("cd" * 32, node[1]) if (height, index) == (2, 1) else node

    _only(_tree_check(gen.build(_leaves(rng, 8), mutate)), "hash of node at height 2")


def test_internal_sum_that_does_not_add_up_is_the_only_finding():
    rng = random.Random(8)

    def mutate(height, index, node):
        if (height, index) != (3, 0):
            return node
        return node[0], {**node[1], "ETH": node[1]["ETH"] + Decimal("0.00000001")}

    _only(_tree_check(gen.build(_leaves(rng, 8), mutate)), "balances of node at height 3")


def test_second_root_and_truncated_tree_are_rejected():
    with pytest.raises(InputError):
        tree_verdict("")
    assert "not under the root" in tree_verdict(TREE + TREE.splitlines(keepends=True)[0]).reasons[0]
    cut = "".join(TREE.splitlines(keepends=True)[:-2])
    assert "no children" in tree_verdict(cut).reasons[0]


def test_tree_parse_errors_name_file_line_and_field(tmp_path):
    lines = TREE.splitlines(keepends=True)
    path = tmp_path / "tree.txt"
    for bad, where in [
        (lines[2].replace(",5,", ",x,"), "height"),
        (lines[2].replace('"0.1"', '"0.10"'), "balances.ETH"),
        (lines[2].replace('"BTC"', '"BTD"'), "balances"),
        (lines[2].upper(), "hash"),
    ]:
        path.write_text("".join(lines[:2] + [bad] + lines[3:]))
        with pytest.raises(InputError) as err:
            okx.verify_okx_v2_tree(path)
        assert str(err.value).startswith(f"{path}:3: ") and where in str(err.value), str(err.value)


def test_tree_memory_stays_bounded_on_a_large_file(tmp_path):
    rng = random.Random(9)
    levels = gen.build(_leaves(rng, 1 << 15))
    path = tmp_path / "big.txt"
    gen.write_tree(path, levels)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        scan = scan_okx_v2_tree(path, dedupe_batch=4096, digest=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert scan.verdict.ok and scan.verdict.facts["leaf_count"] == 1 << 15 and scan.root == levels[-1][0][0]
    assert scan.sha256 == hashlib.sha256(path.read_bytes()).digest()
    assert size > 6_000_000 and peak < 6_000_000, (size, peak)


# --- each V1 check on its own ------------------------------------------------------------


def _v1(doc) -> object:
    return v1_verdict(json.dumps(doc), doc["path"][-1]["hash"], doc["path"][-1]["balances"])


def test_v1_generated_proofs_verify_for_every_position_and_size():
    rng = random.Random(10)
    for count in (2, 3, 5, 8, 13):
        for index in range(count):
            v = _v1(gen.v1_case(rng, count, index))
            assert v.ok, (count, index, v.reasons)


def test_v1_negative_own_balance_is_the_only_finding():
    own = {"BTC": Decimal("-1"), "ETH": Decimal(0), "USDT": Decimal(0)}
    bump = lambda h, i, n: (n[0], {**n[1], "BTC": n[1]["BTC"] + 5}) if (h, i) == (1, 1) else n  # noqa: E731
    _only(_v1(gen.v1_case(random.Random(11), 6, 0, bump, own=own)), "self: negative amount BTC -1")


def test_v1_padding_with_balances_is_the_only_finding():
    def mutate(height, index, node):
        return (node[0], {**node[1], "USDT": Decimal(1)}) if (height, index) == (1, 5) else node

    doc = gen.v1_case(random.Random(12), 5, 4, mutate)
    assert doc["path"][0]["type"] == 4
    _only(_v1(doc), "path[0]: padding must repeat")


def test_v1_padding_not_marked_as_padding_is_the_only_finding():
    doc = gen.v1_case(random.Random(13), 5, 4)
    doc["path"][0]["type"] = 2
    _only(_v1(doc), "not marked padding")


def test_v1_wrong_sibling_height_root_sum_audit_id_and_sibling_nonce_each_alone():
    rng = random.Random(14)
    doc = gen.v1_case(rng, 8, 3)
    doc["path"][1]["height"] = 5
    _only(_v1(doc), "path[1]: height 5")
    doc = gen.v1_case(rng, 8, 3)
    doc["path"][0]["auditId"] = "2"
    _only(_v1(doc), "auditId")
    doc = gen.v1_case(rng, 8, 3)
    doc["path"][-1]["balances"]["ETH"] = "1"
    _only(_v1(doc), "root balances are not the sum")
    doc = gen.v1_case(rng, 8, 3)
    doc["path"][0]["nonce"] = "00" * 32
    _only(_v1(doc), "sibling leaf hash does not recompute")
    doc = gen.v1_case(rng, 8, 3)
    doc["path"][1]["type"] = 3
    assert not _v1(doc).ok


def test_v1_parse_errors_name_the_field():
    doc = json.loads(V1)
    doc["path"][2]["balances"]["BTC"] = 0.5
    with pytest.raises(InputError, match=r"path\[2\]\.balances\.BTC"):
        okx.parse_okx_v1_proof(json.dumps(doc), "p")
    with pytest.raises(InputError, match="duplicate key"):
        okx.parse_okx_v1_proof(V1.replace('{"auditId"', '{"type":1,"auditId"', 1), "p")
    with pytest.raises(InputError, match="unknown field"):
        okx.parse_okx_v1_proof(V1.replace('"nonce"', '"nonse"', 1), "p")


# --- each V2 user check on its own -------------------------------------------------------


def _user_case(rng, doc, extra_leaves=()):
    leaves = gen.user_leaves(doc) + list(extra_leaves) + _leaves(rng, 5)
    rng.shuffle(leaves)
    levels = gen.build(leaves)
    return user_verdict(json.dumps(doc), _tree_text(levels), levels[-1][0][0], levels[-1][0][1])


def _resplit(doc, parts):
    """The same user with other split leaves, hashes recomputed."""
    parts = [{a: Decimal(v) for a, v in p.items()} for p in parts]
    doc["nodes"] = [
        {"balances": {a: gen.text(p[a]) for a in p}, "hash": gen.split_leaf(doc["hash"], p)[0]} for p in parts
    ]
    return doc


def test_v2_generated_users_verify():
    rng = random.Random(20)
    for pieces in (1, 2, 3):
        assert _user_case(rng, gen.v2_user(rng, pieces=pieces)).ok


def test_v2_negative_split_compensated_is_the_only_finding():
    rng = random.Random(21)
    doc = gen.v2_user(rng, {"BTC": Decimal(1), "ETH": Decimal(0), "USDT": Decimal(0)})
    doc = _resplit(doc, [{"BTC": "1.5", "ETH": "0", "USDT": "0"}, {"BTC": "-0.5", "ETH": "0", "USDT": "0"}])
    _only(
        okx.verify_okx_v2_user(okx.parse_okx_v2_user(json.dumps(doc), "u"), None, None),
        "nodes[1]: negative amount BTC -0.5",
    )
    assert not _user_case(rng, doc).ok  # the tree holding that leaf fails on its own too


def test_v2_splits_not_summing_to_total_is_the_only_finding():
    rng = random.Random(22)
    doc = gen.v2_user(rng, {"BTC": Decimal(1), "ETH": Decimal(2), "USDT": Decimal(0)})
    doc = _resplit(doc, [{"BTC": "0.4", "ETH": "2", "USDT": "0"}, {"BTC": "0.5", "ETH": "0", "USDT": "0"}])
    _only(_user_case(rng, doc), "split balances sum to")


def test_v2_user_hash_and_split_hash_must_recompute_each_alone():
    rng = random.Random(23)
    doc = gen.v2_user(rng)
    doc["nonce"] = "11" * 32
    _only(okx.verify_okx_v2_user(okx.parse_okx_v2_user(json.dumps(doc), "u"), None, None), "user hash")
    doc = gen.v2_user(rng)
    doc["nodes"][0]["hash"] = "22" * 32  # and the tree holds exactly that leaf
    _only(_user_case(rng, doc), "nodes[0]: hash does not recompute")


def test_v2_split_leaf_missing_from_tree_or_with_other_balances_is_the_only_finding():
    rng = random.Random(24)
    doc = gen.v2_user(rng)
    leaves = gen.user_leaves(doc)
    others = _leaves(rng, 6)
    levels = gen.build(leaves[:1] + others)
    _only(user_verdict(json.dumps(doc), _tree_text(levels), *levels[-1][0]), "nodes[1]", "is not a leaf")
    moved = (leaves[1][0], {**leaves[1][1], "USDT": leaves[1][1]["USDT"] + 1})
    levels = gen.build(leaves[:1] + [moved] + others)
    _only(user_verdict(json.dumps(doc), _tree_text(levels), *levels[-1][0]), "other balances")


# --- amount text -------------------------------------------------------------------------


@given(st.integers(-(10**20), 10**20))
def test_amount_text_round_trips_and_matches_decimal_formatting(units):
    text = units_text(units)
    assert parse_units(text) == units
    assert text == gen.text(Decimal(units) / Decimal(10**8))


@pytest.mark.parametrize("bad", ["0.10", "01", "1.", ".5", "+1", "-0", "1e-8", "0.000000001", " 1", "1,5", ""])
def test_non_canonical_amounts_are_bad_input(bad):
    with pytest.raises(InputError):
        parse_units(bad)


# --- issue 12: only what OKX writes; totals, height and coins bound by name ------------------------


def test_an_okx_root_reads_as_other_totals_and_heights():
    """Why a root alone is not enough: the joined texts split more than one canonical way."""
    root = json.loads(V1)["path"][-1]
    assert readings([root["balances"][c] for c in okx.COINS], root["height"]) == 144
    assert readings(list(V2_TOTALS.values()), 6) == 6  # "1.42045977"+"6" is also "1.4204597"+"76"
    assert readings(["12", "3"], 5) == 3 and readings(["1"], 2) == 1


def test_v1_leaf_count_range_is_exactly_the_trees_that_fit_the_path():
    """A V1 proof shows the leaf count as a range; every count in it, and none outside, builds this path."""
    rng = random.Random(30)
    cases = {(n, i): gen.v1_case(rng, n, i) for n in range(2, 41) for i in range(n)}
    shape = {key: [n["type"] for n in doc["path"]] for key, doc in cases.items()}
    for (count, index), doc in cases.items():
        if count > 20:
            continue
        low, high = _v1(doc).facts["leaf_count_range"]
        fits = [n for n in range(2, 41) if (n, index) in shape and shape[n, index] == shape[count, index]]
        assert fits == list(range(low, high + 1)), (count, index, low, high, fits)


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda d: d["self"]["balances"].pop("ETH"), "missing ETH"),
        (
            lambda d: d["self"].update(
                balances={
                    "ETH": d["self"]["balances"]["ETH"],
                    "BTC": d["self"]["balances"]["BTC"],
                    "USDT": d["self"]["balances"]["USDT"],
                }
            ),
            "coins in the order ETH, BTC, USDT",
        ),
        (
            lambda d: d["self"].update(
                balances={("btc" if k == "BTC" else k): v for k, v in d["self"]["balances"].items()}
            ),
            "'btc' is not a coin",
        ),
        (lambda d: d["path"][3]["balances"].update(DOGE="0"), "'DOGE' is not a coin"),
        (lambda d: d["self"].update(nonce=d["self"]["nonce"].upper()), "self.nonce: expected 64 lower-case hex"),
        (lambda d: d["path"][0].update(nonce=d["path"][0]["nonce"][:-1]), "path[0].nonce"),
        (lambda d: d["path"][2].update(auditId="4999 30592"), "path[2].auditId: expected 1-20 digits"),
    ],
)
def test_v1_spellings_okx_never_writes_are_refused(edit, words):
    doc = json.loads(V1)
    edit(doc)
    with pytest.raises(InputError, match=re.escape(words)):
        okx.parse_okx_v1_proof(json.dumps(doc), "p")


def test_json_escapes_and_user_node_heights_okx_never_writes_are_refused():
    with pytest.raises(InputError, match=r"p:1: a JSON escape .* not as OKX writes it"):
        okx.parse_okx_v1_proof(V1.replace('"0.00007282"', '"0.0000728\\u0032"', 1), "p")
    with pytest.raises(InputError, match="not as OKX writes it"):
        okx.parse_okx_v2_user(USER.replace('"ETH"', '"\\u0045TH"', 1), "u")
    doc = json.loads(USER)
    doc["nodes"][0]["height"] = 1
    with pytest.raises(InputError, match=r"nodes\[0\]\.height: unknown field"):
        okx.parse_okx_v2_user(json.dumps(doc), "u")


@pytest.mark.parametrize(
    "before, after",
    [
        (b'"ETH":"0"', b'"ETH": "0"'),
        (b'"ETH":"0"', b'"\\u0045TH":"0"'),
        (b'"ETH":"0"', b'"ETH":"\\u0030"'),
        (b'"}', b'"} '),
        (b'"}', b'"}\r\r'),
        (b'{"BTC"', b'{ "BTC"'),
        (b'"ETH"', b'"eth"'),
    ],
)
def test_tree_line_spellings_okx_never_writes_are_refused(before, after):
    lines = TREE.encode().split(b"\n")
    assert before in lines[1]
    lines[1] = lines[1].replace(before, after, 1)
    with pytest.raises(InputError, match=r"tree:2: balances"):
        okx.verify_okx_v2_tree(io.BytesIO(b"\n".join(lines)), pinned(V2_ROOT, V2_TOTALS))


def test_no_pattern_is_built_from_a_coin_name():
    """`B.C` on line 1 once made the line pattern match `BXC` on every other line (issue 12, item 11)."""
    lines = TREE.splitlines(keepends=True)
    forged = [lines[0].replace('"BTC"', '"B.C"')] + [line.replace('"BTC"', '"BXC"') for line in lines[1:]]
    with pytest.raises(InputError, match="'B.C' is not a coin"):
        tree_verdict("".join(forged), V2_ROOT)
    source = (Path(okx.__file__).parent / "tree.py").read_text()
    assert 're.compile(b"\\\\{" + pattern' not in source and "re.escape(c.encode())" in source


def test_a_tree_that_rereads_the_users_own_leaf_as_another_coin_fails_by_name():
    """The user's split leaf "0.0000487","0","0" hashes like "0.000048","70","0": same leaf hash,
    70 ETH instead of 0.0000487 BTC. A tree published with that reading owes another coin."""
    doc = json.loads(USER)
    leaves = gen.user_leaves(doc)
    assert leaves[0][1]["BTC"] == Decimal("0.0000487") and not leaves[0][1]["ETH"]
    reread = (leaves[0][0], {"BTC": Decimal("0.000048"), "ETH": Decimal(70), "USDT": Decimal(0)})
    assert gen.split_leaf(doc["hash"], reread[1])[0] == leaves[0][0]
    levels = gen.build([reread, leaves[1]] + _leaves(random.Random(31), 5))
    _only(user_verdict(USER, _tree_text(levels), *levels[-1][0]), "nodes[0]", "other balances")


def test_root_alone_is_not_verified_and_totals_are_compared_by_name():
    v = v1_verdict(V1)
    assert v.ok and not v.facts["anchored"]  # nothing pinned: the fail-closed rule is the CLI's
    alone = okx.verify_okx_v1(okx.parse_okx_v1_proof(V1, "p"), V1_ROOT)
    assert not alone.ok and "reads 144 ways" in alone.reasons[0] and "--totals" in alone.reasons[0]
    assert v1_verdict(V1, V1_ROOT).ok
    swapped = {"BTC": V1_TOTALS["ETH"], "ETH": V1_TOTALS["BTC"], "USDT": V1_TOTALS["USDT"]}
    assert [r.split(" is not")[0] for r in v1_verdict(V1, V1_ROOT, swapped).reasons] == [
        "totals: BTC 95088.55505656",
        "totals: ETH 939953.49090361",
    ]
    assert "lists DOGE" in v1_verdict(V1, V1_ROOT, {**V1_TOTALS, "DOGE": 0}).reasons[0]
    assert any("the tree holds USDT" in r for r in v1_verdict(V1, V1_ROOT, {"BTC": 1, "ETH": 1}).reasons)


def test_every_okx_verdict_says_what_the_root_does_not_bind():
    user = okx.parse_okx_v2_user(USER, "u")
    pins = pinned(V2_ROOT, V2_TOTALS)
    verdicts = [
        v1_verdict(V1),
        v1_verdict(V1, V1_ROOT),
        okx.verify_okx_v1(okx.parse_okx_v1_proof(V1, "p"), V1_ROOT),
        okx.verify_okx_v2_user(user, TREE_PATH),
        okx.verify_okx_v2_user(user, TREE_PATH, pins),
        okx.verify_okx_v2_tree(TREE_PATH),
        okx.verify_okx_v2_tree(TREE_PATH, pins),
    ]
    for v in verdicts:
        assert v.facts["root_does_not_bind"][:2] == ["per-coin totals", "height"]
        assert any("does not bind the per-coin totals or the height" in t for t in v.facts["notes"] + v.reasons)
    assert all("account id" in v.facts["root_does_not_bind"] for v in verdicts[:5])
