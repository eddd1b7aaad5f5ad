"""OKX's published address files: genuine rows verify under OKX's rules, every tampered row fails.

The genuine files are fixtures/conformance/okx/okx_por_example.csv and
okx_por_staking_example.csv (copies of ../shared/conformance/okx). Bitcoin and
Tron rows are signed here with our own keys under OKX's rules (the sample files
carry none), so the rules are tested from both sides.
"""

import json
from pathlib import Path

import coincurve
import pytest
from eth_utils import keccak

from chains.bitcoin_address import NETWORKS, encode_address, hash160, multisig_script, p2pkh_script, p2wsh_script
from chains.bitcoin_proofs import sign_bip137, taproot_tweak
from chains.okx_signatures import evm_hash, tron_address, tron_hashes, varstr
from fixtures.okx_coins import generate
from por.cli import main
from por.reserves.okx_addresses import check_okx_file, coin_table

HERE = Path(__file__).resolve().parent.parent
OKX = HERE / "fixtures" / "conformance" / "okx"
SHARED = HERE.parent / "shared" / "conformance" / "okx"
MESSAGE = "I am an OKX address"
CONTRACT = (
    "owner EOAs' signatures verified (0x0cdcdb19a857c2ac24818ca4fdfe38cce071483e, "
    "0x16f01cfc16b0b8c3400fb8e5099b0974fcc9fc12); contract ownership needs chain state at the snapshot"
)


def cli(*argv):
    """`por ...` in-process: its exit code."""
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    return done.value.code


@pytest.mark.parametrize("name", ["okx_por_example.csv", "okx_por_staking_example.csv"])
def test_the_copies_are_the_published_files(name):
    if not SHARED.exists():
        pytest.fail("../shared/conformance/okx is missing: cannot compare the copies with the originals")
    assert (OKX / name).read_bytes() == (SHARED / name).read_bytes()


def test_genuine_example_rows():
    report = check_okx_file(OKX / "okx_por_example.csv")
    got = {v.row.line: (v.status, v.reason) for v in report.verdicts}
    assert got[16][0] == got[17][0] == "verified"
    assert got[18] == ("owner-verified", CONTRACT)  # the contract: never simply verified
    assert got[19][0] == got[20][0] == "not checked" and "chain family not supported" in got[19][1]
    assert report.ok and report.counts() == {
        "verified": 2,
        "owner-verified": 1,
        "not checked": 2,
        "unsupported": 0,
        "failed": 0,
    }
    totals = {t["coin"]: t for t in report.totals()}
    assert totals["ETH(ALL)"]["summary_amount"] == "6" and totals["ETH(ALL)"]["rows"] == 3
    assert totals["ETH(ALL)"]["rows_amount"] == "0.356881257500858402"  # exact: Decimal, not float
    assert totals["USDT(ALL)"]["rows"] == 1 and totals["BTC"]["rows"] == 0


def test_genuine_staking_rows():
    report = check_okx_file(OKX / "okx_por_staking_example.csv")
    assert [(v.row.type, v.status) for v in report.verdicts] == [
        ("Non Staking", "verified"),
        ("Native ETH Staking", "owner-verified"),
        ("Eigenlayer Staking", "owner-verified"),
    ]
    assert "EigenPod contract" in report.verdicts[2].reason
    assert report.totals() == [
        {
            "coin": "ETH",
            "snapshot_height": "-",
            "summary_amount": "64",
            "rows": 3,
            "rows_amount": "64.058959708849230328",
        }
    ]


