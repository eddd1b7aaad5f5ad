"""The liabilities commands end to end: exit codes, exact balances, one-line errors.

A 1,000-account book is generated here with its own arithmetic (Decimal,
no por code), published, proved and verified; then proofs and the tree are
edited one character at a time and every edit must fail verification
(exit 1), never verify and never crash. Most runs call the same `main` the
console script calls, in this process; a sample goes through a real child
process to prove the process boundary (exit status, stderr) holds too.
"""

from __future__ import annotations

import csv
import json
import random
import re
import string
from decimal import Decimal, localcontext
from pathlib import Path

import pytest

from fixtures.liabilities import run_por, run_por_process
from por.errors import InputError
from por.strictjson import loads

DECIMALS = {"BTC": 8, "ETH": 18, "USDT": 6}
ACCOUNTS = 1000


def independent_book(
    rng: random.Random, count: int
) -> tuple[list[tuple[str, str, str]], dict[str, dict[str, Decimal]]]:
    """Rows as an exchange exports them (trailing zeros, shuffled) and each account's exact balances."""
    rows, balances = [], {}
    for i in range(count):
        account = f"cust-{rng.randrange(36**6):06d}-{i}" if i % 50 else f"客户{i}"
        held = {}
        for asset, decimals in DECIMALS.items():
            if rng.random() < 0.6 or (not held and asset == "USDT"):
                whole = str(rng.randrange(10 ** rng.randint(1, 9)))
                frac = "".join(rng.choice(string.digits) for _ in range(rng.randint(0, decimals)))
                text = f"{whole}.{frac}" if frac else whole
                rows.append((account, asset, text))
                held[asset] = Decimal(text)
        balances[account] = held
    rng.shuffle(rows)
    return rows, balances


