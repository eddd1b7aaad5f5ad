"""Fuzzing every parser and verifier with hypothesis: never an exception other than a PorError,
and through the CLI never an exit other than 1 or 2 (0 only for an unchanged or valid input)
and never an internal error.

Inputs are valid documents mutated byte-wise (flips, cuts, splices, hostile tokens) plus raw
random bytes. Example counts are bounded for CI (POR_FUZZ_EXAMPLES raises them locally).
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chains.evm  # noqa: F401 - py_ecc raises the recursion limit on import; do it before hypothesis looks
from chains import family_module
from chains.records import ownership_message
from fixtures.adversarial.input_cases import CHAINS, SNAPSHOT, WALLET_HEAD, WALLET_ROW
from fixtures.adversarial.por_cases import Book, _text
from fixtures.okx import build, random_balances, split_leaf, tree_lines, user_leaves, v1_case, v2_user
from por.amounts import AssetTable, parse_amount
from por.audit.policy import parse_policy
from por.audit.prices import load_prices
from por.errors import MAX_REPORTED_ROWS, PorError
from por.liabilities.check import verify_proof_document
from por.liabilities.foreign import okx
from por.liabilities.inclusion import verify_inclusion
from por.liabilities.ingest import load_customers
from por.liabilities.porjson import parse_commitment, parse_proof
from por.liabilities.treefile import verify_tree_file
from por.reserves.inputs import load_chains_config, load_snapshot, load_wallets
from por.strictjson import loads

EXAMPLES = int(os.environ.get("POR_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("POR_FUZZ_EXAMPLES"),
    suppress_health_check=list(HealthCheck),
)
TOKENS = [
    b"-",
    b"-1",
    b"+",
    b"e",
    b"1e999999",
    b"NaN",
    b"Infinity",
    b"null",
    b"true",
    b"[]",
    b"{}",
    b'"',
    b"\\",
    b"\\ud800",
    b"\x00",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\r\n",
    b",",
    b"\n",
    b"0" * 400,
    b"9" * 5000,
    "\u202e".encode(),
    "١".encode(),
    b"0x",
    b"|",
    b"[chains.x]",
    b"=",
    b"'''",
]

# --- valid documents to start from -------------------------------------------------------------------
_rng = random.Random(8)
BOOK = Book.make(_rng, 7)
PROOF = _text(BOOK.proof(3)).encode()
COMMITMENT_DOC = BOOK.commitment()
COMMITMENT = _text(COMMITMENT_DOC).encode()
TREE = BOOK.tree_bytes()
OKX_V1 = json.dumps(v1_case(_rng, 6, 2), indent=2).encode()
_user = v2_user(_rng)
OKX_USER = json.dumps(_user, indent=2).encode()
OKX_TREE = "".join(
    tree_lines(build(user_leaves(_user) + [split_leaf(f"{i:064x}", random_balances(_rng)) for i in range(3)]))
).encode()
CUSTOMERS = b'account_id,asset,amount\r\nalice,BTC,1.5\r\n"bob, jr",ETH,0.000000000000000001\r\ncarol,USDT,7\r\n'
WALLETS_CSV = (WALLET_HEAD + WALLET_ROW).encode()
WALLETS_JSON = json.dumps(
    {"exchange": "ex", "wallets": list(csv.DictReader(io.StringIO(WALLET_HEAD + WALLET_ROW)))}
).encode()
SNAPSHOT_BYTES = json.dumps(SNAPSHOT).encode()
CHAINS_BYTES = (
    CHAINS + '[chains.btc]\nfamily = "bitcoin"\nnetwork = "regtest"\nnode_rpc = ["http://x:k@127.0.0.1:9"]\n'
).encode()
POLICY = (Path(__file__).resolve().parents[1] / "por" / "policies" / "jp-fsa.toml").read_bytes()
PRICES = (
    b"asset,price_jpy,source,time\nBTC,14500000.5,a quote,2024-06-30T00:00:00+09:00\n"
    b"ETH,500000,b,2024-06-30T00:00:00Z\n"
)


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """A few edits of `original`: flip, cut, splice in a hostile token, duplicate, truncate."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "token", "dup", "truncate", "byte"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "token":
            data[at : at + draw(st.integers(0, 3))] = draw(st.sampled_from(TOKENS))
        elif kind == "dup":
            end = at + draw(st.integers(1, 200))
            data[at:at] = data[at:end]
        elif kind == "truncate":
            del data[at:]
        else:
            data[at : at + 1] = bytes([draw(st.integers(0, 255))])
    return bytes(data)


def inputs(original: bytes):
    return st.one_of(mutated(original), st.binary(max_size=300))


def refused_or_accepted(call, *args):
    """Runs a parser/verifier: a PorError is a refusal; anything else escaping is a bug."""
    try:
        return call(*args)
    except PorError:
        return None


