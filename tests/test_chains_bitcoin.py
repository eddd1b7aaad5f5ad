"""The Bitcoin adapter on a real bcoin regtest node and an Esplora-shaped server over it.

One node per module: the wallets (P2PKH and P2WPKH of one key, 2-of-3 P2SH and
P2WSH multisig) are funded, spend before the snapshot, and move again after it,
so a reading at the snapshot that looked at the tip would be wrong.
"""

import socket
import threading

import pytest

from chains import bitcoin
from chains.base import BalanceQuery
from chains.bitcoin_proofs import sign_bip137, sign_bip322_multisig, sign_bip322_p2wpkh
from chains.bitcoin_rpc import TxRecord, balance_at
from chains.records import ChainSnapshot, DeclaredWallet, Scheme, Snapshot, WalletType, ownership_message
from fixtures.bitcoin_wallets import fund_and_move, single
from fixtures.esplora import EsploraShim
from fixtures.localchains.bcoin import BcoinNode
from por.errors import InputError, ProviderError
from por.reserves.read import read_reserves

NAMES = ("p2pkh", "p2wpkh", "p2sh", "p2wsh")


@pytest.fixture(scope="module")
def chain():
    with BcoinNode() as node, EsploraShim(node.base_url, node.api_key) as shim:
        scenario = fund_and_move(node)
        yield node, shim, scenario


def config(node=None, esplora=None, **extra):
    table = {
        "family": "bitcoin",
        "network": "regtest",
        "native_asset": "BTC",
        "min_confirmations": 1,
        "node_rpc": [node.rpc_url] if node else [],
        "esplora": [esplora] if esplora else [],
    }
    table.update(extra)
    return table


def queries(scenario):
    return [
        BalanceQuery(scenario.wallets[n].address, "BTC", None, scenario.wallets[n].output_script.hex()) for n in NAMES
    ]


async def read(cfg, scenario, height):
    async with bitcoin.make_adapter("btc", cfg) as adapter:
        return await adapter.balances(queries(scenario), height)


# --- balances at the snapshot --------------------------------------------------------------------------------
@pytest.mark.nodes
@pytest.mark.parametrize("providers", ["node", "esplora", "both"])
async def test_exact_balances_at_the_snapshot_and_at_the_tip(chain, providers):
    node, shim, sc = chain
    cfg = config(node if providers != "esplora" else None, shim.url if providers != "node" else None)
    at_snapshot = await read(cfg, sc, sc.snapshot_height)
    assert {n: r.amount for n, r in zip(NAMES, at_snapshot)} == sc.at_snapshot
    assert all(r.height == sc.snapshot_height for r in at_snapshot)
    at_tip = await read(cfg, sc, sc.tip_height)
    assert {n: r.amount for n, r in zip(NAMES, at_tip)} == sc.at_tip
    assert all(sc.at_tip[n] != sc.at_snapshot[n] for n in NAMES)  # every wallet moved after the snapshot
    if providers == "both":
        assert "node_rpc http://127.0.0.1" in at_snapshot[0].provider and "esplora" in at_snapshot[0].provider
        assert node.api_key not in at_snapshot[0].provider


@pytest.mark.nodes
async def test_bcoin_index_is_keyed_by_hash_but_outputs_are_matched_by_script(chain):
    node, shim, sc = chain
    p2pkh, p2wpkh = sc.wallets["p2pkh"], sc.wallets["p2wpkh"]
    # The trap is real: bcoin returns the P2PKH's coinbases when asked for the P2WPKH of the same key.
    listed = node.rest(f"/tx/address/{p2wpkh.address}")
    assert any(
        all(o["script"] != p2wpkh.output_script.hex() for o in tx["outputs"])
        and any(o["script"] == p2pkh.output_script.hex() for o in tx["outputs"])
        for tx in listed
    )
    readings = await read(config(node, batch_size=1), sc, sc.snapshot_height)
    assert readings[1].amount == sc.at_snapshot["p2wpkh"] != sc.at_snapshot["p2wpkh"] + sc.at_snapshot["p2pkh"]


@pytest.mark.nodes
async def test_unconfirmed_transactions_count_nowhere(chain):
    node, shim, sc = chain
    assert node.tx(sc.unconfirmed[0])["height"] == -1
    readings = await read(config(node, shim.url), sc, sc.tip_height)
    assert readings[0].amount == sc.at_tip["p2pkh"]


@pytest.mark.nodes
@pytest.mark.parametrize("batch_size", [1, 3, 50])
async def test_node_batches_give_the_same_answer(chain, batch_size):
    node, _, sc = chain
    readings = await read(config(node, batch_size=batch_size), sc, sc.snapshot_height)
    assert [r.amount for r in readings] == [sc.at_snapshot[n] for n in NAMES]