def canonical(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    rng = random.Random(20240601)
    rows, balances = independent_book(rng, ACCOUNTS)
    customers = tmp / "customers.csv"
    with open(customers, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["account_id", "asset", "amount"])
        writer.writerows(rows)
    code, out, err = run_por_process(
        "publish", customers, "--out", tmp / "pub", "--snapshot-id", "2024-06-01", "--exchange", "Test Exchange"
    )
    assert code == 0, err
    return tmp, balances, rows, out


def prove(book, account: str, name: str = "proof.json") -> Path:
    tmp = book[0]
    path = tmp / name
    code, _, err = run_por("prove", tmp / "pub", account, "--out", path)
    assert code == 0, err
    return path


def shown_balances(stdout: str) -> dict[str, str]:
    """asset → amount as the table shows it, thousands separators taken out."""
    return {
        asset: amount.replace(",", "")
        for asset, amount in re.findall(r"^(BTC|ETH|USDT)\s+([0-9.,]+)\s*$", stdout, re.M)
    }


def test_totals_are_the_files_sums(book):
    tmp, balances, rows, out = book
    commitment = json.loads((tmp / "pub" / "commitment.json").read_text())
    with localcontext() as context:
        context.prec = 200  # exact: the default 28 digits would round
        sums = {asset: sum((Decimal(a) for _, s, a in rows if s == asset), Decimal(0)) for asset in DECIMALS}
    assert {k: Decimal(v) for k, v in commitment["totals"].items()} == sums
    assert commitment["totals"] == {k: canonical(v) for k, v in sums.items()}
    assert commitment["leaf_count"] == ACCOUNTS and commitment["snapshot_id"] == "2024-06-01"
    for asset, total in commitment["totals"].items():
        assert shown_balances(out)[asset] == total


def test_random_accounts_verify_with_exact_balances(book):
    tmp, balances, _, _ = book
    accounts = random.Random(7).sample(sorted(balances), 20) + ["客户0"]
    commitment = tmp / "pub" / "commitment.json"
    for n, account in enumerate(accounts):
        path = prove(book, account, f"p{n}.json")
        expected = {a: canonical(v) for a, v in balances[account].items()}
        runner = run_por_process if n < 3 else run_por
        code, out, err = runner("verify-inclusion", path, "--commitment", commitment)
        assert code == 0 and err == "", (account, out, err)
        assert "VERIFIED" in out and account in out
        assert {k: v for k, v in shown_balances(out).items() if v != "0"} == expected
        code, out, _ = run_por("verify-inclusion", path, "--commitment", commitment, "--json")
        doc = json.loads(out)
        assert code == 0 and doc["verified"] is True and doc["reasons"] == []
        assert {k: v for k, v in doc["balances"].items() if v != "0"} == expected


def test_root_option_and_tree_option(book):
    tmp, balances, _, _ = book
    path = prove(book, sorted(balances)[0])
    root = json.loads((tmp / "pub" / "commitment.json").read_text())["root"]
    assert run_por("verify-inclusion", path, "--root", root)[0] == 0
    assert run_por("verify-inclusion", path, "--root", "0x" + root.upper())[0] == 0
    assert run_por("verify-inclusion", path, "--root", "ab" * 32)[0] == 1
    assert run_por("verify-inclusion", path, "--tree", tmp / "pub" / "tree.bin", "--root", root)[0] == 0
    code, out, _ = run_por("verify-inclusion", path)
    assert code == 1 and "NOT VERIFIED: self-consistent, but nothing to compare it with" in out
    code, out, _ = run_por("verify-inclusion", path, "--tree", tmp / "pub" / "tree.bin")  # the exchange's tree
    assert code == 1 and "NOT VERIFIED: self-consistent, but nothing to compare it with" in out


def test_whole_tree_verifies(book):
    tmp = book[0]
    code, out, err = run_por_process(
        "verify-tree", tmp / "pub" / "tree.bin", "--commitment", tmp / "pub" / "commitment.json"
    )
    assert code == 0 and err == "", out + err
    assert "VERIFIED" in out and "leaf count: 1000" in out
    root = json.loads((tmp / "pub" / "commitment.json").read_text())["root"]
    code, out, _ = run_por("verify-tree", tmp / "pub" / "tree.bin", "--root", root, "--json")
    assert code == 0 and json.loads(out)["verified"] is True
    code, out, _ = run_por("verify-tree", tmp / "pub" / "tree.bin", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["verified"] is False and doc["state"] == "self-consistent"


# --- one character changed -------------------------------------------------------

CLASSES = [string.digits, "abcdef", string.ascii_letters, " \t\n\r", ',:[]{}"-._']
ARBITRARY = ["x", "0", "é", "\x00", "\x7f", "\\", '"', "{", "\u2028", "客"]


def same_class(char: str, rng: random.Random) -> str:
    for chars in CLASSES:
        if char in chars and len(chars) > 1:
            return rng.choice(chars.replace(char, ""))
    return rng.choice(string.punctuation.replace(char, ""))


def edits_of(text: str, rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(label, edited text): a replacement of the same class, an arbitrary one, an insertion, a deletion."""
    positions = [0, len(text) - 1] + rng.sample(range(len(text)), count)
    out = []
    for i in positions:
        for kind, new in (
            ("same", same_class(text[i], rng)),
            ("any", rng.choice(ARBITRARY)),
            ("insert", rng.choice(ARBITRARY + [" "]) + text[i]),
            ("delete", ""),
        ):
            if new == text[i]:
                continue
            out.append((f"{kind} at {i} {text[i]!r}->{new!r}", text[:i] + new + text[i + 1 :]))
    return out


def assert_fails(code: int, out: str, err: str, label: str, edited: bytes) -> None:
    assert "Traceback" not in out + err and "internal error" not in err, (label, err)
    if code == 2:  # only a document that no longer starts like a JSON object is "not a proof"
        assert not edited.lstrip().startswith(b"{"), (label, err)
        assert err.count("\n") == 1, err
    else:
        assert code == 1, (label, code, out, err)
        assert "NOT VERIFIED" in out and re.search(r"✗ \S", out), (label, out)


def same_value(raw: bytes, original: str) -> bool:
    """Whether an edited file still reads, strictly, as the original proof's value (only its layout changed)."""
    try:
        return loads(raw, "p") == json.loads(original)
    except InputError:
        return False


def test_any_one_character_change_in_a_proof_fails(book):
    """Every one-character edit, anywhere: one that changes the value fails; one that only changes the
    layout (a space, a line end) verifies, and then reads as exactly the original value."""
    tmp, balances, _, _ = book
    rng = random.Random(99)
    path = prove(book, rng.choice(sorted(balances)))
    text = path.read_text(encoding="utf-8")
    edited_path = tmp / "edited.json"
    commitment = tmp / "pub" / "commitment.json"
    edits = edits_of(text, rng, 100)
    changed = 0
    for n, (label, edited) in enumerate(edits):
        raw = edited.encode("utf-8", "surrogatepass")
        edited_path.write_bytes(raw)
        runner = run_por_process if n % 97 == 0 else run_por
        code, out, err = runner("verify-inclusion", edited_path, "--commitment", commitment)
        if code == 0:
            assert same_value(raw, text) and "VERIFIED" in out, (label, out)
        else:
            assert not same_value(raw, text), (label, out, err)
            assert_fails(code, out, err, label, raw)
            changed += 1
    # a proof is ~40% white space, and about half of the edits there (white space for white space, a deleted
    # space) only change the layout: ~80% change the value, with the nonces' randomness around that
    assert changed > len(edits) * 0.7


def test_any_changed_byte_in_the_proof_file_fails(book):
    """Bytes, not characters: broken UTF-8 is a failed verification too."""
    tmp, balances, _, _ = book
    rng = random.Random(5)
    raw = prove(book, rng.choice(sorted(balances))).read_bytes()
    edited_path = tmp / "edited-bytes.json"
    for i in rng.sample(range(len(raw)), 60):
        edited = bytearray(raw)
        edited[i] = rng.choice([0x80, 0xFF, 0xC0, 0x00, raw[i] ^ 0x20, raw[i] ^ 0x01])
        edited_path.write_bytes(bytes(edited))
        result = run_por("verify-inclusion", edited_path, "--commitment", tmp / "pub" / "commitment.json")
        assert_fails(*result, f"byte {i}", bytes(edited))


def test_any_changed_byte_in_the_tree_fails(book):
    tmp = book[0]
    rng = random.Random(3)
    raw = (tmp / "pub" / "tree.bin").read_bytes()
    header = raw.index(b"\n") + 1
    edited_path = tmp / "edited.bin"
    positions = [0, header - 1, len(raw) - 1] + rng.sample(range(header), 40) + rng.sample(range(header, len(raw)), 60)
    for n, i in enumerate(positions):
        for new in {rng.randrange(256) for _ in range(2)} - {raw[i]}:
            edited = bytearray(raw)
            edited[i] = new
            edited_path.write_bytes(bytes(edited))
            runner = run_por_process if n % 40 == 0 else run_por
            code, out, err = runner("verify-tree", edited_path, "--commitment", tmp / "pub" / "commitment.json")
            label = f"byte {i} {raw[i]:#x}->{new:#x}"
            assert "Traceback" not in out + err and "internal error" not in err, (label, err)
            if code == 2:  # a first line that is no longer a por header and not an OKX tree either
                assert i == 0 and err.count("\n") == 1, (label, err)
            else:
                assert code == 1 and "NOT VERIFIED" in out, (label, out, err)
            if i >= header:  # records are checked by recomputation alone: a failure, not only unanchored
                code, out, _ = run_por("verify-tree", edited_path, "--json")
                assert code == 1 and json.loads(out)["state"] == "failed", label


def test_truncated_or_extended_tree_fails(book):
    tmp = book[0]
    raw = (tmp / "pub" / "tree.bin").read_bytes()
    edited = tmp / "cut.bin"
    for body, what in ((raw[:-1], "truncated"), (raw + b"\n", "trailing data"), (raw[: len(raw) // 2], "truncated")):
        edited.write_bytes(body)
        code, out, _ = run_por("verify-tree", edited)
        assert code == 1 and what in out


# --- exit codes ------------------------------------------------------------------


def test_broken_proof_documents_fail_verification(book):
    tmp, balances, _, _ = book
    text = prove(book, sorted(balances)[1]).read_text()
    path = tmp / "broken.json"
    for broken in (
        text[: len(text) // 2],
        text.replace('"leaves"', '"leaves2"'),
        '{"format": 1}',
        text.replace("{", '{"format": "x",', 1),
        "{}",
        '{"a":1,"a":2}',
        '{"n": NaN}',
        "{" * 100_000,
    ):
        path.write_text(broken, encoding="utf-8")
        code, out, err = run_por("verify-inclusion", path, "--commitment", tmp / "pub" / "commitment.json")
        assert code == 1 and "NOT VERIFIED" in out and err == "", (broken[:40], out, err)
    path.write_text("\ufeff" + text.replace("\n", "\r\n"), encoding="utf-8")  # re-saved: the same proof
    assert run_por("verify-inclusion", path, "--commitment", tmp / "pub" / "commitment.json")[0] == 0
    path.write_text("\ufeff\ufeff" + text, encoding="utf-8")  # one mark is a re-save; two are not JSON
    assert run_por("verify-inclusion", path, "--commitment", tmp / "pub" / "commitment.json")[0] in (1, 2)


def test_proof_against_another_publication_fails(book, tmp_path):
    tmp, balances, rows, _ = book
    customers = tmp_path / "c.csv"
    customers.write_text("account_id,asset,amount\n" + "".join(f"{a},{s},{v}\n" for a, s, v in rows))
    assert (
        run_por("publish", customers, "--exchange", "Ex", "--out", tmp_path / "other", "--snapshot-id", "2024-06-01")[0]
        == 0
    )
    path = prove(book, sorted(balances)[2])
    code, out, _ = run_por("verify-inclusion", path, "--commitment", tmp_path / "other" / "commitment.json")
    assert code == 1 and "is not the commitment's root" in out
    code, out, _ = run_por(
        "verify-tree", tmp / "pub" / "tree.bin", "--commitment", tmp_path / "other" / "commitment.json"
    )
    assert code == 1 and "is not the commitment's root" in out


def test_bad_input_is_exit_2_with_one_line(book, tmp_path):
    tmp, balances, _, _ = book
    pub = tmp / "pub"
    proof = prove(book, sorted(balances)[3])
    empty = tmp_path / "empty.json"
    empty.write_text("  \n")
    not_json = tmp_path / "bad-commitment.json"
    not_json.write_text('{"format": "por-commitment"')
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00\x01 not a document")
    cases = [
        ("verify-inclusion", tmp_path / "absent.json"),
        ("verify-inclusion", empty),
        ("verify-inclusion", garbage),
        ("verify-inclusion", proof, "--commitment", tmp_path / "absent.json"),
        ("verify-inclusion", proof, "--commitment", not_json),
        ("verify-inclusion", proof, "--commitment", proof),  # a proof is not a commitment
        ("verify-inclusion", proof, "--root", "xyz"),
        ("verify-inclusion", proof, "--root", "ab" * 31),
        ("verify-inclusion", proof, "--commitment", pub / "commitment.json", "--root", "ab" * 32),
        ("verify-inclusion", proof, "--format", "nope"),
        ("verify-inclusion", proof, "--no-such-option"),
        ("verify-inclusion",),
        ("verify-tree", tmp_path / "absent.bin"),
        ("verify-tree", empty),
        ("verify-tree", garbage),
        ("verify-tree", pub / "tree.bin", "--commitment", not_json),
        ("verify-tree", pub / "tree.bin", "--root", "12"),
        ("prove", pub, "no-such-customer"),
        ("prove", tmp_path / "no-such-folder", sorted(balances)[0]),
        ("publish", tmp_path / "absent.csv", "--exchange", "Ex", "--out", tmp_path / "out"),
        ("publish", tmp / "customers.csv", "--exchange", "Ex", "--out", pub),  # exists, no --force
        ("publish", tmp / "customers.csv", "--exchange", "Ex", "--out", tmp_path / "o2", "--split", "0"),
        ("publish", tmp / "customers.csv", "--exchange", "Ex", "--out", tmp_path / "o3", "--snapshot-id", "bad\nid"),
        (
            "publish",
            tmp / "customers.csv",
            "--exchange",
            "Ex",
            "--out",
            tmp_path / "o4",
            "--assets",
            tmp_path / "absent.csv",
        ),
    ]
    for n, args in enumerate(cases):
        runner = run_por_process if n % 6 == 0 else run_por
        code, out, err = runner(*args)
        assert code == 2, (args, code, out, err)
        assert err.startswith("por: ") and err.count("\n") == 1 and "Traceback" not in err, (args, err)
    assert not any((tmp_path / name).exists() for name in ("out", "o2", "o3", "o4"))


def test_publish_refuses_to_overwrite_unless_forced(book, tmp_path):
    tmp = book[0]
    out = tmp_path / "pub"
    assert run_por("publish", tmp / "customers.csv", "--exchange", "Ex", "--out", out)[0] == 0
    first = (out / "commitment.json").read_text()
    assert run_por("publish", tmp / "customers.csv", "--exchange", "Ex", "--out", out)[0] == 2
    assert (out / "commitment.json").read_text() == first
    assert run_por("publish", tmp / "customers.csv", "--exchange", "Ex", "--out", out, "--force")[0] == 0
    assert (out / "commitment.json").read_text() != first  # fresh nonces: a new root
    assert oct((out / "private").stat().st_mode & 0o777) == "0o700"


def test_split_publication_proves_every_piece(book, tmp_path):
    tmp, balances, _, _ = book
    out = tmp_path / "split"
    code, stdout, err = run_por("publish", tmp / "customers.csv", "--exchange", "Ex", "--out", out, "--split", "4")
    assert code == 0, err
    commitment = json.loads((out / "commitment.json").read_text())
    assert ACCOUNTS <= commitment["leaf_count"] <= 4 * ACCOUNTS
    for account in random.Random(2).sample(sorted(balances), 5):
        path = tmp_path / "p.json"
        assert run_por("prove", out, account, "--out", path)[0] == 0
        code, stdout, _ = run_por("verify-inclusion", path, "--commitment", out / "commitment.json")
        expected = {a: canonical(v) for a, v in balances[account].items()}
        assert code == 0 and {k: v for k, v in shown_balances(stdout).items() if v != "0"} == expected
    assert run_por("verify-tree", out / "tree.bin", "--commitment", out / "commitment.json")[0] == 0


def test_prove_to_stdout_is_the_same_document(book):
    tmp, balances, _, _ = book
    account = sorted(balances)[4]
    code, out, _ = run_por("prove", tmp / "pub", account)
    assert code == 0
    assert json.loads(out)["account_id"] == account
    assert json.loads(out)["nonce"] == json.loads(prove(book, account).read_text())["nonce"]


# --- what a verdict is anchored to (issue 12) ------------------------------------------------


def test_nothing_pinned_is_not_verified_but_self_consistent(book):
    """A proof or tree compared with nothing could be the exchange's own invention: exit 1, amber, what to pin."""
    tmp, balances, _, _ = book
    path = prove(book, sorted(balances)[5])
    for argv in (["verify-inclusion", path], ["verify-tree", tmp / "pub" / "tree.bin"]):
        code, out, err = run_por_process(*argv)
        assert code == 1 and err == "", (argv, err)
        assert out.startswith("NOT VERIFIED: self-consistent, but nothing to compare it with")
        assert "no published commitment or root was given" in out and "--commitment" in out
        assert "claimed" in out and "VERIFIED " not in out.replace("NOT VERIFIED", "")
        code, out, _ = run_por(*argv, "--json")
        doc = json.loads(out)
        assert code == 1 and doc["verified"] is False and doc["state"] == "self-consistent" and doc["anchor"] is None
        assert doc["reasons"] == [
            "self-consistent, but nothing to compare it with: no published commitment or root was given"
        ]
        assert doc["checked"] and any("nothing" in n for n in doc["not_checked"])


def test_a_verdict_says_what_was_checked_and_what_was_not(book):
    tmp, balances, _, _ = book
    path = prove(book, sorted(balances)[6])
    code, out, _ = run_por("verify-inclusion", path, "--commitment", tmp / "pub" / "commitment.json", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["state"] == "verified" and doc["anchor"] == "the pinned commitment"
    assert "root, labels and totals against the pinned commitment" in doc["checked"]
    assert "the commitment's signature (no key pinned: --signer)" in doc["not_checked"]
    code, out, _ = run_por("verify-inclusion", path, "--commitment", tmp / "pub" / "commitment.json")
    assert "checked: root, labels and totals against the pinned commitment" in out
    assert "not checked: the commitment's signature (no key pinned: --signer)" in out


def _edit_json(path: Path, out: Path, edit) -> Path:
    doc = json.loads(path.read_text(encoding="utf-8"))
    edit(doc)
    out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def test_a_bare_root_catches_relabelled_decimals_symbols_and_snapshot(book, tmp_path):
    """Format 1: a proof declaring BTC with 1 decimal (amounts respelled) printed VERIFIED BTC 1.5 under --root."""
    from fixtures.vectors import SETS, load_vectors

    vectors = load_vectors(2)
    root = vectors["root"]["digest"]
    proof = SETS[2] / vectors["files"]["proofs"]["carol"]
    assert run_por_process("verify-inclusion", proof, "--root", root)[0] == 0

    def decimals(doc):
        doc["assets"][0]["decimals"] = 1  # BTC 21000000 -> "210000000000000"
        for sums in _all_sums(doc):
            sums["BTC"] = format_units(sums["BTC"], 8, 1)

    def symbol(doc):
        doc["assets"][0]["symbol"] = "BTX"
        for sums in _all_sums(doc):
            sums["BTX"] = sums.pop("BTC")
            sums.update({k: sums.pop(k) for k in sorted(sums)})

    for n, edit in enumerate(
        (
            decimals,
            symbol,
            lambda d: d.update(snapshot_id="2026-07-31"),
            lambda d: d.update(exchange="Other"),
            lambda d: d.update(leaf_count=10),
        )
    ):
        forged = _edit_json(proof, tmp_path / f"forged{n}.json", edit)
        code, out, err = run_por_process("verify-inclusion", forged, "--root", root)
        assert code == 1 and "NOT VERIFIED" in out and "✗" in out, (n, out, err)
        assert "does not recompute the root" in out or "does not match" in out, (n, out)


def _all_sums(doc):
    yield doc["balances"]
    yield doc["root"]["sums"]
    for leaf in doc["leaves"]:
        yield leaf["balances"]
        for step in leaf["path"]:
            yield step["sums"]


def format_units(text: str, old: int, new: int) -> str:
    from por.amounts import format_amount, parse_amount

    return format_amount(parse_amount(text, old), new)


def test_legacy_format_1_reads_with_its_commitment_and_not_with_a_bare_root(tmp_path):
    from fixtures.vectors import SETS, load_vectors

    vectors = load_vectors(1)
    folder = SETS[1]
    proof = folder / vectors["files"]["proofs"]["bob-ü"]
    code, out, _ = run_por_process("verify-inclusion", proof, "--commitment", folder / "commitment.json")
    assert code == 0 and out.startswith("VERIFIED") and "legacy: labels not bound" in out
    code, out, _ = run_por_process("verify-inclusion", proof, "--root", vectors["root"]["digest"])
    assert code == 1 and "NOT VERIFIED: self-consistent, but nothing to compare it with" in out
    assert "por format 1 (legacy) document does not bind the asset labels" in out
    code, out, _ = run_por("verify-tree", folder / "tree.bin", "--root", vectors["root"]["digest"])
    assert code == 1 and "legacy" in out
    code, out, _ = run_por("verify-tree", folder / "tree.bin", "--commitment", folder / "commitment.json")
    assert code == 0 and "legacy: labels not bound" in out


def test_a_split_proof_without_its_last_piece_fails_through_the_cli(book, tmp_path):
    tmp, balances, _, _ = book
    out = tmp_path / "split"
    assert run_por("publish", tmp / "customers.csv", "--out", out, "--split", "3", "--exchange", "x")[0] == 0
    commitment = json.loads((out / "commitment.json").read_text())
    for account in sorted(balances):
        path = tmp_path / "p.json"
        assert run_por("prove", out, account, "--out", path)[0] == 0
        doc = json.loads(path.read_text())
        if len(doc["leaves"]) > 1:
            break
    last = doc["leaves"][-1]["balances"]
    dropped = _edit_json(path, tmp_path / "dropped.json", lambda d: d["leaves"].pop())
    doc = json.loads(dropped.read_text())
    doc["balances"] = {
        k: format_units(str(sum(Decimal(lf["balances"][k]) for lf in doc["leaves"])), DECIMALS[k], DECIMALS[k])
        for k in doc["balances"]
    }
    dropped.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert last is not None
    for pin in (["--commitment", out / "commitment.json"], ["--root", commitment["root"]]):
        code, stdout, _ = run_por_process("verify-inclusion", dropped, *pin)
        assert code == 1 and "path does not recompute the root" in stdout, stdout
