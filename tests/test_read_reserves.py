"""`read_reserves`' own rules without a node: the chain is a `MockAdapter(handler)` (or an
`AgreeingAdapter` over `MockProvider`s), so every fault a node cannot be made to show is one
function. The same rules on real nodes: test_chains_*.py and test_adversarial_reserves.py."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from chains.base import AgreeingAdapter, BalanceReading, Call, MockAdapter, MockProvider, adapter_factory
from chains.records import ChainSnapshot, DeclaredWallet, Scheme, Snapshot, WalletType, ownership_message
from por.errors import InputError, ProviderError
from por.reserves.read import plan_reserves, read_reserves

HEIGHT, HASH, OTHER_HASH = 100, "ab" * 32, "cd" * 32
SNAPSHOT = Snapshot("2026-06", {"eth": ChainSnapshot("eth", HEIGHT, HASH)})
CHAINS = {
    "eth": {
        "family": "evm",
        "chain_id": 1,
        "rpc": ["http://127.0.0.1:9"],
        "native_asset": "ETH",
        "min_confirmations": 3,
    }
}
KEYS = [Account.from_key(bytes([i + 1]) * 32) for i in range(3)]


def wallet(key, *, line: int) -> DeclaredWallet:
    message = ownership_message(SNAPSHOT.snapshot_id, "ex", key.address)
    signature = key.sign_message(encode_defunct(text=message)).signature.hex()
    return DeclaredWallet(
        "eth", "ETH", key.address, WalletType.COLD, Scheme.EIP191, message, (signature,), source=f"w.csv:{line}"
    )


WALLETS = [wallet(k, line=i + 2) for i, k in enumerate(KEYS)]
AMOUNTS = {k.address: (i + 1) * 10**18 for i, k in enumerate(KEYS)}


def honest(call: Call):
    """A provider on the snapshot's chain, 5 blocks past the snapshot."""
    if call.method == "tip_height":
        return HEIGHT + 4
    if call.method == "block_hash":
        return "0x" + HASH.upper() if call.height == HEIGHT else "ee" * 32
    return [AMOUNTS[q.address] for q in call.queries]


def answering(**answers):
    """`honest` with some methods answered otherwise: a value, or a function of the call."""

    def handler(call: Call):
        if call.method in answers:
            answer = answers[call.method]
            return answer(call) if callable(answer) else answer
        return honest(call)

    return handler


async def read(handler_or_adapter, wallets=WALLETS, chains=CHAINS):
    adapter = (
        handler_or_adapter
        if isinstance(handler_or_adapter, (MockAdapter, AgreeingAdapter))
        else MockAdapter(handler_or_adapter, name="mock-eth")
    )
    return adapter, await read_reserves(wallets, SNAPSHOT, chains, "ex", make_adapter=adapter_factory(adapter))


async def test_every_balance_is_read_once_at_the_snapshot_height():
    adapter, report = await read(honest, WALLETS + [replace(WALLETS[0], source="w.csv:9")])
    assert report.ok and [r.amount for r in report.rows] == [10**18, 2 * 10**18, 3 * 10**18, 10**18]
    assert all(r.height == HEIGHT and r.provider == "mock-eth" for r in report.rows)
    balances = [c for c in adapter.calls if c.method == "balances"]
    assert len(balances) == 1 and balances[0].height == HEIGHT and len(balances[0].queries) == 3  # a repeat once
    assert report.assets["ETH"].cold == 6 * 10**18  # counted once however often declared
    assert adapter.closed


@pytest.mark.parametrize("tip, ok", [(HEIGHT + 1, False), (HEIGHT + 2, True), (HEIGHT - 5, False)])
async def test_a_snapshot_too_close_to_the_tip_is_refused_before_any_balance(tip, ok):
    adapter = MockAdapter(answering(tip_height=tip))
    if ok:
        await read(adapter)
        return
    with pytest.raises(InputError) as err:
        await read(adapter)
    assert err.value.field == "chains.eth" and "3 required" in err.value.reason
    assert f"has {max(tip - HEIGHT + 1, 0)} confirmation(s)" in err.value.reason
    assert not any(c.method == "balances" for c in adapter.calls) and adapter.closed


async def test_a_provider_on_another_fork_is_named():
    adapter = MockAdapter(answering(block_hash=OTHER_HASH))
    with pytest.raises(ProviderError) as err:
        await read(adapter)
    assert f"block at height {HEIGHT} is {OTHER_HASH}, the snapshot says {HASH}" in err.value.reason
    assert "another fork" in err.value.reason
    assert not any(c.method == "balances" for c in adapter.calls)


async def test_a_wrong_number_of_readings_is_an_error_not_a_partial_total():
    def short(call: Call):
        return [BalanceReading(q, 1, HEIGHT, "liar") for q in call.queries[:-1]]

    with pytest.raises(ProviderError, match="returned 2 balances for 3 addresses"):
        await read(answering(balances=short))


@pytest.mark.parametrize("lie", ["address", "height"])
async def test_an_answer_for_another_address_or_height_is_refused(lie):
    def swapped(call: Call):
        queries = list(call.queries)
        if lie == "address":
            queries[0], queries[1] = queries[1], queries[0]
        return [BalanceReading(q, 5, HEIGHT + (lie == "height"), "liar") for q in queries]

    with pytest.raises(ProviderError) as err:
        await read(answering(balances=swapped))
    assert err.value.provider == "liar" and err.value.address == KEYS[0].address
    assert "answered for another address or height" in err.value.reason


