"""`por sign-wallets` signs a P2TR (BIP-322 simple, key path), and `por reserves` reads it back on bcoin.

bcoin 1.0.2 has no Taproot (fixtures/taproot_wallets.py): the P2TR is paid by hand-built
transactions and spent in a hand-mined block, before and after the snapshot. The proof is
made from the BIP-86 internal key only (the signer finds it by its tweaked output key) and
checked offline; a forged Schnorr proof and a key of another P2TR are refused.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from chains.records import Scheme
from chains.signer import Unsigned, sign
from fixtures.esplora import EsploraShim
from fixtures.localchains.bcoin import BcoinNode
from fixtures.taproot_wallets import TaprootKey, fund_and_move_taproot
from por.errors import InputError

EXCHANGE = "Acme Exchange"
CONFIG = {"family": "bitcoin", "network": "regtest", "native_asset": "BTC", "node_rpc": ["http://127.0.0.1:9"]}


def por(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "por", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_the_signer_needs_the_p2tr_s_own_internal_key_and_bip322():
    key, other = TaprootKey(os.urandom(32)), TaprootKey(os.urandom(32))
    row = Unsigned("btc", key.address, Scheme.BIP322)
    with pytest.raises(InputError, match="BIP-86 internal key"):
        sign("bitcoin", row, "m", [other.secret], CONFIG)
    with pytest.raises(InputError, match="bip322"):
        sign("bitcoin", Unsigned("btc", key.address, Scheme.BIP137), "m", [key.secret], CONFIG)
    (signature,) = sign("bitcoin", row, "m", [other.secret, key.secret], CONFIG)
    assert signature.startswith("smp")  # BIP-322 simple: a witness of one 64-byte Schnorr signature


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    folder = tmp_path_factory.mktemp("taproot")
    with BcoinNode() as node, EsploraShim(node.base_url, node.api_key) as shim:
        sc = fund_and_move_taproot(node)
        (folder / "chains.toml").write_text(
            '[chains.bitcoin]\nfamily = "bitcoin"\nnetwork = "regtest"\nnative_asset = "BTC"\n'
            f'min_confirmations = 1\nnode_rpc = ["{node.rpc_url}"]\nesplora = ["{shim.url}"]\n'
        )
        snapshot = {
            "format": "por-snapshot",
            "version": 1,
            "snapshot_id": "2026-06-30",
            "chains": {"bitcoin": {"height": sc.snapshot_height, "block_hash": sc.snapshot_hash}},
        }
        (folder / "snapshot.json").write_text(json.dumps(snapshot))
        yield folder, sc


def signed_wallets(folder, sc) -> dict:
    (folder / "declared.csv").write_text(
        f"chain,asset,address,wallet_type,scheme\nbitcoin,BTC,{sc.key.address},cold,bip322\n"
    )
    done = por(
        "sign-wallets",
        folder / "declared.csv",
        "--snapshot",
        folder / "snapshot.json",
        "--config",
        folder / "chains.toml",
        "--exchange",
        EXCHANGE,
        "--keys-env",
        "POR_TEST_KEYS",
        "--out",
        folder / "wallets.json",
        env={"POR_TEST_KEYS": f"{os.urandom(32).hex()} {sc.key.secret.hex()}"},
    )
    assert done.returncode == 0, done.stderr
    assert sc.key.secret.hex() not in done.stdout + done.stderr
    return json.loads((folder / "wallets.json").read_text())


def reserves(folder, *extra):
    return por(
        "reserves",
        folder / "wallets.json",
        "--snapshot",
        folder / "snapshot.json",
        "--config",
        folder / "chains.toml",
        *extra,
    )


@pytest.mark.nodes
def test_a_signed_p2tr_reads_back_with_its_exact_balance_at_the_snapshot(chain):
    folder, sc = chain
    signed_wallets(folder, sc)
    done = reserves(folder, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    (row,) = report["addresses"]
    assert row["ownership"]["status"] == "verified" and "Schnorr" in row["ownership"]["reason"]
    assert Decimal(row["balance"]) == Decimal(sc.at_snapshot["p2tr"]) / 10**8
    assert sc.at_tip["p2tr"] != sc.at_snapshot["p2tr"]  # funds moved after the snapshot, not read


@pytest.mark.nodes
@pytest.mark.parametrize("at", [0, 31, 63])
def test_a_forged_schnorr_proof_is_rejected(chain, at):
    folder, sc = chain
    doc = signed_wallets(folder, sc)
    signature = doc["wallets"][0]["signature"]
    witness = bytearray(base64.b64decode(signature[3:]))
    witness[2 + at] ^= 0x01  # one bit of the 64-byte signature (after the item count and its length)
    doc["wallets"][0]["signature"] = "smp" + base64.b64encode(bytes(witness)).decode()
    (folder / "wallets.json").write_text(json.dumps(doc))
    done = reserves(folder)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout and sc.key.address in done.stdout