def test_plain_eip191_does_not_recover_okx_signatures():
    """OKX signs keccak256(message) under the 32-byte EIP-191 header: the message itself recovers another key."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    sig = (
        "0x07f19879aa28d51c97cddfdfecffe7ed96525545d041aee4f4386b0bf4c1a26924b637fb02ccbb97305c13daa51a0f50b8896fb2"
        "5ecbaf60020cde920d227a221b"
    )
    plain = Account.recover_message(encode_defunct(text=MESSAGE), signature=sig)
    assert plain.lower() != "0x0cdcdb19a857c2ac24818ca4fdfe38cce071483e"
    okx = Account.recover_message(encode_defunct(primitive=keccak(text=MESSAGE)), signature=sig)
    assert okx.lower() == "0x0cdcdb19a857c2ac24818ca4fdfe38cce071483e"  # EIP-191 over the 32-byte hash
    assert len(evm_hash("\x19Ethereum Signed Message:\n32", MESSAGE)) == 32


# --- tampering -----------------------------------------------------------------------------------------------------
def rewrite(tmp_path, name, line_no, edit):
    lines = (OKX / name).read_text(encoding="utf-8").split("\n")
    cells = lines[line_no - 1].split(",")
    edit(cells)
    lines[line_no - 1] = ",".join(cells)
    out = tmp_path / name
    out.write_text("\n".join(lines), encoding="utf-8")
    return out


def flip_hex(text, at):
    start = text.lower().index("0x") + 2
    i = start + at % (len(text.rstrip()) - start)
    return text[:i] + ("1" if text[i] != "1" else "2") + text[i + 1 :]


# example layout: 3 address, 6 signature1, 7 signature2, 9 eoa1, 10 eoa2
@pytest.mark.parametrize("line, column", [(16, 6), (17, 6), (18, 6), (18, 7), (16, 3), (17, 3), (18, 9), (18, 10)])
@pytest.mark.parametrize("at", [0, 20, 63])
def test_every_flipped_signature_or_address_fails(tmp_path, line, column, at):
    path = rewrite(tmp_path, "okx_por_example.csv", line, lambda c: c.__setitem__(column, flip_hex(c[column], at)))
    verdict = next(v for v in check_okx_file(path).verdicts if v.row.line == line)
    assert verdict.status == "failed", verdict.reason
    if at == 0:
        assert cli("reserves", str(path), "--format", "okx", "--quiet") == 1


def test_a_contract_row_without_owner_signatures_is_never_verified(tmp_path):
    path = rewrite(tmp_path, "okx_por_example.csv", 18, lambda c: c.__setitem__(6, c[6][:-2] + "1c"))
    verdict = next(v for v in check_okx_file(path).verdicts if v.row.line == 18)
    assert verdict.status == "failed"


def test_the_cli_reports_the_genuine_file_and_refuses_a_file_in_another_layout(tmp_path, capsys):
    assert cli("reserves", str(OKX / "okx_por_example.csv"), "--format", "okx", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["counts"]["owner-verified"] == 1 and doc["rows"][2]["status"] == "owner-verified"
    bad = tmp_path / "not-okx.csv"
    bad.write_text("chain,asset,address\nbtc,BTC,x\n")
    assert cli("reserves", str(bad), "--format", "okx") == 2
    assert "not an OKX address file" in capsys.readouterr().err


# --- Bitcoin and Tron rows, signed here under OKX's rules -------------------------------------------------------
def okx_file(tmp_path, rows):
    text = (
        "coin,snapshot height,amount\nBTC,1,1\n\ncoin,Network,Snapshot Height,address,amount,message,"
        "signature1,signature2,redeem script/ public key, eoa1, eoa2\n"
    )
    text += "".join(",".join(r) + "\n" for r in rows)
    path = tmp_path / "okx.csv"
    path.write_text(text, encoding="utf-8")
    return path


def btc_row(address, sig1, sig2="", script="", coin="BTC"):
    return [coin, coin, "800000", address, "1.5", MESSAGE, sig1, sig2, script, "", ""]


def key(n):
    return bytes([n]) * 32


def pub(n):
    return coincurve.PrivateKey(key(n)).public_key.format(compressed=True)


def hex_sig(digest, secret):
    sig = coincurve.PrivateKey(secret).sign_recoverable(digest, hasher=None)
    return "0x" + (sig[:64] + bytes([27 + sig[64]])).hex()


def test_bitcoin_rows_under_okx_rules(tmp_path):
    net = NETWORKS["bitcoin"]
    p2pkh = encode_address(p2pkh_script(hash160(pub(1))), net)
    p2wpkh = encode_address(bytes([0, 20]) + hash160(pub(1)), net)
    script = multisig_script(2, [pub(2), pub(3), pub(4)])
    p2wsh = encode_address(p2wsh_script(script), net)
    s2, s3, s5 = (sign_bip137(key(n), MESSAGE) for n in (2, 3, 5))
    okx_hex = hex_sig(keccak(varstr("OKX Signed Message:\n") + varstr(MESSAGE)), key(1))
    p2tr = encode_address(bytes([0x51, 32]) + taproot_tweak(key(6))[0], net)
    rows = [
        btc_row(p2pkh, sign_bip137(key(1), MESSAGE)),
        btc_row(p2wpkh, sign_bip137(key(1), MESSAGE)),
        btc_row(p2pkh, okx_hex),
        btc_row(p2wsh, s2, s3, script.hex()),
        btc_row(p2wsh, s2, s2, script.hex()),
        btc_row(p2wsh, s2, s5, script.hex()),
        btc_row(p2wsh, s2, s3, multisig_script(2, [pub(2), pub(3)]).hex()),
        btc_row(p2pkh, sign_bip137(key(9), MESSAGE)),
        btc_row(p2tr, sign_bip137(key(6), MESSAGE)),
        btc_row("1NotAnAddress", sign_bip137(key(1), MESSAGE)),
        btc_row(p2wsh, s2, s3),
    ]
    got = [(v.status, v.reason) for v in check_okx_file(okx_file(tmp_path, rows)).verdicts]
    assert [s for s, _ in got] == [
        "verified",
        "verified",
        "verified",
        "verified",
        "failed",
        "failed",
        "failed",
        "failed",
        "unsupported",
        "failed",
        "failed",
    ], got
    assert "2 of 3 keys signed" in got[3][1] and "1 distinct key(s)" in got[4][1]  # OKX's tool passes this one
    assert "not in the script" in got[5][1] and "does not hash" in got[6][1]
    assert "not a Bitcoin mainnet address" in got[9][1]  # OKX's tool passes this one too


def test_tron_rows_both_message_versions(tmp_path):
    secret = key(7)
    address = tron_address(coincurve.PrivateKey(secret).public_key)
    v1, v2 = tron_hashes(coin_table()["tron_headers"], MESSAGE)
    rows = [
        ["USDT-TRC20", "TRX", "1", address, "5", MESSAGE, sig, "", "", "", ""]
        for sig in (hex_sig(v1, secret), hex_sig(v2, secret), hex_sig(v1, key(8)), flip_hex(hex_sig(v1, secret), 5))
    ]
    got = [v.status for v in check_okx_file(okx_file(tmp_path, rows)).verdicts]
    assert address.startswith("T") and got == ["verified", "verified", "failed", "failed"]


def test_the_coin_table_is_okx_s_own(tmp_path):
    """okx_coins.json is what fixtures/okx_coins.py makes of OKX's coin.go (a synthetic excerpt here)."""
    table = coin_table()
    assert table["coins"]["ETH"]["header"] == "\x19Ethereum Signed Message:\n32"
    assert table["coins"]["BTC"] == {"family": "bitcoin", "header": "Bitcoin Signed Message:\n", "address_type": "BTC"}
    assert "USDT-TON" not in table["coins"] and "LTC" not in table["coins"] and table["units"]["USDT-TRC20"] == "USDT"
    excerpt = tmp_path / "coin.go"
    excerpt.write_text(
        'package common\nconst (\n\tUTXOCoinType = "UTXO"\n\tEvmCoinTye = "EVM"\n'
        '\tBtcMessageSignatureHeader = "Bitcoin Signed Message:\\n"\n'
        '\tEthMessageSignatureHeader = "\\x19Ethereum Signed Message:\\n32"\n'
        '\tTronMessageSignatureHeader = "\\x19TRON Signed Message:\\n32"\n'
        '\tTronMessageV2SignatureHeader = "\\x19TRON Signed Message:\\n"\n'
        '\tOKXMessageSignatureHeader = "OKX Signed Message:\\n"\n)\nvar (\n'
        '\tPorCoinAddressTypeMap = map[string]string{\n\t\t"BTC": "BTC",\n\t\t"ETH": "ETH",\n'
        '\t\t"LTC": "LTC",\n\t}\n'
        '\tPorCoinTypeMap = map[string]string{\n\t\t"BTC": UTXOCoinType,\n\t\t"ETH": EvmCoinTye,\n'
        '\t\t"LTC": UTXOCoinType,\n\t}\n'
        '\tPorCoinMessageSignatureHeaderMap = map[string]string{\n\t\t"BTC": BtcMessageSignatureHeader,'
        '\n\t\t"ETH": EthMessageSignatureHeader,\n\t\t"LTC": BtcMessageSignatureHeader,\n\t}\n'
        '\tPorCoinUnitMap = map[string]string{\n\t\t"BTC": "BTC",\n\t}\n)\n'
    )
    made = generate(excerpt)
    assert made["coins"] == {"BTC": table["coins"]["BTC"], "ETH": table["coins"]["ETH"]}
    assert made["okx_header"] == table["okx_header"]