@pytest.mark.nodes
async def test_esplora_pagination_and_concurrency_limit(chain):
    node, shim, sc = chain
    shim.max_in_flight = 0
    miner = sc.wallets["miner"]  # > 100 transactions: five Esplora pages
    query = BalanceQuery(miner.address, "BTC", None, miner.output_script.hex())
    async with bitcoin.make_adapter("btc", config(node, shim.url, concurrency=2)) as adapter:
        both = await adapter.balances([query] + queries(sc), sc.snapshot_height)
    assert both[0].amount == sc.miner_at_snapshot
    assert [r.amount for r in both[1:]] == [sc.at_snapshot[n] for n in NAMES]
    assert 1 <= shim.max_in_flight <= 2


# --- heights and forks ------------------------------------------------------------------------------------------
@pytest.mark.nodes
async def test_tip_and_block_hash_agree_across_providers(chain):
    node, shim, sc = chain
    async with bitcoin.make_adapter("btc", config(node, shim.url)) as adapter:
        assert await adapter.tip_height() == sc.tip_height
        assert await adapter.block_hash(sc.snapshot_height) == sc.snapshot_hash


@pytest.mark.nodes
async def test_a_provider_on_another_fork_is_named():
    with BcoinNode() as a, BcoinNode() as b:
        a.mine(3, single("p2pkh").address)
        b.mine(3, single("p2pkh").address)
        cfg = config(None, None, node_rpc=[a.rpc_url, b.rpc_url])
        async with bitcoin.make_adapter("btc", cfg) as adapter:
            assert await adapter.tip_height() == 3
            with pytest.raises(ProviderError) as err:
                await adapter.block_hash(2)
    assert f"127.0.0.1:{a.port}" in err.value.provider and f"127.0.0.1:{b.port}" in err.value.provider
    assert "different forks" in err.value.reason


@pytest.mark.nodes
async def test_providers_that_disagree_on_a_balance_are_named_with_the_address(chain):
    node, shim, sc = chain
    listed = node.rest(f"/tx/address/{sc.wallets['p2wsh'].address}")
    shim.hide = {tx["hash"] for tx in listed if tx["inputs"][0]["prevout"]["index"] == 0xFFFFFFFF}  # its coinbase
    try:
        with pytest.raises(ProviderError) as err:
            await read(config(node, shim.url), sc, sc.snapshot_height)
    finally:
        shim.hide = set()
    assert "node_rpc" in err.value.provider and "esplora" in err.value.provider
    assert err.value.address == sc.wallets["p2wsh"].address
    assert f"{sc.at_snapshot['p2wsh']} vs {3 * 10**8} base units" in err.value.reason


# --- faults -------------------------------------------------------------------------------------------------------
@pytest.mark.nodes
async def test_transient_5xx_and_429_are_retried(chain):
    node, shim, sc = chain
    shim.fail_next(2, 503)
    shim.fail_next(1, 429)
    readings = await read(config(None, shim.url, attempts=4), sc, sc.snapshot_height)
    assert [r.amount for r in readings] == [sc.at_snapshot[n] for n in NAMES]


@pytest.mark.nodes
async def test_persistent_429_is_a_provider_error_not_a_zero(chain):
    node, shim, sc = chain
    shim.fail_next(50, 429)
    try:
        with pytest.raises(ProviderError) as err:
            await read(config(None, shim.url, attempts=2), sc, sc.snapshot_height)
    finally:
        shim._fail.clear()
    assert err.value.provider == f"esplora {shim.url}" and "HTTP 429" in err.value.reason
    assert "after 2 attempts" in err.value.reason


@pytest.mark.nodes
async def test_a_provider_that_stops_answering_is_named(chain):
    node, _, sc = chain
    with EsploraShim(node.base_url, node.api_key) as gone:
        url = gone.url
    with pytest.raises(ProviderError) as err:
        await read(config(node, url, attempts=2), sc, sc.snapshot_height)
    assert err.value.provider == f"esplora {url}" and "cannot connect" in err.value.reason


@pytest.mark.nodes
async def test_a_provider_that_hangs_times_out_with_its_name_and_the_address(chain):
    node, _, sc = chain
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    stop = threading.Event()

    def swallow():  # accepts connections and never answers
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=swallow, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        async with bitcoin.make_adapter("btc", config(None, url, timeout=0.3, attempts=2)) as adapter:
            with pytest.raises(ProviderError) as err:
                await adapter.balances(queries(sc)[:1], sc.snapshot_height)
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        listener.close()
    assert err.value.provider == f"esplora {url}" and "no answer within 0.3s" in err.value.reason


