"""The prices file (`asset,price_jpy,source,time`): exact Decimals, strict rows, errors with line and field."""

from decimal import Decimal

import pytest

from por.audit.prices import load_prices
from por.errors import InputError

HEADER = "asset,price_jpy,source,time\n"


def write(tmp_path, text, name="prices.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_prices_parse_exactly_with_bom_crlf_and_quoted_source(tmp_path):
    text = (
        "\ufeff" + HEADER + 'BTC,15234567.123456789,"bitFlyer, last trade",2026-01-05T00:00:00+09:00\r\n'
        "ETH,0.1,https://example.invalid/q,2026-01-04T15:00:00Z\r\n\r\n"
    )
    prices = load_prices(write(tmp_path, text))
    btc = prices.get("BTC")
    assert btc.price_jpy == Decimal("15234567.123456789") and btc.source == "bitFlyer, last trade"
    assert btc.where == f"{tmp_path / 'prices.csv'}:2"
    assert prices.get("ETH").price_jpy == Decimal("0.1") and "USDT" not in prices
    assert prices.to_json()["BTC"] == {
        "price_jpy": "15234567.123456789",
        "source": "bitFlyer, last trade",
        "time": "2026-01-05T00:00:00+09:00",
    }


@pytest.mark.parametrize(
    "row, field, reason",
    [
        ("BTC,-1,src,2026-01-05T00:00:00Z", "price_jpy", "sign"),
        ("BTC,+1,src,2026-01-05T00:00:00Z", "price_jpy", "sign"),
        ("BTC,1e6,src,2026-01-05T00:00:00Z", "price_jpy", "plain decimal"),
        ("BTC,0,src,2026-01-05T00:00:00Z", "price_jpy", "greater than zero"),
        ("BTC,0.000,src,2026-01-05T00:00:00Z", "price_jpy", "greater than zero"),
        ("BTC,1.,src,2026-01-05T00:00:00Z", "price_jpy", "plain decimal"),
        ("BTC,NaN,src,2026-01-05T00:00:00Z", "price_jpy", "plain decimal"),
        ('BTC,"1,000",src,2026-01-05T00:00:00Z', "price_jpy", "plain decimal"),
        ("BTC,1,,2026-01-05T00:00:00Z", "source", "must name where"),
        ("BTC,1,src,2026-01-05T00:00:00", "time", "no time zone"),
        ("BTC,1,src,yesterday", "time", "ISO 8601"),
        ("btc,1,src,2026-01-05T00:00:00Z", "asset", "A-Z"),
        ("B<i>TC,1,src,2026-01-05T00:00:00Z", "asset", "A-Z"),
    ],
)
def test_bad_rows_name_line_and_field(tmp_path, row, field, reason):
    path = write(tmp_path, HEADER + "ETH,500000,src,2026-01-05T00:00:00Z\n" + row + "\n")
    with pytest.raises(InputError) as info:
        load_prices(path)
    assert (info.value.file, info.value.line, info.value.field) == (str(path), 3, field)
    assert reason in info.value.reason


def test_a_second_price_for_one_asset_is_refused(tmp_path):
    path = write(tmp_path, HEADER + "BTC,1,a,2026-01-05T00:00:00Z\nBTC,2,b,2026-01-05T00:00:00Z\n")
    with pytest.raises(InputError, match=r"second price for BTC \(first at .*prices.csv:2\)") as info:
        load_prices(path)
    assert info.value.line == 3


@pytest.mark.parametrize(
    "text, line, reason",
    [
        ("", 1, "empty file"),
        (HEADER, None, "no prices"),
        ("asset,price,source,time\n", 1, "header must be exactly"),
        (HEADER + "BTC,1,src\n", 2, "expected 4 fields"),
        (HEADER + "BTC,1,src,2026-01-05T00:00:00Z,extra\n", 2, "expected 4 fields"),
        (HEADER + 'BTC,1,"unterminated,2026-01-05T00:00:00Z\n', None, "malformed CSV"),
        (HEADER + "BTC,1," + "x" * 10000 + ",2026-01-05T00:00:00Z\n", None, "malformed CSV"),
    ],
)
def test_malformed_files(tmp_path, text, line, reason):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_prices(path)
    assert reason in info.value.reason and info.value.file == str(path)
    if line is not None:
        assert info.value.line == line


def test_unreadable_and_non_utf8_files(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_prices(tmp_path / "missing.csv")
    path = write(tmp_path, HEADER + "BTC,1,caf\xe9,2026-01-05T00:00:00Z\n", encoding="latin-1")
    with pytest.raises(InputError, match="not UTF-8"):
        load_prices(path)
