"""`por snapshot --at TIME` and `por sign-wallets`, then `por reserves` on what they wrote.

Without nodes: the search itself (`chains.timeline.last_block_at_or_before`) over providers that
answer from lists of times: equal times, a time not yet passed, before the first block, providers
that disagree. On real nodes: hardhat blocks mined at chosen timestamps and bcoin blocks mined under
`setmocktime` with timestamps that go backwards (so the last block by timestamp and the last block
by median-time-past differ), two providers per chain; the snapshot file is checked against a brute
force over the nodes' own answers; then keys (a file and an environment variable) sign an EOA, a
2-of-3 Safe, P2PKH, P2WPKH, a P2WSH multisig (BIP-322) and a P2SH multisig (BIP-137), and
`por reserves` verifies every proof and reads the exact balances.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from eth_account import Account

from chains.base import AgreeingAdapter
from chains.timeline import last_block_at_or_before
from fixtures.bitcoin_wallets import multisig, single, subsidy
from fixtures.esplora import EsploraShim
from fixtures.localchains.bcoin import BcoinNode
from fixtures.localchains.hardhat import HardhatNode
from fixtures.localchains.safe import deploy_safe_contracts
from por.errors import InputError, ProviderError
from por.reserves.at_time import parse_time
from por.reserves.inputs import load_snapshot

T0 = 1_750_000_000
EXCHANGE = "Acme Exchange"


# --- the search, without a node ------------------------------------------------------------------
class Times:
    """A provider that answers from a list of block times (index = height)."""

    def __init__(self, label, times):
        self.label, self.times = label, times

    async def tip_height(self):
        return len(self.times) - 1

    async def block_hash(self, height):
        return f"{height:064x}"

    async def block_time(self, height):
        return self.times[height]

    async def amounts(self, queries, height):
        return []

    async def aclose(self):
        pass


async def search(times, when, other=None):
    providers = [Times("a", times)] + ([Times("b", other)] if other else [])
    return await last_block_at_or_before(AgreeingAdapter("x", providers), "evm", when)


@pytest.mark.parametrize("when, height", [(100, 0), (105, 0), (110, 2), (119, 2), (120, 3), (139, 4)])
async def test_the_last_block_at_or_before_the_time(when, height):
    found = await search([100, 110, 110, 120, 130, 140], when)
    assert found.height == height and found.block_hash == f"{height:064x}"


async def test_a_time_the_chain_has_not_passed_is_refused():
    with pytest.raises(InputError, match="has not passed that time yet"):
        await search([100, 110, 120], 120)


async def test_a_time_before_the_first_block_is_refused():
    with pytest.raises(InputError, match="before chain x's first block"):
        await search([100, 110, 120], 99)


async def test_providers_that_disagree_on_a_time_stop_the_search():
    with pytest.raises(ProviderError, match="providers on different forks"):
        await search([100, 110, 120, 130, 140], 125, other=[100, 110, 121, 131, 141])


def test_the_time_is_utc_in_one_spelling():
    assert parse_time("2025-06-15T15:06:40+00:00") == ("2025-06-15T15:06:40Z", T0)
    with pytest.raises(InputError, match="not in UTC"):
        parse_time("2025-06-15T17:06:40+02:00")


# --- on real nodes -------------------------------------------------------------------------------
def por(*args, env=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "por", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    """Both chains mined at known times; returns what the test needs to know about them."""
    folder = tmp_path_factory.mktemp("chains")
    with HardhatNode() as hardhat, BcoinNode() as bcoin, EsploraShim(bcoin.base_url, bcoin.api_key) as esplora:
        eoa, owners = Account.create(), [Account.create() for _ in range(3)]
        safe = deploy_safe_contracts(hardhat).create([o.address for o in owners], 2)
        hardhat.fund(eoa.address, 10**18 + 1)
        hardhat.fund(safe, 3 * 10**18 + 7)
        base = int(hardhat.rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16) + 100
        for i in range(41):  # one block every 10 minutes after `base`
            hardhat.rpc("evm_mine", base + 300 + 600 * i)
        btc = {
            "p2pkh": single("p2pkh"),
            "p2wpkh": single("p2wpkh"),
            "p2wsh": multisig("p2wsh"),
            "p2sh": multisig("p2sh"),
        }
        mined: dict[str, list[int]] = {k: [] for k in btc}
        kinds = list(btc)
        offsets = [0, 600, 1200, 900, 2400, 3000, 2000, 4200, 4800, 5400, 6000, 6600, 7200, 7800] + [
            7800 + 600 * i for i in range(1, 15)
        ]
        for i, offset in enumerate(offsets):  # timestamps go backwards at blocks 4 and 7
            bcoin.rpc("setmocktime", base + offset)
            kind = kinds[i % len(kinds)]
            bcoin.mine(1, btc[kind].address)
            mined[kind].append(bcoin.height())
        config = folder / "chains.toml"
        config.write_text(
            '[chains.hardhat]\nfamily = "evm"\nchain_id = 31337\nnative_asset = "ETH"\nmin_confirmations = 2\n'
            f'rpc = ["{hardhat.url}", "http://localhost:{hardhat.port}"]\n\n'
            '[chains.bitcoin]\nfamily = "bitcoin"\nnetwork = "regtest"\nnative_asset = "BTC"\n'
            f'min_confirmations = 2\nnode_rpc = ["{bcoin.rpc_url}"]\nesplora = ["{esplora.url}"]\n'
        )
        yield {
            "hardhat": hardhat,
            "bcoin": bcoin,
            "config": config,
            "base": base,
            "eoa": eoa,
            "owners": owners,
            "safe": safe,
            "btc": btc,
            "mined": mined,
            "folder": folder,
        }


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def brute_force(chains, when):
    hardhat, bcoin = chains["hardhat"], chains["bcoin"]
    evm = max(
        h
        for h in range(hardhat.block_number() + 1)
        if int(hardhat.rpc("eth_getBlockByNumber", hex(h), False)["timestamp"], 16) <= when
    )
    headers = [bcoin.rpc("getblockheader", bcoin.block_hash(h)) for h in range(bcoin.height() + 1)]
    by_mtp = max(h for h, hd in enumerate(headers) if hd["mediantime"] <= when)
    by_time = max(h for h, hd in enumerate(headers) if hd["time"] <= when)
    return evm, by_mtp, by_time


@pytest.mark.nodes
def test_snapshot_at_a_time_on_both_chains(chains, tmp_path):
    when = chains["base"] + 1000  # between blocks by timestamp and by median time
    evm_height, btc_height, by_timestamp = brute_force(chains, when)
    assert btc_height != by_timestamp  # the nodes really show the difference
    out = tmp_path / "snapshot.json"
    done = por("snapshot", "--at", iso(when), "--config", chains["config"], "--id", "2025-06-15", "--out", out)
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert doc["snapshot_id"] == "2025-06-15" and doc["time"] == iso(when)
    assert doc["chains"]["bitcoin"]["height"] == btc_height
    assert doc["chains"]["bitcoin"]["block_hash"] == chains["bcoin"].block_hash(btc_height)
    assert doc["chains"]["hardhat"]["height"] == evm_height
    assert doc["chains"]["hardhat"]["block_hash"] == chains["hardhat"].block_hash(evm_height)
    snap = load_snapshot(out)  # the format por reserves reads
    assert snap.chains["bitcoin"].height == btc_height


@pytest.mark.nodes
def test_snapshot_of_a_time_not_yet_passed_is_bad_input(chains, tmp_path):
    done = por("snapshot", "--at", "2099-01-01T00:00:00Z", "--config", chains["config"], "--out", tmp_path / "s.json")
    assert done.returncode == 2 and "has not passed that time yet" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "s.json").exists()


@pytest.mark.nodes
def test_sign_wallets_then_por_reserves_verifies_every_proof(chains, tmp_path):
    folder = tmp_path
    snapshot = folder / "snapshot.json"
    assert (
        por("snapshot", "--at", iso(chains["base"] + 3600), "--config", chains["config"], "--out", snapshot).returncode
        == 0
    )
    btc = chains["btc"]
    rows = [
        "chain,asset,address,wallet_type,scheme,script,signers",
        f"hardhat,ETH,{chains['eoa'].address},hot,eip191,,",
        f"hardhat,ETH,{chains['safe']},cold,eip1271,,{chains['owners'][2].address}|{chains['owners'][0].address}",
        f"bitcoin,BTC,{btc['p2pkh'].address},hot,bip137,,",
        f"bitcoin,BTC,{btc['p2wpkh'].address},hot,bip322,,",
        f"bitcoin,BTC,{btc['p2wsh'].address},cold,bip322,{btc['p2wsh'].script.hex()},",
        f"bitcoin,BTC,{btc['p2sh'].address},cold,bip137,{btc['p2sh'].script.hex()},",
    ]
    (folder / "declared.csv").write_text("\n".join(rows) + "\n")
    keys = [
        chains["eoa"].key.hex(),
        *(o.key.hex() for o in chains["owners"][::2]),
        btc["p2pkh"].secrets[0].hex(),
        *(s.hex() for s in btc["p2wsh"].secrets[:2]),
    ]
    (folder / "keys.txt").write_text("# exchange keys\n" + "\n".join(keys) + "\n")
    env_keys = " ".join([btc["p2wpkh"].secrets[0].hex(), *(s.hex() for s in btc["p2sh"].secrets[1:])])
    done = por(
        "sign-wallets",
        folder / "declared.csv",
        "--snapshot",
        snapshot,
        "--config",
        chains["config"],
        "--exchange",
        EXCHANGE,
        "--keys",
        folder / "keys.txt",
        "--keys-env",
        "POR_TEST_KEYS",
        "--out",
        folder / "wallets.json",
        env={"POR_TEST_KEYS": env_keys},
    )
    assert done.returncode == 0, done.stderr
    assert not any(k in done.stdout + done.stderr for k in keys)
    done = por("reserves", folder / "wallets.json", "--snapshot", snapshot, "--config", chains["config"], "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["verified"] and all(a["ownership"]["verified"] for a in report["addresses"])
    heights = json.loads(snapshot.read_text())["chains"]
    balances = {a["address"]: a["balance"] for a in report["addresses"]}
    assert balances[chains["safe"]] == "3.000000000000000007"
    assert balances[chains["eoa"].address] == "1.000000000000000001"
    for kind, wallet in btc.items():
        sats = sum(subsidy(h) for h in chains["mined"][kind] if h <= heights["bitcoin"]["height"])
        assert sats > 0 and Decimal(balances[wallet.address]) == Decimal(sats) / 10**8, kind


@pytest.mark.nodes
def test_a_key_that_is_missing_is_named_by_its_row(chains, tmp_path):
    snapshot = tmp_path / "snapshot.json"
    assert (
        por("snapshot", "--at", iso(chains["base"] + 3600), "--config", chains["config"], "--out", snapshot).returncode
        == 0
    )
    (tmp_path / "declared.csv").write_text(
        f"chain,asset,address,wallet_type,scheme\nhardhat,ETH,{chains['eoa'].address},hot,eip191\n"
    )
    (tmp_path / "keys.txt").write_text(Account.create().key.hex() + "\n")
    done = por(
        "sign-wallets",
        tmp_path / "declared.csv",
        "--snapshot",
        snapshot,
        "--config",
        chains["config"],
        "--exchange",
        EXCHANGE,
        "--keys",
        tmp_path / "keys.txt",
    )
    assert done.returncode == 2 and "declared.csv:2" in done.stderr and "no key given" in done.stderr


def test_a_malformed_key_is_refused_without_showing_it(tmp_path):
    from por.reserves.sign import read_secrets

    secret = "ab" * 31 + "zz"
    (tmp_path / "keys.txt").write_text(f"{secret}\n")
    with pytest.raises(InputError) as caught:
        read_secrets([tmp_path / "keys.txt"], [])
    assert secret not in str(caught.value) and "keys.txt:1" in str(caught.value)


def test_bip137_multisig_partial_signatures_of_two_runs_merge(tmp_path):
    """Two key holders sign on their own machines; the second run merges the first run's signature."""
    from chains.records import ChainSnapshot, DeclaredWallet, Scheme, Snapshot, WalletType
    from por.reserves.read import plan_reserves
    from por.reserves.sign import sign_wallets

    wallet = multisig("p2sh")
    chains = {
        "bitcoin": {
            "family": "bitcoin",
            "network": "regtest",
            "native_asset": "BTC",
            "node_rpc": ["http://127.0.0.1:9"],
        }
    }
    row = {
        "chain": "bitcoin",
        "asset": "BTC",
        "address": wallet.address,
        "wallet_type": "cold",
        "scheme": "bip137",
        "script": wallet.script.hex(),
        "signers": "",
        "message": "",
        "signature": "",
        "source": "declared.csv:2",
    }
    first = sign_wallets([row], wallet.secrets[:1], chains, exchange=EXCHANGE, snapshot_id="s1")["wallets"][0]
    second = sign_wallets(
        [{**row, "signature": first["signature"]}], wallet.secrets[2:], chains, exchange=EXCHANGE, snapshot_id="s1"
    )["wallets"][0]
    snap = Snapshot("s1", {"bitcoin": ChainSnapshot("bitcoin", 1, "00" * 32)})

    def proven(signed):
        sigs = signed["signature"] if isinstance(signed["signature"], list) else [signed["signature"]]
        declared = DeclaredWallet(
            "bitcoin",
            "BTC",
            wallet.address,
            WalletType.COLD,
            Scheme.BIP137,
            signed["message"],
            tuple(sigs),
            signed["script"],
            "test",
        )
        return plan_reserves([declared], snap, chains, EXCHANGE).rows[0].ownership

    assert not proven(first).ok  # one key of a 2-of-3: below the threshold
    assert proven(second).ok, proven(second).reason