@pytest.mark.nodes
async def test_a_wrong_api_key_is_named_without_leaking_it(chain):
    node, _, sc = chain
    wrong = node.rpc_url.replace(node.api_key, "not-the-key")
    with pytest.raises(ProviderError) as err:
        await read(config(None, None, node_rpc=[wrong]), sc, sc.snapshot_height)
    assert "HTTP 401" in str(err.value) and "not-the-key" not in str(err.value)
    assert err.value.provider == f"node_rpc {node.base_url}"


# --- config --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "table, field",
    [
        ({"esplora": ["http://127.0.0.1:1"], "esplra": []}, "chains.btc.esplra"),
        ({}, "chains.btc"),
        ({"esplora": ["ftp://x"]}, "chains.btc.esplora[0]"),
        ({"esplora": ["http://127.0.0.1:1"], "network": "mainnet"}, "chains.btc.network"),
        ({"esplora": ["http://127.0.0.1:1"], "timeout": 0}, "chains.btc.timeout"),
        ({"esplora": ["http://127.0.0.1:1"], "retries": True}, "chains.btc.retries"),
        ({"esplora": ["http://127.0.0.1:1"], "retries": -1}, "chains.btc.retries"),
        ({"esplora": ["http://127.0.0.1:1"], "attempts": 0}, "chains.btc.attempts"),
        ({"esplora": ["http://127.0.0.1:1"], "attempts": 2, "retries": 1}, "chains.btc.retries"),
        ({"esplora": ["http://127.0.0.1:1"], "network": ["regtest"]}, "chains.btc.network"),
    ],
)
def test_bad_config_names_the_field(table, field):
    with pytest.raises(InputError) as err:
        bitcoin.make_adapter("btc", {"family": "bitcoin", **table})
    assert err.value.field == field


def test_replay_is_by_exact_script_and_height():
    mine, other = "0014" + "11" * 20, "76a914" + "11" * 20 + "88ac"
    history = [
        TxRecord("a", 10, ((0, mine, 500), (1, other, 7)), ()),
        TxRecord("b", 12, ((0, other, 499),), (("a", 0),)),
        TxRecord("c", 12, ((0, mine, 1),), (("a", 1),)),
        TxRecord("d", -1, ((0, mine, 1000),), ()),
    ]
    assert [balance_at(history, mine, h) for h in (9, 10, 11, 12, 99)] == [0, 500, 500, 1, 1]
    assert balance_at(history + history, mine, 10) == 500  # a transaction listed twice counts once


# --- end to end through por.reserves.read ---------------------------------------------------------------------
def declare(scenario, snapshot_id, exchange):
    rows = []
    for name, scheme in (("p2pkh", "bip137"), ("p2wpkh", "bip322"), ("p2sh", "bip137"), ("p2wsh", "bip322")):
        w = scenario.wallets[name]
        text = ownership_message(snapshot_id, exchange, w.address)
        if name == "p2pkh":
            sigs = [sign_bip137(w.secrets[0], text, "p2pkh")]
        elif name == "p2wpkh":
            sigs = [sign_bip322_p2wpkh(w.secrets[0], text)]
        elif name == "p2sh":
            sigs = [sign_bip137(s, text, "p2pkh") for s in w.secrets[1:]]
        else:
            sigs = sign_bip322_multisig(w.secrets[:2], text, w.script)
        rows.append(
            DeclaredWallet(
                "btc",
                "BTC",
                w.address,
                WalletType.COLD,
                Scheme(scheme),
                text,
                tuple(sigs),
                w.script.hex() or None,
                f"wallets.csv:{len(rows) + 2}",
            )
        )
    return rows


@pytest.mark.nodes
async def test_read_reserves_end_to_end_and_refuses_a_snapshot_on_another_fork(chain):
    node, shim, sc = chain
    chains = {"btc": config(node, shim.url)}
    snapshot = Snapshot("2026-06-30", {"btc": ChainSnapshot("btc", sc.snapshot_height, sc.snapshot_hash)})
    wallets = declare(sc, "2026-06-30", "ExA")
    wallets[2] = declare(sc, "2026-03-31", "ExA")[2]  # an old proof, replayed
    report = await read_reserves(wallets, snapshot, chains, "ExA")
    assert [r.amount for r in report.rows] == [sc.at_snapshot[n] for n in NAMES]
    assert [r.ownership.ok for r in report.rows] == [True, True, False, True]
    assert "not the expected" in report.rows[2].ownership.reason
    assert report.assets["BTC"].cold == sum(sc.at_snapshot[n] for n in NAMES if n != "p2sh")
    forked = Snapshot("2026-06-30", {"btc": ChainSnapshot("btc", sc.snapshot_height, "ab" * 32)})
    with pytest.raises(ProviderError, match="another fork"):
        await read_reserves(wallets, forked, chains, "ExA")