def test_okx_s_own_bitcoin_multisig_and_tron_rows_verify(tmp_path):
    """OKX's example/test.csv (genuine mainnet signatures, another layout), turned into address-file rows."""
    import csv as csvlib

    rows = [
        r
        for r in csvlib.reader((OKX / "test.csv").read_text(encoding="utf-8").splitlines()[1:])
        if r[1] in ("BTC", "TRON")
    ]
    assert [r[1] for r in rows] == ["BTC", "TRON"]
    as_rows = [
        [r[0], r[1], "1", r[2], "1", r[5], r[3], r[4] if r[4] != "null" else "", r[6] if r[6] != "null" else "", "", ""]
        for r in rows
    ]
    got = [(v.status, v.reason) for v in check_okx_file(okx_file(tmp_path, as_rows)).verdicts]
    assert got == [
        ("verified", "multisig: 2 of 3 keys signed (2 needed)"),
        ("verified", "TRON signature by the address's key"),
    ]
    for column in (6, 7):  # either multisig signature swapped for the other's
        forged = [list(as_rows[0])]
        forged[0][column] = as_rows[0][13 - column]
        assert check_okx_file(okx_file(tmp_path, forged)).verdicts[0].status == "failed"
    wrong = [list(as_rows[1])]
    wrong[0][5] = "I am an OKX address"  # another message
    assert check_okx_file(okx_file(tmp_path, wrong)).verdicts[0].status == "failed"