async def test_one_provider_disagreeing_on_a_balance_names_both_and_the_address():
    def lying(call: Call):
        if call.method == "balances":
            return [AMOUNTS[q.address] + (q.address == KEYS[1].address) for q in call.queries]
        return honest(call)

    adapter = AgreeingAdapter("eth", [MockProvider("a", honest), MockProvider("b", lying)])
    with pytest.raises(ProviderError) as err:
        await read(adapter)
    assert err.value.provider == "a and b" and err.value.address == KEYS[1].address
    assert f"the ETH balance at height {HEIGHT}: {2 * 10**18} vs {2 * 10**18 + 1} base units" in err.value.reason


async def test_one_provider_on_another_fork_names_both():
    adapter = AgreeingAdapter("eth", [MockProvider("a", honest), MockProvider("b", answering(block_hash=OTHER_HASH))])
    with pytest.raises(ProviderError) as err:
        await read(adapter)
    assert err.value.provider == "a and b" and "different forks" in err.value.reason


async def test_agreeing_providers_are_both_named_and_the_lowest_tip_counts():
    behind = answering(tip_height=HEIGHT + 1)  # 2 confirmations on b, 3 required
    adapter = AgreeingAdapter("eth", [MockProvider("a", honest), MockProvider("b", behind)])
    with pytest.raises(InputError, match="has 2 confirmation"):
        await read(adapter)
    adapter = AgreeingAdapter("eth", [MockProvider("a", honest), MockProvider("b", honest)])
    _, report = await read(adapter)
    assert {r.provider for r in report.rows} == {"a, b"}


async def test_a_provider_that_fails_is_a_provider_error_and_the_adapter_is_closed():
    def down(call: Call):
        raise ProviderError("mock-eth", "HTTP 503 (after 4 attempts)")

    adapter = MockAdapter(down)
    with pytest.raises(ProviderError, match="after 4 attempts"):
        await read(adapter)
    assert adapter.closed


async def test_an_async_handler_works_like_a_sync_one():
    async def handler(call: Call):
        return honest(call)

    _, report = await read(handler)
    assert [r.amount for r in report.rows] == [AMOUNTS[k.address] for k in KEYS]


def test_bad_input_is_refused_before_any_chain_is_reached():
    for wallets, chains, field in [
        ([replace(WALLETS[0], chain="btc")], CHAINS, "chain"),  # not in chains.toml
        ([replace(WALLETS[0], asset="USDT")], CHAINS, "asset"),  # no such token
        (WALLETS, {"eth": {**CHAINS["eth"], "batch_sise": 5}}, "chains.eth.batch_sise"),  # a typo
        (WALLETS, {**CHAINS, "tron": {"family": "tron"}}, "chains.tron.family"),  # an unused chain counts too
    ]:
        with pytest.raises(InputError) as err:
            plan_reserves(wallets, SNAPSHOT, chains, "ex")
        assert err.value.field == field, (field, err.value)


def test_ownership_is_checked_in_the_plan():
    forged = replace(WALLETS[0], signatures=(WALLETS[1].signatures[0],))
    plan = plan_reserves([forged, WALLETS[1]], SNAPSHOT, CHAINS, "ex")
    assert [r.ownership.ok for r in plan.rows] == [False, True]
    assert "not by " + KEYS[0].address in plan.rows[0].ownership.reason


# --- por audit checks every input before the slow work ------------------------------------------------------
@pytest.mark.parametrize(
    "mistake, field",
    [
        ("chains", "chains.eth.batch_sise"),  # a typo in a chain table
        ("wallets", "asset"),  # a wallet's asset the chain does not carry
    ],
)
def test_audit_refuses_bad_chain_input_before_recomputing_the_tree(tmp_path, mistake, field):
    import json
    from contextlib import contextmanager

    from fixtures.liabilities import run_por
    from fixtures.sample import write_customers
    from por.audit.run import run_audit

    customers = write_customers(tmp_path / "customers.csv", 20, seed=3)
    code, _, err = run_por(
        "publish",
        customers,
        "--exchange",
        "example-exchange",
        "--out",
        tmp_path / "pub",
        "--snapshot-id",
        SNAPSHOT.snapshot_id,
    )
    assert code == 0, err
    toml = '[chains.eth]\nfamily = "evm"\nchain_id = 1\nrpc = ["http://127.0.0.1:9"]\nnative_asset = "ETH"\n'
    (tmp_path / "chains.toml").write_text(toml + ("batch_sise = 5\n" if mistake == "chains" else ""))
    w = WALLETS[0]
    (tmp_path / "w.csv").write_text(
        "chain,asset,address,wallet_type,scheme,message,signature,script\n"
        f"eth,{'USDT' if mistake == 'wallets' else 'ETH'},{w.address},cold,eip191,"
        f"{w.message},{w.signatures[0]},\n"
    )
    (tmp_path / "s.json").write_text(
        json.dumps({"snapshot_id": SNAPSHOT.snapshot_id, "chains": {"eth": {"height": HEIGHT, "block_hash": HASH}}})
    )
    started = []

    @contextmanager
    def progress(description, total):
        started.append(description)
        yield lambda n: None

    with pytest.raises(InputError) as err:
        run_audit(
            commitment=tmp_path / "pub" / "commitment.json",
            tree=tmp_path / "pub" / "tree.bin",
            wallets=tmp_path / "w.csv",
            snapshot=tmp_path / "s.json",
            config=tmp_path / "chains.toml",
            policy="full-reserve",
            exchange="example-exchange",
            progress=progress,
        )
    assert err.value.field == field and started == []
