"""The EVM family on a real hardhat node: balances at the snapshot (not the tip), providers that
disagree or fail, EIP-191 ownership proofs with real keys.

World (built once per session): a token and the Multicall3-compatible reader are deployed, holders
are funded with odd exact amounts, the snapshot block S is mined, then funds move after S. A second
real node forks the first one block before S and mines a different S: two providers on two forks.
Only faults a real node cannot show (HTTP 503/429, a JSON-RPC rate limit, a hang) use a loopback proxy.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from eth_account import Account
from eth_account.messages import encode_defunct

from chains import evm, family_module
from chains.base import BalanceQuery
from chains.records import ChainSnapshot, DeclaredWallet, Scheme, Snapshot, WalletType, ownership_message
from fixtures.localchains import free_port
from fixtures.localchains.hardhat import HardhatNode, deploy_batch_reader, deploy_token, encode_call, token_abi
from por.errors import InputError, ProviderError

ETH = 10**18
SNAP_ID = "2025-06-30"
EXCHANGE = "Acme Exchange"


@dataclass
class World:
    node: HardhatNode
    fork: HardhatNode
    token: str
    reader: str
    late_token: str  # deployed after the snapshot: it has no code at S
    holders: list  # eth-account LocalAccounts
    native: dict[str, int] = field(default_factory=dict)  # address -> wei at S
    tokens: dict[str, int] = field(default_factory=dict)  # address -> token units at S
    disputed: str = ""
    before_reader: int = 0  # a height before the reader existed
    fork_block: int = 0
    snapshot: int = 0

    def config(self, *, rpc=None, multicall=False, **extra) -> dict:
        conf = {
            "family": "evm",
            "chain_id": 31337,
            "rpc": rpc or [self.node.url],
            "native_asset": "ETH",
            "min_confirmations": 2,
            "tokens": {
                "TUSD": {"address": self.token, "decimals": 6},
                "LATE": {"address": self.late_token, "decimals": 6},
            },
            "attempts": 2,
            **extra,
        }
        if multicall:
            conf["multicall3"] = self.reader
        return conf

    def queries(self, with_disputed: bool = False) -> list[BalanceQuery]:
        qs = [BalanceQuery(a, "ETH") for a in self.native] + [
            BalanceQuery(a, "TUSD", token=self.token) for a in self.tokens
        ]
        if not with_disputed:
            qs = [q for q in qs if q.address != self.disputed]
        return qs

    def expected(self, queries) -> list[int]:
        return [(self.native if q.token is None else self.tokens)[q.address] for q in queries]


@pytest.fixture(scope="session")
def world():
    with HardhatNode() as node:
        abi = token_abi()
        token = deploy_token(node, "TUSD", 6)
        holders = [Account.create() for _ in range(4)]
        native, tokens = {}, {}
        for i, holder in enumerate(holders):
            native[holder.address] = 3 * ETH + 12345 * i + 7
            tokens[holder.address] = 1_234_567 + 1000 * i
            node.fund(holder.address, native[holder.address])
            node.transact(token, abi, "mint", holder.address, tokens[holder.address])
        empty = Account.create().address  # declared but never funded: a true zero
        native[empty], tokens[empty] = 0, 0
        before_reader = node.block_number()
        reader = deploy_batch_reader(node)
        fork_block = node.block_number()
        disputed = Account.create().address
        node.fund(disputed, 5 * ETH)  # block S on this node ...
        snapshot = node.block_number()
        native[disputed], tokens[disputed] = 5 * ETH, 0
        fork = HardhatNode(fork=node.url, fork_block=fork_block).start()
        try:
            fork.fund(disputed, 6 * ETH)  # ... and a different block S on the fork
            assert fork.block_number() == snapshot
            # After the snapshot everything moves: the adapter must not see any of it at S.
            late = deploy_token(node, "LATE", 6)
            for holder in holders[:3]:
                node.send_as(holder, Account.create().address, value=ETH + 1)
                node.send_as(holder, token, data=encode_call(abi, "transfer", Account.create().address, 1000))
            node.transact(token, abi, "mint", holders[3].address, 999)
            node.set_balances({empty: 77})
            node.mine(3)
            yield World(
                node, fork, token, reader, late, holders, native, tokens, disputed, before_reader, fork_block, snapshot
            )
        finally:
            fork.stop()


async def read(conf, queries, height):
    async with evm.make_adapter("hardhat", conf) as adapter:
        return await adapter.balances(queries, height)


# --- balances at the snapshot -------------------------------------------------------------------
@pytest.mark.nodes
@pytest.mark.parametrize("multicall", [False, True], ids=["jsonrpc-batch", "multicall3"])
async def test_balances_are_read_at_the_snapshot_not_the_tip(world, multicall):
    queries = world.queries(with_disputed=True)
    conf = world.config(multicall=multicall, batch_size=3, multicall_size=4)  # several chunks
    readings = await read(conf, queries, world.snapshot)
    assert [r.amount for r in readings] == world.expected(queries)
    assert [r.query for r in readings] == queries
    assert all(r.height == world.snapshot and r.provider == world.node.url for r in readings)
    # The same adapter at the tip sees the moves: the snapshot answer above was not the tip's.
    tip = world.node.block_number()
    at_tip = await read(conf, queries, tip)
    changed = {r.query for r, s in zip(at_tip, readings) if r.amount != s.amount}
    assert len(changed) >= 8
    assert at_tip[0].amount == world.node.balance(queries[0].address, tip)


@pytest.mark.nodes
async def test_tip_and_block_hash_come_from_the_node(world):
    async with evm.make_adapter("hardhat", world.config()) as adapter:
        assert await adapter.tip_height() == world.node.block_number()
        assert await adapter.block_hash(world.snapshot) == world.node.block_hash(world.snapshot)
        with pytest.raises(ProviderError, match="no block at height"):
            await adapter.block_hash(world.node.block_number() + 100)


@pytest.mark.nodes
async def test_multicall_older_than_the_reader_falls_back_to_batches(world):
    queries = world.queries()
    readings = await read(world.config(multicall=True), queries, world.before_reader)
    assert [r.amount for r in readings] == world.expected(queries)


@pytest.mark.nodes
@pytest.mark.parametrize("multicall", [False, True], ids=["jsonrpc-batch", "multicall3"])
async def test_token_without_code_at_the_height_is_an_error_not_zero(world, multicall):
    victim = world.holders[1].address
    query = BalanceQuery(victim, "LATE", token=world.late_token)
    with pytest.raises(ProviderError) as err:
        await read(world.config(multicall=multicall), [BalanceQuery(victim, "ETH"), query], world.snapshot)
    assert err.value.address == victim and "returned 0 bytes" in err.value.reason
    assert world.node.url in str(err.value)


# --- several providers --------------------------------------------------------------------------
@pytest.mark.nodes
@pytest.mark.parametrize("multicall", [False, True], ids=["jsonrpc-batch", "multicall3"])
async def test_two_providers_that_agree_are_both_named(world, multicall):
    queries = world.queries()
    readings = await read(
        world.config(rpc=[world.node.url, world.fork.url], multicall=multicall), queries, world.snapshot
    )
    assert [r.amount for r in readings] == world.expected(queries)
    assert readings[0].provider == f"{world.node.url}, {world.fork.url}"


@pytest.mark.nodes
@pytest.mark.parametrize("multicall", [False, True], ids=["jsonrpc-batch", "multicall3"])
async def test_providers_on_two_forks_disagree_on_the_balance(world, multicall):
    conf = world.config(rpc=[world.node.url, world.fork.url], multicall=multicall)
    with pytest.raises(ProviderError) as err:
        await read(conf, world.queries(with_disputed=True), world.snapshot)
    assert err.value.address == world.disputed
    assert world.node.url in err.value.provider and world.fork.url in err.value.provider
    assert f"{5 * ETH} vs {6 * ETH}" in err.value.reason


@pytest.mark.nodes
async def test_providers_on_two_forks_disagree_on_the_block_hash(world):
    async with evm.make_adapter("hardhat", world.config(rpc=[world.node.url, world.fork.url])) as adapter:
        assert await adapter.block_hash(world.fork_block) == world.node.block_hash(world.fork_block)
        with pytest.raises(ProviderError, match="different forks") as err:
            await adapter.block_hash(world.snapshot)
    assert world.fork.url in err.value.provider


@pytest.mark.nodes
async def test_unreachable_provider_is_named(world):
    dead = f"http://127.0.0.1:{free_port()}"
    conf = world.config(rpc=[world.node.url, dead])
    with pytest.raises(ProviderError) as err:
        await read(conf, world.queries(), world.snapshot)
    assert err.value.provider == dead and "cannot connect" in err.value.reason
    assert "after 2 attempts" in err.value.reason


@pytest.mark.nodes
async def test_provider_that_stops_answering_is_named(world):
    with HardhatNode() as short_lived:
        async with evm.make_adapter("hardhat", world.config(rpc=[short_lived.url])) as adapter:
            assert await adapter.tip_height() == 0
            short_lived.stop()
            with pytest.raises(ProviderError) as err:
                await adapter.balances([BalanceQuery(world.disputed, "ETH")], 0)
    assert err.value.provider == short_lived.url and err.value.address == world.disputed


@pytest.mark.nodes
async def test_provider_on_another_chain_id_is_refused(world):
    conf = {**world.config(), "chain_id": 1}
    with pytest.raises(ProviderError, match="serves chain id 31337, but chains.toml says 1") as err:
        await read(conf, world.queries(), world.snapshot)
    assert err.value.provider == world.node.url


# --- faults a real node cannot show: a loopback proxy in front of the real node -----------------
class FaultyProxy:
    """Forwards JSON-RPC to the real node, except for the faults it is told to inject."""

    def __init__(self, target: str) -> None:
        self.target, self.port = target, free_port()
        self.fail_next: list[str] = []  # "503", "429", "rpc-limit", "hang": one per request
        self.always: str | None = None
        self.requests = self.in_flight = self.max_in_flight = 0
        self.release = asyncio.Event()  # set at teardown: a hanging request then ends

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            fault = self.fail_next.pop(0) if self.fail_next else self.always
            body = await request.read()
            if fault in ("503", "429"):
                return web.Response(status=int(fault), text="try later")
            if fault == "hang":
                await self.release.wait()
                return web.Response(status=503)
            if fault == "rpc-limit":
                return web.json_response(
                    {"jsonrpc": "2.0", "id": None, "error": {"code": -32005, "message": "limit exceeded"}}
                )
            await asyncio.sleep(0.03)  # keeps requests overlapping, so the limit is visible
            async with aiohttp.ClientSession() as session:
                async with session.post(self.target, data=body, headers={"Content-Type": "application/json"}) as resp:
                    return web.Response(body=await resp.read(), content_type="application/json")
        finally:
            self.in_flight -= 1


@pytest.fixture
async def proxy(world):
    faulty = FaultyProxy(world.node.url)
    app = web.Application()
    app.router.add_post("/", faulty.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", faulty.port).start()
    yield faulty
    faulty.release.set()
    await runner.cleanup()


@pytest.mark.nodes
@pytest.mark.parametrize("faults", [["503"], ["429", "503"], ["rpc-limit"]])
async def test_transient_failures_are_retried(world, proxy, faults):
    queries = world.queries()
    async with evm.make_adapter("hardhat", world.config(rpc=[proxy.url], attempts=3)) as adapter:
        await adapter.tip_height()  # the chain id check goes through cleanly first
        proxy.fail_next = list(faults)
        readings = await adapter.balances(queries, world.snapshot)
    assert [r.amount for r in readings] == world.expected(queries)
    assert not proxy.fail_next


@pytest.mark.nodes
async def test_retries_are_bounded_then_the_provider_is_named(world, proxy):
    proxy.always = "503"
    with pytest.raises(ProviderError) as err:
        await read(world.config(rpc=[proxy.url], attempts=2), world.queries(), world.snapshot)
    assert err.value.provider == proxy.url and "HTTP 503" in err.value.reason
    assert proxy.requests == 2


@pytest.mark.nodes
async def test_a_hanging_provider_times_out(world, proxy):
    proxy.always = "hang"
    with pytest.raises(ProviderError, match="timed out"):
        await read(world.config(rpc=[proxy.url], attempts=1, timeout=0.5), world.queries(), world.snapshot)


@pytest.mark.nodes
async def test_concurrency_limit_holds(world, proxy):
    queries = world.queries()
    readings = await read(world.config(rpc=[proxy.url], batch_size=1, concurrency=2), queries, world.snapshot)
    assert [r.amount for r in readings] == world.expected(queries)
    assert proxy.requests >= len(queries) and proxy.max_in_flight == 2


# --- config, addresses, queries -----------------------------------------------------------------
@pytest.mark.parametrize(
    "change, field",
    [
        ({"chain_id": "31337"}, "chains.hardhat.chain_id"),
        ({"rpc": []}, "chains.hardhat.rpc"),
        ({"rpc": ["ftp://x"]}, "chains.hardhat.rpc[0]"),
        ({"rpc": ["http://a:1", "http://a:1"]}, "chains.hardhat.rpc"),
        ({"multicall3": "0x1234"}, "chains.hardhat.multicall3"),
        ({"rcp": ["http://a:1"]}, "chains.hardhat.rcp"),
        ({"concurrency": 0}, "chains.hardhat.concurrency"),
        (
            {"tokens": {"TUSD": {"address": "0xdAC17F958D2ee523a2206206994597C13D831Ec7", "decimals": 6}}},
            "chains.hardhat.tokens.TUSD.address",
        ),
        (
            {"tokens": {"TUSD": {"address": "0xdAC17F958D2ee523a2206206994597C13D831ec7"}}},
            "chains.hardhat.tokens.TUSD.decimals",
        ),
    ],
)
@pytest.mark.nodes
def test_bad_config_names_the_field(world, change, field):
    with pytest.raises(InputError) as err:
        evm.make_adapter("hardhat", {**world.config(), **change})
    assert err.value.field == field


def test_family_registry_finds_the_module():
    assert family_module("evm") is evm


def test_addresses_are_checksummed_and_typos_refused():
    good = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
    assert evm.validate_address(good.lower(), {}) == good
    assert evm.validate_address("0x" + good[2:].upper(), {}) == good
    with pytest.raises(InputError, match="EIP-55"):
        evm.validate_address(good[:-1] + "C", {})
    for bad in ("0x1234", good[2:], good + "00", "0x" + "g" * 40, "0X" + good[2:]):
        with pytest.raises(InputError, match="not an EVM address"):
            evm.validate_address(bad, {})


def wallet(address, asset="ETH", message=None, signatures=("0x00",), scheme=Scheme.EIP191, script=None):
    return DeclaredWallet(
        chain="hardhat",
        asset=asset,
        address=address,
        wallet_type=WalletType.COLD,
        scheme=scheme,
        message=message or ownership_message(SNAP_ID, EXCHANGE, address),
        signatures=tuple(signatures),
        script=script,
        source="w.csv:2",
    )


@pytest.mark.nodes
def test_balance_query_picks_native_or_token(world):
    holder = world.holders[0].address
    assert evm.balance_query(wallet(holder.lower()), world.config()) == BalanceQuery(holder, "ETH")
    assert evm.balance_query(wallet(holder, "TUSD"), world.config()) == BalanceQuery(holder, "TUSD", token=world.token)
    with pytest.raises(InputError, match="USDC is not an asset of chain hardhat") as err:
        evm.balance_query(wallet(holder, "USDC"), world.config())
    assert err.value.field == "asset"


# --- ownership proofs ---------------------------------------------------------------------------
def signed(account, text, *, address=None, **kw):
    sig = account.sign_message(encode_defunct(text=text)).signature.hex()
    return wallet(address or account.address, message=text, signatures=("0x" + sig.removeprefix("0x"),), **kw)


def expected_for(address):
    return ownership_message(SNAP_ID, EXCHANGE, address)


def test_valid_signature_passes_with_any_address_case():
    key = Account.create()
    for address in (key.address, key.address.lower()):
        result = evm.verify_ownership(signed(key, expected_for(address), address=address), expected_for(address), {})
        assert result.ok, result.reason


def test_recovery_id_without_27_is_accepted():
    key = Account.create()
    w = signed(key, expected_for(key.address))
    raw = bytes.fromhex(w.signatures[0][2:])
    w0 = wallet(key.address, signatures=(raw[:64].hex() + f"{raw[64] - 27:02x}",))
    assert evm.verify_ownership(w0, expected_for(key.address), {}).ok


def test_signature_by_another_key_fails():
    owner, thief = Account.create(), Account.create()
    w = signed(thief, expected_for(owner.address), address=owner.address)
    result = evm.verify_ownership(w, expected_for(owner.address), {})
    assert not result.ok and f"signature is by {thief.address}, not by {owner.address}" in result.reason


@pytest.mark.parametrize(
    "other",
    [
        ownership_message(SNAP_ID, "Other Exchange", "{a}"),
        ownership_message("2025-03-31", EXCHANGE, "{a}"),
        ownership_message(SNAP_ID, EXCHANGE, "0x" + "11" * 20),
        ownership_message(SNAP_ID, EXCHANGE, "{a}") + " ",
    ],
    ids=["other-exchange", "other-snapshot", "other-address", "trailing-space"],
)
def test_signature_over_another_message_fails(other):
    key = Account.create()
    text = other.format(a=key.address)
    # Honest about what it signed: the message field differs from the expected one.
    result = evm.verify_ownership(signed(key, text), expected_for(key.address), {})
    assert not result.ok and "expected 'Proof of reserves" in result.reason
    # Replayed: the old signature under the expected message text recovers to someone else.
    replay = wallet(key.address, signatures=signed(key, text).signatures)
    result = evm.verify_ownership(replay, expected_for(key.address), {})
    assert not result.ok and "not by " + key.address in result.reason


def _good_sig(key):
    return bytes.fromhex(signed(key, expected_for(key.address)).signatures[0][2:])


@pytest.mark.parametrize(
    "mangle, reason",
    [
        (lambda s: s[:64].hex(), "expected 65 bytes"),
        (lambda s: (s + b"\x00").hex(), "expected 65 bytes"),
        (lambda s: "zz" + s.hex()[2:], "expected 65 bytes"),
        (lambda s: (s[:64] + bytes([29])).hex(), "recovery byte is 29"),
        (lambda s: (bytes(64) + s[64:]).hex(), "malformed signature"),
        (lambda s: (b"\xff" * 32 + s[32:]).hex(), "malformed signature"),
    ],
    ids=["short", "long", "not-hex", "bad-v", "zero-r-s", "r-above-n"],
)
def test_malformed_signatures_fail_with_a_reason(mangle, reason):
    key = Account.create()
    w = wallet(key.address, signatures=(mangle(_good_sig(key)),))
    result = evm.verify_ownership(w, expected_for(key.address), {})
    assert not result.ok and reason in result.reason


def test_wrong_shapes_fail_with_a_reason():
    key = Account.create()
    good = signed(key, expected_for(key.address))
    cases = {
        "is for Bitcoin": wallet(key.address, signatures=good.signatures, scheme=Scheme.BIP137),
        "expected one eip191 signature, got 2": wallet(key.address, signatures=good.signatures * 2),
        "script is for Bitcoin multisig": wallet(key.address, signatures=good.signatures, script="5221"),
    }
    for reason, w in cases.items():
        result = evm.verify_ownership(w, expected_for(key.address), {})
        assert not result.ok and reason in result.reason
    typo = key.address[:2] + key.address[2:].swapcase()  # same key, broken checksum
    if typo[2:] not in (typo[2:].lower(), typo[2:].upper()):
        result = evm.verify_ownership(signed(key, expected_for(typo), address=typo), expected_for(typo), {})
        assert not result.ok and "EIP-55" in result.reason


# --- end to end through por's reserves reader ---------------------------------------------------
@pytest.mark.nodes
async def test_read_reserves_end_to_end(world, tmp_path):
    from por.reserves.read import read_reserves

    wallets = [signed(h, expected_for(h.address), asset=asset) for h in world.holders for asset in ("ETH", "TUSD")]
    thief = Account.create()
    wallets.append(signed(thief, expected_for(world.holders[0].address), address=world.holders[0].address))
    snap = Snapshot(
        SNAP_ID, {"hardhat": ChainSnapshot("hardhat", world.snapshot, world.node.block_hash(world.snapshot)[2:])}
    )
    report = await read_reserves(wallets, snap, {"hardhat": world.config(multicall=True)}, EXCHANGE)
    assert [r.amount for r in report.rows[:-1]] == [
        (world.native if w.asset == "ETH" else world.tokens)[w.address] for w in wallets[:-1]
    ]
    assert not report.rows[-1].ownership.ok and not report.ok
    assert report.assets["ETH"].cold == sum(world.native[h.address] for h in world.holders)
    json.dumps(report.to_json())


# --- the hand-written aggregate3 codec against eth_abi --------------------------------------------
def test_aggregate3_codec_matches_eth_abi():
    from eth_abi import decode, encode

    from chains.evm_rpc import AGGREGATE3, decode_results, encode_aggregate3

    calls = [(Account.create().address, bytes(range(n))) for n in (0, 1, 31, 32, 36, 33, 100)]
    assert encode_aggregate3(calls) == AGGREGATE3 + encode(
        ["(address,bool,bytes)[]"], [[(a, True, d) for a, d in calls]]
    )
    results = [(True, bytes(32)), (False, b""), (True, b"\x01" * 70), (False, b"\x08\xc3\x79\xa0")]
    raw = encode(["(bool,bytes)[]"], [results])
    assert decode_results(raw) == results == [tuple(r) for r in decode(["(bool,bytes)[]"], raw)[0]]
    assert decode_results(encode(["(bool,bytes)[]"], [[]])) == []
    for bad in (raw[:-32], raw[:100], b"", raw[:64] + b"\xff" * 32 + raw[96:]):
        with pytest.raises(ValueError):
            decode_results(bad)