def _file(data: bytes, name: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="por-fuzz-"))
    path = folder / name
    path.write_bytes(data)
    return path


# --- parsers and verifiers, in process ---------------------------------------------------------------


@FUZZ
@given(data=inputs(PROOF))
def test_por_proof(data):
    commitment = parse_commitment(loads(COMMITMENT, "c.json"), "c.json")
    parsed = refused_or_accepted(lambda: parse_proof(loads(data.decode("utf-8", "replace"), "p.json"), "p.json"))
    if parsed is not None and verify_inclusion(parsed, commitment=commitment).ok:
        assert parsed.to_json() == parse_proof(loads(PROOF, "p.json"), "p.json").to_json()  # only layout changed


@FUZZ
@given(data=inputs(COMMITMENT))
def test_por_commitment(data):
    refused_or_accepted(lambda: parse_commitment(loads(data.decode("utf-8", "replace"), "c.json"), "c.json"))


@FUZZ
@given(data=inputs(TREE))
def test_por_tree_file(data):
    commitment = parse_commitment(loads(COMMITMENT, "c.json"), "c.json")
    path = _file(data, "tree.bin")
    verdict = refused_or_accepted(verify_tree_file, path, commitment)
    if verdict is not None and verdict.ok:
        assert data == TREE
    path.unlink()


@FUZZ
@given(data=inputs(OKX_V1))
def test_okx_v1(data):
    proof = refused_or_accepted(okx.parse_okx_v1_proof, data, "v1.json")
    if proof is not None and okx.verify_okx_v1(proof, json.loads(OKX_V1)["path"][-1]["hash"]).ok:
        assert proof == okx.parse_okx_v1_proof(OKX_V1, "v1.json")  # only layout changed


@FUZZ
@given(data=inputs(OKX_USER), tree=inputs(OKX_TREE))
def test_okx_v2_user_and_tree(data, tree):
    user = refused_or_accepted(okx.parse_okx_v2_user, data, "user.json")
    path, genuine = _file(tree, "tree.txt"), _file(OKX_TREE, "tree.txt")
    verdict = refused_or_accepted(okx.verify_okx_v2_tree, path)
    if verdict is not None and verdict.ok:
        assert same_document("okx-tree", tree, OKX_TREE)  # only line ends changed
    if user is not None:
        refused_or_accepted(okx.verify_okx_v2_user, user, path, None)
        included = refused_or_accepted(okx.verify_okx_v2_user, user, genuine, None)
        if included is not None and included.ok:
            assert user == okx.parse_okx_v2_user(OKX_USER, "user.json")  # only layout changed
    path.unlink()
    genuine.unlink()


@FUZZ
@given(data=inputs(CUSTOMERS), name=st.sampled_from(["c.csv", "c.parquet"]))
def test_customers(data, name):
    path = _file(data, name)
    book = refused_or_accepted(load_customers, path, AssetTable())
    if book is not None:
        assert all(v >= 0 for column in book.columns for v in column)


@FUZZ
@given(data=inputs(WALLETS_CSV), json_data=inputs(WALLETS_JSON))
def test_wallets_and_ownership(data, json_data):
    for raw, name in ((data, "w.csv"), (json_data, "w.json")):
        loaded = refused_or_accepted(load_wallets, _file(raw, name))
        for wallet in (loaded or ([], None))[0]:
            config = {"family": "evm", "chain_id": 1, "rpc": ["http://127.0.0.1:9"], "native_asset": "ETH"}
            for family in ("evm", "bitcoin"):
                module = family_module(family)
                cfg = config if family == "evm" else {"family": "bitcoin", "network": "regtest"}
                result = module.verify_ownership(wallet, ownership_message("s", "ex", wallet.address), cfg)
                assert isinstance(result.ok, bool) and result.reason
                refused_or_accepted(module.validate_address, wallet.address, cfg)
                refused_or_accepted(module.balance_query, wallet, cfg)


@FUZZ
@given(data=inputs(SNAPSHOT_BYTES))
def test_snapshot(data):
    refused_or_accepted(load_snapshot, _file(data, "snapshot.json"))


@FUZZ
@given(data=inputs(CHAINS_BYTES))
def test_chains_toml_and_adapter_settings(data):
    tables = refused_or_accepted(load_chains_config, _file(data, "chains.toml"))
    for name, table in (tables or {}).items():
        try:
            module = family_module(table["family"])
        except ValueError:
            continue
        refused_or_accepted(module.make_adapter, name, table)


@FUZZ
@given(data=inputs(POLICY))
def test_policy(data):
    refused_or_accepted(parse_policy, data, "policy.toml")


@FUZZ
@given(data=inputs(PRICES))
def test_prices(data):
    refused_or_accepted(load_prices, _file(data, "prices.csv"))


