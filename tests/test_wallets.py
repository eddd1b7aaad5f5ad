"""Parsing of the reserves inputs: every defect is one error naming file, line and field."""

import json

import pytest

from chains.records import Scheme, WalletType
from por.errors import InputError
from por.reserves.inputs import load_chains_config, load_snapshot, load_wallets

HEADER = "chain,asset,address,wallet_type,scheme,message,signature,script\n"
ROW = "hardhat,ETH,0xabc123,cold,eip191,Proof of reserves s1 by ex: 0xabc123,0xsig,\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_wallet_parses_with_multisig_signatures(tmp_path):
    path = write(tmp_path, "w.csv", HEADER + ROW + 'bitcoin,BTC,rb1qxyz,hot,bip137,"m, with comma",s1|s2,5221ab\n')
    wallets, exchange = load_wallets(path)
    assert exchange is None
    assert wallets[0].wallet_type is WalletType.COLD and wallets[0].scheme is Scheme.EIP191
    assert wallets[1].signatures == ("s1", "s2") and wallets[1].script == "5221ab"
    assert wallets[1].message == "m, with comma"
    assert wallets[1].source == f"{path}:3"


@pytest.mark.parametrize(
    "row, field",
    [
        ("hardhat,ETH,0xabc,warm,eip191,m,s,\n", "wallet_type"),
        ("hardhat,ETH,0xabc,cold,rsa,m,s,\n", "scheme"),
        ("hardhat,eth,0xabc,cold,eip191,m,s,\n", "asset"),
        ("Hard Hat,ETH,0xabc,cold,eip191,m,s,\n", "chain"),
        ("hardhat,ETH,0x<b>,cold,eip191,m,s,\n", "address"),
        ("hardhat,ETH,0xabc,cold,eip191,m,,\n", "signature"),
        ("hardhat,ETH,0xabc,cold,eip191,m,s,zz\n", "script"),
    ],
)
def test_csv_wallet_errors_name_line_and_field(tmp_path, row, field):
    path = write(tmp_path, "w.csv", HEADER + ROW + row)
    with pytest.raises(InputError) as err:
        load_wallets(path)
    assert str(err.value).startswith(f"{path}:3: {field}: ")


def test_csv_header_and_empty_file_are_rejected(tmp_path):
    with pytest.raises(InputError, match="empty file"):
        load_wallets(write(tmp_path, "e.csv", ""))
    with pytest.raises(InputError, match="missing script"):
        load_wallets(write(tmp_path, "h.csv", "chain,asset,address,wallet_type,scheme,message,signature\n"))
    with pytest.raises(InputError, match="no wallets"):
        load_wallets(write(tmp_path, "o.csv", HEADER))


def test_json_wallets_with_exchange_and_signature_list(tmp_path):
    doc = {
        "exchange": "ex",
        "wallets": [
            {
                "chain": "bitcoin",
                "asset": "BTC",
                "address": "rb1q",
                "wallet_type": "own",
                "scheme": "bip322",
                "message": "m",
                "signature": ["a", "b"],
                "script": "",
            }
        ],
    }
    wallets, exchange = load_wallets(write(tmp_path, "w.json", json.dumps(doc)))
    assert exchange == "ex" and wallets[0].signatures == ("a", "b") and wallets[0].script is None
    doc["wallets"][0]["extra"] = 1
    with pytest.raises(InputError, match=r"wallets\[0\]\.extra: unknown field"):
        load_wallets(write(tmp_path, "w2.json", json.dumps(doc)))


def test_snapshot_file(tmp_path):
    good = {"snapshot_id": "s1", "chains": {"hardhat": {"height": 5, "block_hash": "0x" + "AB" * 32}}}
    snap = load_snapshot(write(tmp_path, "s.json", json.dumps(good)))
    assert snap.chains["hardhat"].height == 5 and snap.chains["hardhat"].block_hash == "ab" * 32
    bad = {"snapshot_id": "s1", "chains": {"hardhat": {"height": -1, "block_hash": "0x" + "ab" * 32}}}
    with pytest.raises(InputError, match=r"chains\.hardhat\.height"):
        load_snapshot(write(tmp_path, "b.json", json.dumps(bad)))
    short = {"snapshot_id": "s1", "chains": {"hardhat": {"height": 1, "block_hash": "abc"}}}
    with pytest.raises(InputError, match="block_hash"):
        load_snapshot(write(tmp_path, "c.json", json.dumps(short)))


def test_chains_config(tmp_path):
    conf = load_chains_config(
        write(
            tmp_path,
            "c.toml",
            '[chains.hardhat]\nfamily = "evm"\nrpc = ["http://x"]\nchain_id = 31337\nnative_asset = "ETH"\n',
        )
    )
    assert conf["hardhat"]["family"] == "evm"
    with pytest.raises(InputError, match="chains.hardhat.chain_id"):  # each table checked by its family now
        load_chains_config(write(tmp_path, "f.toml", '[chains.hardhat]\nfamily = "evm"\nrpc = ["http://x"]\n'))
    with pytest.raises(InputError, match="family"):
        load_chains_config(write(tmp_path, "d.toml", "[chains.hardhat]\nrpc = []\n"))
    with pytest.raises(InputError, match="invalid TOML"):
        load_chains_config(write(tmp_path, "e.toml", "[chains\n"))
