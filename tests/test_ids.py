"""Look-alike account ids (issue 12, class 8): one rule on both sides. `publish` and every proof
reader refuse hidden characters and ids not in NFC; `publish` refuses two ids equal after NFKC
(case stays significant) and warns about ids that mix scripts confusably (TS #39);
`verify-inclusion --account` checks the proof is for the customer's own id."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fixtures.liabilities import run_por, run_por_process
from por.amounts import Asset
from por.liabilities.book import Liabilities
from por.liabilities.publish import publish as library_publish
from por.liabilities.rows import ambiguous_ids, check_account_id, mixed_scripts

HEAD = "account_id,asset,amount\n"
HIDDEN = {
    "zero_width_space": "ali\u200bce",
    "zero_width_joiner": "ali\u200dce",
    "rtl_override": "ali\u202ece",
    "bidi_isolate": "ali\u2066ce",
    "word_joiner": "ali\u2060ce",
    "no_break_space": "ali\u00a0ce",
    "hangul_filler": "ali\u3164ce",
    "variation_selector": "alice\ufe0f",
    "escape": "ali\x1bce",
    "c1_control": "ali\x85ce",
    "line_separator": "ali\u2028ce",
    "tag": "alice\U000e0041",
}
DECOMPOSED = unicodedata.normalize("NFD", "café")


def publish_csv(tmp_path: Path, body: str, *, quoted: bool = False) -> tuple[int, str, str]:
    path = tmp_path / "customers.csv"
    rows = (
        body
        if not quoted
        else "".join(f'"{line.split(",")[0]}",{line.split(",", 1)[1]}\n' for line in body.splitlines())
    )
    path.write_text(HEAD + rows, encoding="utf-8")
    return run_por_process("publish", path, "--exchange", "Ex", "--out", tmp_path / "out", "--snapshot-id", "s1")


# --- the rule itself ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HIDDEN))
def test_hidden_characters_are_refused(name):
    with pytest.raises(Exception, match="control or invisible character"):
        check_account_id(HIDDEN[name])


def test_only_composed_ids_are_accepted_and_case_is_kept():
    assert check_account_id("café") == "café"
    with pytest.raises(Exception, match="NFC"):
        check_account_id(DECOMPOSED)
    assert ambiguous_ids(["Alice", "alice", "ALICE"]) == []  # exchanges' ids are case-sensitive
    assert ambiguous_ids(["fish", "ﬁsh", "ａlice", "alice", "x²", "x2"]) == [(0, 1), (2, 3), (4, 5)]


@pytest.mark.parametrize(
    "account_id, scripts",
    [
        ("p\u0430ypal", ["Cyrillic", "Latin"]),  # Cyrillic а among Latin letters
        ("\u0440\u0430\u0443\u0440\u0430l", ["Cyrillic", "Latin"]),
        ("\u03b1lpha", ["Greek", "Latin"]),
        ("\u0430\u03b2", ["Cyrillic", "Greek"]),
        ("paypal", None),
        ("пример", None),
        ("Ελένη", None),
        ("user-张三", None),
        ("山田タロウ", None),
        ("김철수-01", None),
        ("acct-7-客户ü", None),
        ("محمد-9", None),
    ],
)
def test_mixed_script_detection_follows_ts39(account_id, scripts):
    assert mixed_scripts(account_id) == scripts


# --- publish -------------------------------------------------------------------------------------


@pytest.mark.parametrize("quoted", [False, True], ids=["fast_reader", "csv_reader"])
@pytest.mark.parametrize(
    "pair",
    [("café", DECOMPOSED), ("fish", "ﬁsh"), ("alice", "ａlice"), ("x2", "x²")],
    ids=["composed_and_decomposed", "ligature", "fullwidth", "superscript"],
)
def test_publish_refuses_two_ids_a_customer_cannot_tell_apart(tmp_path, pair, quoted):
    code, out, err = publish_csv(tmp_path, f"{pair[0]},BTC,1\nbob,BTC,1\n{pair[1]},BTC,2\n", quoted=quoted)
    assert code == 2, out + err
    assert "customers.csv:4: account_id:" in err and len(err.splitlines()) == 1, err
    assert ("NFC" in err) if pair[1] == DECOMPOSED else ("NFKC" in err and "(line 2)" in err), err
    assert not (tmp_path / "out").exists()


def test_publish_keeps_ids_that_differ_only_in_case(tmp_path):
    code, out, err = publish_csv(tmp_path, "alice,BTC,1\nAlice,BTC,2\nALICE,BTC,3\n")
    assert code == 0 and "published 3 accounts" in out, err


def test_publish_from_parquet_refuses_look_alikes_too(tmp_path):
    table = pa.table({"account_id": ["fish", "bob", "ﬁsh"], "asset": ["BTC"] * 3, "amount": ["1", "1", "1"]})
    pq.write_table(table, tmp_path / "c.parquet")
    code, _, err = run_por_process("publish", tmp_path / "c.parquet", "--exchange", "Ex", "--out", tmp_path / "out")
    assert code == 2 and "c.parquet:3: account_id:" in err and "NFKC" in err, err


def test_publish_warns_about_ids_that_mix_scripts_but_publishes_them(tmp_path):
    code, out, err = publish_csv(tmp_path, "paypal,BTC,1\np\u0430ypal,BTC,2\nuser-张三,BTC,1\n")
    assert code == 0, err
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, out
    assert "customers.csv:3: account id 'p\u0430ypal' mixes scripts (Cyrillic, Latin)" in warnings[0]


@pytest.mark.parametrize("name", ["zero_width_space", "rtl_override", "no_break_space", "hangul_filler", "escape"])
def test_publish_refuses_hidden_characters(tmp_path, name):
    code, _, err = publish_csv(tmp_path, f"{HIDDEN[name]},BTC,1\n", quoted=True)
    assert code == 2 and "customers.csv:2: account_id: account id contains control or invisible" in err, err


# --- the verifier applies the same rule ----------------------------------------------------------


def _library_publication(tmp_path: Path, account_id: str) -> tuple[Path, Path]:
    """A publication made in code, around the CLI's rules, holding `account_id`; and its proof."""
    book = Liabilities([Asset("BTC", 8)], [account_id, "bob", "carol"], [[150_000_000, 1, 2]])
    folder = tmp_path / "pub"
    library_publish(book, folder, exchange="ex", snapshot_id="s1")
    code, _, err = run_por("prove", folder, account_id, "--out", tmp_path / "proof.json")
    assert code == 0, err
    return folder, tmp_path / "proof.json"