# --- OKX's 2023 file: genuine Bitcoin multisig and TRON rows ----------------------------------------------------
LEGACY = OKX / "okx_por_example_2023.csv"
LEGACY_SHA256 = (
    "984a42956cb1b4dc3dc816c16c406447e8cce89ad32f0838325b3e1aa40077e6"  # okx/proof-of-reserves 563eaa1..7d12e71
)


def test_the_2023_file_is_okx_s_and_every_genuine_row_verifies():
    import hashlib

    assert hashlib.sha256(LEGACY.read_bytes()).hexdigest() == LEGACY_SHA256
    report = check_okx_file(LEGACY)
    assert report.ok and report.counts()["verified"] == 33 and len(report.verdicts) == 33
    btc = [v for v in report.verdicts if v.row.coin == "BTC"]
    tron = [v for v in report.verdicts if v.row.coin == "USDT-TRC20"]
    assert len(btc) == 9 and all(v.reason == "multisig: 2 of 3 keys signed (2 needed)" for v in btc)
    assert {v.row.address[:3] for v in btc} == {"bc1", "3QV", "35q", "33B"}  # P2WSH and P2SH multisig
    assert len(tron) == 7 and all(v.reason == "TRON signature by the address's key" for v in tron)
    assert all(v.row.base_units and v.row.network == "" for v in report.verdicts)
    assert btc[0].row.height == "763861"  # the summary line's height for the coin
    totals = {t["coin"]: t for t in report.totals()}
    assert totals["BTC"]["rows_amount"] == "449.51400581" and totals["BTC"]["summary_amount"] == "449.5140"
    assert totals["USDT-TRC20"]["rows_amount"] == "5436.904358"


def flip_base64(text, at):
    i = 4 + at % (len(text) - 8)
    return text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1 :]


def flippable_cells():
    """(line, column) of every cell to flip in six genuine rows: address, signature1, signature2, redeem script."""
    lines = LEGACY.read_text(encoding="utf-8").split("\n")
    return [
        (n, c) for n in (16, 19, 27, 39, 41, 46) for c in (1, 4, 5, 6) if lines[n - 1].split(",")[c] not in ("", "null")
    ]


@pytest.mark.parametrize("line, column", flippable_cells())
def test_every_flipped_2023_row_fails(tmp_path, line, column):
    lines = LEGACY.read_text(encoding="utf-8").split("\n")
    cells = lines[line - 1].split(",")
    if column == 1:
        i = len(cells[1]) // 2
        cells[1] = cells[1][:i] + ("q" if cells[1][i] != "q" else "p") + cells[1][i + 1 :]
    elif cells[column].startswith("0x"):
        cells[column] = flip_hex(cells[column], 40)
    elif column == 6:
        cells[column] = flip_hex("0x" + cells[column], 40)[2:]
    else:
        cells[column] = flip_base64(cells[column], 30)
    lines[line - 1] = ",".join(cells)
    path = tmp_path / "okx_2023.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    verdict = next(v for v in check_okx_file(path).verdicts if v.row.line == line)
    assert verdict.status == "failed", (line, column, verdict.reason)
