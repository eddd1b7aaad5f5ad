"""Issue 13 item 8, the wallets and prices CSVs: like the customer book, a bad file is reported in
one run, its first 20 bad rows each as `file:line: field: reason` (with a hint for the mistakes
spreadsheets make), then how many more; exit 2, no traceback, and nothing read from a chain."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from fixtures.adversarial.input_cases import CHAINS, PRICES_HEAD, SNAPSHOT, WALLET_HEAD, WALLET_ROW, _text
from fixtures.adversarial.por_cases import Book
from fixtures.liabilities import run_por
from por.audit.prices import load_prices
from por.errors import MAX_REPORTED_ROWS, InputError, InputErrors
from por.reserves.inputs import load_wallets

ROW_LINE = re.compile(r"por: error: (?P<file>[^:]+):(?P<line>\d+): ((?P<field>[a-z_]+): )?(?P<reason>.+)")
PRICE_ROW = "BTC,15000000,bitFlyer last trade,2024-06-30T23:59:00+09:00\n"
SEMICOLONS = "the file is separated by semicolons"


def reserves(tmp_path: Path, wallets: str) -> tuple[int, str, Path]:
    """`por reserves` on a wallets file; the snapshot and chains.toml are valid, never reached when the file is bad."""
    path = tmp_path / "wallets.csv"
    path.write_text(wallets)
    (tmp_path / "snapshot.json").write_text(json.dumps(SNAPSHOT))
    (tmp_path / "chains.toml").write_text(CHAINS)
    code, out, err = run_por(
        "reserves",
        path,
        "--snapshot",
        tmp_path / "snapshot.json",
        "--config",
        tmp_path / "chains.toml",
        "--exchange",
        "ex",
    )
    assert "Traceback" not in out + err and "internal error" not in err, err
    return code, err, path


def audit_with_prices(tmp_path: Path, prices: str) -> tuple[int, str, Path]:
    """`por audit --prices` on a prices file: it is read before the wallets and the chains."""
    book = Book.make(random.Random(3), 5)
    (tmp_path / "commitment.json").write_text(_text(book.commitment()))
    (tmp_path / "snapshot.json").write_text(json.dumps(SNAPSHOT))
    (tmp_path / "chains.toml").write_text(CHAINS)
    (tmp_path / "wallets.csv").write_text(WALLET_HEAD + WALLET_ROW)
    path = tmp_path / "prices.csv"
    path.write_text(prices)
    code, out, err = run_por(
        "audit",
        "--commitment",
        tmp_path / "commitment.json",
        "--wallets",
        tmp_path / "wallets.csv",
        "--snapshot",
        tmp_path / "snapshot.json",
        "--config",
        tmp_path / "chains.toml",
        "--policy",
        "jp-fsa-clamp",
        "--prices",
        path,
    )
    assert "Traceback" not in out + err and "internal error" not in err, err
    return code, err, path


def assert_first_20_then_more(stderr: str, path: Path, lines: list[int], field: str, words: str) -> None:
    shown = stderr.splitlines()
    assert len(shown) == MAX_REPORTED_ROWS + 1, stderr
    for number, line in zip(lines, shown[:-1]):
        match = ROW_LINE.fullmatch(line)
        assert match and match["file"] == str(path) and int(match["line"]) == number, line
        assert match["field"] == field and words in match["reason"], line
    assert shown[-1] == f"por: error: and {len(lines) - MAX_REPORTED_ROWS} more bad rows (fix these and run again)"


def test_the_first_20_bad_wallets_are_named_in_one_run_then_how_many_more(tmp_path):
    """30 wallets of an unknown type among good ones: lines 3, 5, ... 41 named, then "and 10 more"."""
    rows = [WALLET_ROW.replace(",cold,", ",warm,") if i % 2 else WALLET_ROW for i in range(60)]
    code, stderr, path = reserves(tmp_path, WALLET_HEAD + "".join(rows))
    assert code == 2
    assert_first_20_then_more(stderr, path, list(range(3, 62, 2)), "wallet_type", "'warm' must be cold, hot or own")


def test_every_kind_of_bad_wallet_row_comes_in_line_order_with_its_hint(tmp_path):
    head = WALLET_HEAD.rstrip("\n") + ",custodian,custodian_registration\n"
    good = WALLET_ROW.rstrip("\n") + ",,\n"
    body = head + good
    body += good.replace(",,\n", ",Example Custody, K.K.,00099\n")  # an unquoted comma in the custodian's name
    body += good.replace(",", ";")  # one row saved by a spreadsheet with semicolons
    body += good.replace("hardhat,", "Hard Hat,", 1)
    body += good.replace(",0x" + "ab" * 65 + ",", ",,")
    body += good.replace(",,\n", ",,00099\n")  # a registration without the custodian's name
    body += good
    code, stderr, path = reserves(tmp_path, body)
    assert code == 2
    assert [line.removeprefix(f"por: error: {path}:") for line in stderr.splitlines()] == [
        "3: expected 10 fields, got 11 (a field holding a comma, such as a custodian's name, must be in double quotes)",
        f"4: expected 10 fields, got 1 ({SEMICOLONS}, as spreadsheets write CSV where the decimal mark is a comma: "
        "save it with commas between fields and a point in amounts)",
        "5: chain: 'Hard Hat' is not a chain name (lower-case letters, digits, - and _)",
        "6: signature: missing",
        "7: custodian: a custodian_registration needs the custodian's name",
    ]


def test_a_row_may_leave_out_its_optional_last_columns(tmp_path):
    """`script` and the custodian columns may be absent from a row's end (read as empty), as before."""
    head = WALLET_HEAD.rstrip("\n") + ",custodian,custodian_registration\n"
    path = tmp_path / "wallets.csv"
    path.write_text(head + WALLET_ROW.removesuffix(",\n") + "\n")
    (wallet,), _ = load_wallets(path)
    assert wallet.script is None and wallet.custodian is None
    path.write_text(head + WALLET_ROW.split(",0x" + "ab" * 65)[0] + "\n")  # no signature: not optional
    with pytest.raises(InputError, match="expected 10 fields, got 6"):
        load_wallets(path)


