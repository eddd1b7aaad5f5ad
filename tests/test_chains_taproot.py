"""P2TR balances on a real bcoin regtest node (and the Esplora-shaped server over it).

bcoin 1.0.2 has no Taproot (see fixtures/taproot_wallets.py): the P2TR is paid by
hand-built transactions through its mempool and spent in a block mined by hand
(`submitblock`). What a real node exercises here: outputs paying to witness v1,
their index entries, a consensus-valid spend of one, and our exact-script match
against the P2WSH of the same 32 bytes. What it does not: Taproot's own
consensus rules (bcoin does not check the Schnorr signature of the spend).
"""

import pytest

from chains import bitcoin
from chains.base import BalanceQuery
from chains.bitcoin_address import encode_address
from chains.bitcoin_proofs import sign_bip137, sign_bip322_p2tr
from chains.records import ChainSnapshot, DeclaredWallet, Scheme, Snapshot, WalletType, ownership_message
from fixtures.bitcoin_wallets import NET, single
from fixtures.esplora import EsploraShim
from fixtures.localchains.bcoin import BcoinNode
from fixtures.taproot_wallets import fund_and_move_taproot
from por.reserves.read import read_reserves


@pytest.fixture(scope="module")
def chain():
    with BcoinNode() as node, EsploraShim(node.base_url, node.api_key) as shim:
        yield node, shim, fund_and_move_taproot(node)


def config(node=None, esplora=None):
    return {
        "family": "bitcoin",
        "network": "regtest",
        "native_asset": "BTC",
        "min_confirmations": 1,
        "node_rpc": [node.rpc_url] if node else [],
        "esplora": [esplora] if esplora else [],
    }


def queries(sc):
    p2tr = sc.key.address
    twin = encode_address(sc.key.twin_script, NET)
    return [
        BalanceQuery(p2tr, "BTC", None, sc.key.output_script.hex()),
        BalanceQuery(twin, "BTC", None, sc.key.twin_script.hex()),
    ]


@pytest.mark.nodes
@pytest.mark.parametrize("providers", ["node", "esplora", "both"])
async def test_p2tr_balance_at_the_snapshot_and_at_the_tip_never_mixed_with_its_p2wsh_twin(chain, providers):
    node, shim, sc = chain
    cfg = config(node if providers != "esplora" else None, shim.url if providers != "node" else None)
    async with bitcoin.make_adapter("btc", cfg) as adapter:
        at_snapshot = await adapter.balances(queries(sc), sc.snapshot_height)
        at_tip = await adapter.balances(queries(sc), sc.tip_height)
    assert [r.amount for r in at_snapshot] == [sc.at_snapshot["p2tr"], sc.at_snapshot["twin"]]
    assert [r.amount for r in at_tip] == [sc.at_tip["p2tr"], sc.at_tip["twin"]]
    assert sc.at_tip["p2tr"] != sc.at_snapshot["p2tr"]


@pytest.mark.nodes
def test_the_node_really_confirmed_a_spend_of_the_p2tr_and_indexes_both_scripts_under_one_key(chain):
    node, _, sc = chain
    spend = node.tx(sc.spend_txid)
    assert spend["height"] > sc.snapshot_height
    twin = encode_address(sc.key.twin_script, NET)
    scripts = {o["script"] for tx in node.rest(f"/tx/address/{twin}") for o in tx["outputs"]}
    assert {sc.key.output_script.hex(), sc.key.twin_script.hex()} <= scripts  # the trap is real


@pytest.mark.nodes
async def test_por_reserves_counts_a_proven_p2tr_and_reports_an_unsupported_address_alone(chain):
    node, shim, sc = chain
    snapshot = Snapshot("2026-06-30", {"btc": ChainSnapshot("btc", sc.snapshot_height, sc.snapshot_hash)})
    p2tr = sc.key.address
    message = ownership_message("2026-06-30", "ExA", p2tr)
    future = encode_address(bytes([0x52, 32]) + b"\x07" * 32, NET)  # witness v2: valid, uncheckable
    key = single("p2wpkh")
    wallets = [
        DeclaredWallet(
            "btc",
            "BTC",
            p2tr,
            WalletType.COLD,
            Scheme.BIP322,
            message,
            (sign_bip322_p2tr(sc.key.secret, message)[0],),
            source="w.csv:2",
        ),
        DeclaredWallet(
            "btc",
            "BTC",
            future,
            WalletType.COLD,
            Scheme.BIP137,
            ownership_message("2026-06-30", "ExA", future),
            (sign_bip137(key.secrets[0], "x"),),
            source="w.csv:3",
        ),
    ]
    report = await read_reserves(wallets, snapshot, {"btc": config(node, shim.url)}, "ExA")
    assert report.ok and [r.amount for r in report.rows] == [sc.at_snapshot["p2tr"], None]
    assert report.rows[1].ownership.unsupported and "witness v2" in report.rows[1].ownership.reason
    doc = report.to_json()
    assert doc["assets"]["BTC"]["cold"] == "5" and doc["unsupported"] == 1
    assert [a["ownership"]["status"] for a in doc["addresses"]] == ["verified", "unsupported"]