@pytest.mark.parametrize(
    "account_id",
    [HIDDEN["zero_width_space"], HIDDEN["rtl_override"], DECOMPOSED, HIDDEN["escape"], HIDDEN["no_break_space"]],
    ids=["zero_width", "rtl_override", "decomposed", "escape", "no_break_space"],
)
def test_a_proof_whose_id_no_publication_could_hold_is_not_verified(tmp_path, account_id):
    folder, proof = _library_publication(tmp_path, account_id)
    code, out, err = run_por_process("verify-inclusion", proof, "--commitment", folder / "commitment.json")
    assert code == 1, out + err
    assert "account_id: account id" in out and ("NFC" in out or "invisible character" in out), out


# --- --account --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cafe(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("account")
    (tmp / "c.csv").write_text(HEAD + "café,BTC,1.5\nbob,BTC,2\n", encoding="utf-8")
    code, _, err = run_por("publish", tmp / "c.csv", "--exchange", "Ex", "--out", tmp / "pub", "--snapshot-id", "s1")
    assert code == 0, err
    assert run_por("prove", tmp / "pub", "café", "--out", tmp / "cafe.json")[0] == 0
    assert run_por("prove", tmp / "pub", "bob", "--out", tmp / "bob.json")[0] == 0
    return tmp / "pub" / "commitment.json", tmp


def test_account_option_accepts_the_customers_own_proof_typed_either_way(cafe):
    commitment, tmp = cafe
    for typed in ("café", DECOMPOSED):  # a keyboard may type it decomposed
        code, out, _ = run_por_process(
            "verify-inclusion", tmp / "cafe.json", "--commitment", commitment, "--account", typed
        )
        assert code == 0 and out.startswith("VERIFIED"), out


def test_account_option_refuses_someone_elses_valid_proof(cafe):
    commitment, tmp = cafe
    code, out, _ = run_por_process(
        "verify-inclusion", tmp / "bob.json", "--commitment", commitment, "--account", "café"
    )
    assert code == 1 and "the proof is for account 'bob', not for yours ('café')" in out, out
    code, out, _ = run_por_process(
        "verify-inclusion", tmp / "bob.json", "--commitment", commitment, "--account", "Bob"
    )  # case counts
    assert code == 1, out
    code, out, _ = run_por_process(
        "verify-inclusion", tmp / "bob.json", "--commitment", commitment, "--account", "bob", "--json"
    )
    assert code == 0 and json.loads(out)["account_checked"] is True


def test_account_option_with_a_hidden_character_is_bad_input(cafe):
    commitment, tmp = cafe
    code, _, err = run_por_process(
        "verify-inclusion", tmp / "bob.json", "--commitment", commitment, "--account", "bo\u200bb"
    )
    assert code == 2 and "--account: account id contains control or invisible character U+200B" in err, err


def test_account_option_cannot_be_checked_on_an_okx_proof(tmp_path):
    conformance = Path(__file__).resolve().parents[1] / "fixtures" / "conformance" / "okx"
    proof = next(p for p in sorted(conformance.iterdir()) if p.suffix == ".json")
    code, _, err = run_por_process("verify-inclusion", proof, "--account", "alice")
    assert code == 2 and "--account:" in err and "carries no account id" in err, err