def test_a_wallets_header_saved_with_semicolons_says_how_to_save_it(tmp_path):
    code, stderr, path = reserves(tmp_path, WALLET_HEAD.replace(",", ";") + WALLET_ROW.replace(",", ";"))
    assert code == 2 and stderr.count("\n") == 1 and f"{path}:1: header must be" in stderr and SEMICOLONS in stderr


def test_one_bad_wallet_raises_its_own_error_and_several_one_that_reads_as_the_first(tmp_path):
    path = tmp_path / "wallets.csv"
    path.write_text(WALLET_HEAD + WALLET_ROW + WALLET_ROW.replace(",cold,", ",warm,"))
    with pytest.raises(InputError) as one:
        load_wallets(path)
    assert not isinstance(one.value, InputErrors) and (one.value.line, one.value.field) == (3, "wallet_type")
    for tail in ('x,ETH,"unclosed\n', 'x,ETH,"unclosed\nmore\nmore\n'):
        path.write_text(WALLET_HEAD + WALLET_ROW.replace(",cold,", ",warm,") + WALLET_ROW + tail)
        with pytest.raises(InputErrors) as several:
            load_wallets(path)
        # a syntax error ends the reading, after the rows before it; a quote never closed is placed where it opens
        assert [(e.line, e.field) for e in several.value.errors] == [(2, "wallet_type"), (4, None)]
        assert several.value.errors[1].reason == "malformed CSV: a double quote opened on this line is never closed"


def test_the_first_20_bad_prices_are_named_in_one_run_then_how_many_more(tmp_path):
    """25 prices written with thousands separators (quoted): each named with the plain spelling to write."""
    rows = [f'T{i:02d},"15,000,000",src,2024-06-30T23:59:00Z\n' for i in range(25)]
    code, stderr, path = audit_with_prices(tmp_path, PRICES_HEAD + PRICE_ROW + "".join(rows))
    assert code == 2
    assert_first_20_then_more(stderr, path, list(range(3, 28)), "price_jpy", "thousands separators? write 15000000")


def test_every_kind_of_bad_price_row_comes_in_line_order_with_its_hint(tmp_path):
    body = PRICES_HEAD + PRICE_ROW
    body += 'ETH,"520000,5",src,2024-06-30T23:59:00Z\n'
    body += "USDT,1,000,src,2024-06-30T23:59:00Z\n"
    body += "XRP;90;src;2024-06-30T23:59:00Z\n"
    body += "SOL,25000,Exchange, Inc.,2024-06-30T23:59:00Z\n"
    body += "BTC,15000001,other,2024-06-30T23:59:00Z\n"
    body += "DOT,1000,src,2024-06-30T23:59:00\n"
    body += "ADA,-5,src,2024-06-30T23:59:00Z\n"
    path = tmp_path / "prices.csv"
    path.write_text(body)
    with pytest.raises(InputErrors) as caught:
        load_prices(path)
    assert [e.location_text().removeprefix(f"{path}:") for e in caught.value.errors] == [
        "3: price_jpy: '520000,5' is not a plain decimal number (digits, optional point, no exponent) "
        "(a decimal comma? write 520000.5: amounts take a decimal point)",
        "4: expected 4 fields (asset,price_jpy,source,time), got 5 (thousands separators? write 1000: "
        "digits and one decimal point, nothing else)",
        f"5: expected 4 fields (asset,price_jpy,source,time), got 1 ({SEMICOLONS}, as spreadsheets write CSV "
        "where the decimal mark is a comma: save it with commas between fields and a point in amounts)",
        "6: expected 4 fields (asset,price_jpy,source,time), got 5 (a source holding a comma must be in double quotes)",
        f"7: asset: second price for BTC (first at {path}:2)",
        "8: time: '2024-06-30T23:59:00' has no time zone (add Z or +09:00)",
        "9: price_jpy: '-5' must not carry a sign",
    ]
    path.write_text(PRICES_HEAD + PRICE_ROW + 'ETH,"1\nx\n')
    with pytest.raises(InputError) as unclosed:
        load_prices(path)
    assert unclosed.value.line == 3 and "never closed" in unclosed.value.reason
    path.write_text(PRICES_HEAD + PRICE_ROW + "ETH,0,src,2024-06-30T23:59:00Z\n")
    with pytest.raises(InputError) as one:
        load_prices(path)
    assert not isinstance(one.value, InputErrors) and (one.value.line, one.value.field) == (3, "price_jpy")


def test_a_prices_header_saved_with_tabs_says_how_to_save_it(tmp_path):
    code, stderr, path = audit_with_prices(tmp_path, PRICES_HEAD.replace(",", "\t") + PRICE_ROW.replace(",", "\t"))
    assert code == 2 and stderr.count("\n") == 1 and f"{path}:1: header must be exactly" in stderr
    assert "the file is separated by tabs" in stderr