@FUZZ
@given(
    text=st.text(max_size=90) | st.sampled_from(["1e999999", "+1", "-0", "0.10", "١", "1_0", "9" * 81]),
    decimals=st.integers(0, 36),
    canonical=st.booleans(),
)
def test_amounts(text, decimals, canonical):
    units = refused_or_accepted(lambda: parse_amount(text, decimals, canonical=canonical))
    if units is not None:
        assert units >= 0 and not any(c in text for c in "+-eE_")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(doc, prefix=()):
    yield prefix
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        yield from _paths(value, prefix + (key,))


JSON_PARSERS = {
    "proof": (PROOF, lambda d: verify_inclusion(parse_proof(d, "p.json"))),
    "commitment": (COMMITMENT, lambda d: parse_commitment(d, "c.json")),
    "okx-v1": (OKX_V1, lambda d: okx.verify_okx_v1(okx.parse_okx_v1_proof(json.dumps(d), "v1.json"), None)),
    "okx-user": (
        OKX_USER,
        lambda d: okx.verify_okx_v2_user(okx.parse_okx_v2_user(json.dumps(d), "u.json"), None, None),
    ),
    "snapshot": (SNAPSHOT_BYTES, lambda d: load_snapshot(_file(json.dumps(d).encode(), "s.json"))),
    "wallets": (WALLETS_JSON, lambda d: load_wallets(_file(json.dumps(d).encode(), "w.json"))),
}


@FUZZ
@given(kind=st.sampled_from(sorted(JSON_PARSERS)), data=st.data())
def test_json_fields_of_any_type(kind, data):
    """Type confusion: any field (or the whole document) replaced by any JSON value."""
    original, check = JSON_PARSERS[kind]
    doc = json.loads(original)
    path = data.draw(st.sampled_from(list(_paths(doc))))
    value = data.draw(JSON_VALUES)
    if not path:
        doc = value
    else:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    try:
        json.dumps(doc, allow_nan=False)
    except ValueError:
        return  # NaN/inf: strict JSON never yields them (tested above)
    refused_or_accepted(check, doc)


def _leaves(doc, path=()):
    """(path, value) of every scalar, and (path + (KEY,), key) of every member name."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else None
    if items is None:
        yield path, doc
        return
    for key, value in items:
        if isinstance(key, str):
            yield path + (KEY, key), key
        yield from _leaves(value, path + (key,))


KEY = object()  # marks a member name (not its value) as the thing edited
PINNED = parse_commitment(json.loads(COMMITMENT), "c.json")


def _layout(value, choice: int) -> bytes:
    """One value, saved as editors and tools save it."""
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    return [
        text.encode(),
        b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode(),
        json.dumps(value, indent=4, sort_keys=True).encode(),
        json.dumps(value, separators=(",", ":")).encode(),
        ("\ufeff" + json.dumps(value, indent="\t", ensure_ascii=True) + "\r\n").encode(),
    ][choice]


@FUZZ
@given(data=st.data())
def test_proof_values_mutated_anywhere_are_refused(data):
    """Issue 13 item 7: the value is the proof, not its bytes. Any field, any character of any
    value or member name, is changed, then the proof is saved in any layout (BOM, CRLF, other
    indentation, sorted keys, escapes): it is refused, unless the edit left the value as it was,
    and then it verifies and reads as exactly the original value."""
    original = json.loads(PROOF)
    doc = json.loads(PROOF)
    path, value = data.draw(st.sampled_from(list(_leaves(doc))), label="field")
    if isinstance(value, str):
        at = data.draw(st.integers(0, len(value)), label="at")
        char = data.draw(st.characters(codec="utf-8") | st.sampled_from("0123456789abcdef.-"), label="char")
        how = data.draw(st.sampled_from(["replace", "insert", "delete"]), label="how")
        new = value[:at] + ("" if how == "delete" else char) + value[at + (how != "insert") :]
    elif isinstance(value, bool):
        new = data.draw(st.sampled_from([not value, 1, 0, None]))
    else:
        new = data.draw(st.integers(-2, 2**65) | st.sampled_from([str(value), float(value), None, True]))
    parent = doc
    steps = path[:-2] if path[-2:-1] == (KEY,) else path[:-1]
    for step in steps:
        parent = parent[step]
    if path[-2:-1] == (KEY,):
        parent = {(new if k == value else k): v for k, v in parent.items()}
        if steps:
            holder = doc
            for step in steps[:-1]:
                holder = holder[step]
            holder[steps[-1]] = parent
        else:
            doc = parent
    else:
        parent[path[-1]] = new
    raw = _layout(doc, data.draw(st.integers(0, 4), label="layout"))
    verdict = verify_proof_document("por", raw, Path("p.json"), PINNED, None, None)
    if verdict.ok:
        assert _spelled(loads(raw, "p")) == _spelled(original) and verdict.verified, (path, value, new)
    else:
        assert _spelled(doc) != _spelled(original), (path, verdict.reasons)


def _spelled(value) -> str:
    """A value with its types (6 and 6.0, 1 and true differ), whatever its key order."""
    return json.dumps(value, sort_keys=True)


# --- through the CLI: exit 1 or 2, one line on stderr, never an internal error --------------------------


def run_cli(*argv: str) -> tuple[int, str, str]:
    from por.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(list(argv))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


CLI = {
    "proof": (PROOF, "proof.json", ["verify-inclusion", "{file}", "--commitment", "{dir}/commitment.json"]),
    "okx-v1": (OKX_V1, "proof.json", ["verify-inclusion", "{file}"]),
    "okx-user": (OKX_USER, "user.json", ["verify-inclusion", "{file}", "--tree", "{dir}/tree.txt"]),
    "tree": (TREE, "tree.bin", ["verify-tree", "{file}", "--commitment", "{dir}/commitment.json"]),
    "okx-tree": (OKX_TREE, "tree.txt", ["verify-tree", "{file}"]),
    "commitment": (COMMITMENT, "c.json", ["verify-tree", "{dir}/tree.bin", "--commitment", "{file}"]),
    "customers": (CUSTOMERS, "c.csv", ["publish", "{file}", "--exchange", "Ex", "--out", "{dir}/out"]),
    "wallets": (
        WALLETS_CSV,
        "w.csv",
        [
            "reserves",
            "{file}",
            "--snapshot",
            "{dir}/snapshot.json",
            "--config",
            "{dir}/chains.toml",
            "--exchange",
            "ex",
        ],
    ),
    "policy": (
        POLICY,
        "p.toml",
        [
            "audit",
            "--commitment",
            "{dir}/commitment.json",
            "--wallets",
            "{dir}/w.csv",
            "--snapshot",
            "{dir}/snapshot.json",
            "--config",
            "{dir}/chains.toml",
            "--policy",
            "{file}",
        ],
    ),
}


def same_document(kind: str, data: bytes, original: bytes) -> bool:
    """Only layout changed: JSON that parses to the same value, tree lines with other line ends."""
    if data == original:
        return True
    if kind == "commitment":  # exchange name and time are not bound to the tree; the rest must be
        bound = ("root", "totals", "assets", "leaf_count", "height", "snapshot_id", "tree_sha256")
        doc, ref = (parse_commitment(loads(d, "c.json"), "c.json") for d in (data, original))
        return all(getattr(doc, k) == getattr(ref, k) for k in bound)
    if kind == "okx-tree":
        return data.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n").rstrip(b"\n") == original.rstrip(b"\n")
    try:
        return kind != "tree" and json.loads(data.decode("utf-8-sig")) == json.loads(original)
    except ValueError:
        return False


@pytest.mark.parametrize("kind", sorted(CLI))
def test_cli_exits_1_or_2_with_one_line(kind):
    original, name, argv = CLI[kind]

    @settings(
        max_examples=max(EXAMPLES // 4, 5),
        deadline=None,
        derandomize=FUZZ.derandomize,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=mutated(original))
    def check(data):
        folder = Path(tempfile.mkdtemp(prefix="por-fuzz-cli-"))
        (folder / "commitment.json").write_bytes(COMMITMENT)
        (folder / "tree.bin").write_bytes(TREE)
        (folder / "tree.txt").write_bytes(OKX_TREE)
        (folder / "snapshot.json").write_bytes(SNAPSHOT_BYTES)
        (folder / "chains.toml").write_text(
            CHAINS.replace('native_asset = "ETH"\n', 'native_asset = "ETH"\nattempts = 1\ntimeout = 1\n')
        )
        (folder / "w.csv").write_bytes(WALLETS_CSV)
        (folder / name).write_bytes(data)
        code, out, err = run_cli(*[a.format(file=folder / name, dir=folder) for a in argv])
        assert "Traceback" not in out + err and "internal error" not in err, err
        lines = err.strip().splitlines()
        if kind == "customers" and code == 2:  # every bad row named in one run, one line each (item 8)
            assert 1 <= len(lines) <= MAX_REPORTED_ROWS + 1, err
            assert (
                all(
                    re.match(rf"por: error: ({re.escape(str(folder / name))}:\d+: |and \d+ more)", line)
                    for line in lines
                )
                or len(lines) == 1
            ), err
        else:
            assert len(lines) <= 1, err
        if code == 0:
            assert kind in ("customers", "policy") or same_document(kind, data, original), (kind, out)
        else:
            assert code in (1, 2), (code, err)
            if code == 2:
                assert err.startswith("por: ") and len(lines) >= 1, err

    check()
