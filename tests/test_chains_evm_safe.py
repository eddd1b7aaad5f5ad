"""EIP-1271 contract wallets: a real 2-of-3 Safe (the published `@safe-global/safe-contracts` 1.4.1
artifacts) on a real hardhat node, asked `isValidSignature` at the snapshot block.

World: the Safe singleton, factory and fallback handler are deployed, a 2-of-3 Safe is made and
funded, the snapshot block S is mined, then the Safe receives more and a second Safe is created
(it has no code at S). Owners sign the Safe message hash of the ownership message.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account import Account

from chains import evm
from chains.evm_rpc import EvmAdapter
from chains.records import (
    ChainSnapshot,
    DeclaredWallet,
    OwnershipResult,
    Scheme,
    Snapshot,
    WalletType,
    ownership_message,
)
from fixtures.contracts import compiled
from fixtures.localchains.hardhat import HardhatNode
from fixtures.localchains.safe import deploy_safe_contracts
from por.errors import ProviderError
from por.reserves.read import read_reserves

ETH = 10**18
SNAP_ID = "2025-06-30"
EXCHANGE = "Acme Exchange"
CHAIN_ID = 31337


@dataclass
class World:
    node: HardhatNode
    safe: str
    late_safe: str  # created after the snapshot: no code at S
    anything: str  # a contract that accepts every signature
    owners: list  # eth-account LocalAccounts, 2 of 3
    snapshot: int
    balance_at_snapshot: int

    def config(self, rpc=None) -> dict:
        return {
            "family": "evm",
            "chain_id": CHAIN_ID,
            "rpc": rpc or [self.node.url],
            "native_asset": "ETH",
            "min_confirmations": 2,
            "attempts": 2,
        }

    def snap(self) -> Snapshot:
        return Snapshot(
            SNAP_ID, {"hardhat": ChainSnapshot("hardhat", self.snapshot, self.node.block_hash(self.snapshot)[2:])}
        )


@pytest.fixture(scope="module")
def world():
    with HardhatNode() as node:
        safes = deploy_safe_contracts(node)
        owners = [Account.create() for _ in range(3)]
        safe = safes.create([o.address for o in owners], 2)
        anything = node.deploy(compiled()["AcceptsAnything"])
        node.fund(safe, 7 * ETH + 12345)
        snapshot = node.block_number()
        node.fund(safe, ETH)  # after S: must not count
        late = safes.create([o.address for o in owners], 2, salt=1)
        node.mine(3)
        yield World(node, safe, late, anything, owners, snapshot, 7 * ETH + 12345)


def expected(address: str) -> str:
    return ownership_message(SNAP_ID, EXCHANGE, address)


def contract_wallet(address: str, signature: str, message: str | None = None) -> DeclaredWallet:
    return DeclaredWallet(
        chain="hardhat",
        asset="ETH",
        address=address,
        wallet_type=WalletType.COLD,
        scheme=Scheme.EIP1271,
        message=message or expected(address),
        signatures=(signature,),
        source="test",
    )


def owners_sign(world: World, owners, safe: str | None = None, message: str | None = None) -> str:
    safe = safe or world.safe
    return evm.sign_safe_message([o.key for o in owners], safe, CHAIN_ID, message or expected(safe))


async def check(world: World, wallets: list[DeclaredWallet], rpc=None) -> list[OwnershipResult]:
    report = await read_reserves(wallets, world.snap(), {"hardhat": world.config(rpc)}, EXCHANGE)
    return [row.ownership for row in report.rows]


# --- accepted ------------------------------------------------------------------------------------
@pytest.mark.nodes
async def test_two_of_three_owners_prove_the_safe_and_its_balance_is_read_at_the_snapshot(world):
    pairs = [world.owners[:2], world.owners[1:], [world.owners[0], world.owners[2]], world.owners]
    wallets = [contract_wallet(world.safe, owners_sign(world, pair)) for pair in pairs]
    report = await read_reserves(wallets, world.snap(), {"hardhat": world.config()}, EXCHANGE)
    for row in report.rows:
        assert row.ownership.ok, row.ownership.reason
        assert "accepts the signature" in row.ownership.reason
        assert row.amount == world.balance_at_snapshot
    assert report.ok and report.assets["ETH"].cold == world.balance_at_snapshot


@pytest.mark.nodes
async def test_every_provider_is_asked_and_they_agree(world):
    port = world.node.port
    rpc = [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
    [result] = await check(world, [contract_wallet(world.safe, owners_sign(world, world.owners[:2]))], rpc)
    assert result.ok, result.reason


# --- rejected ------------------------------------------------------------------------------------
@pytest.mark.nodes
async def test_forged_and_short_signature_sets_are_rejected(world):
    outsider = Account.create()
    good = owners_sign(world, world.owners[:2])
    swapped = "0x" + good[2 + 130 :] + good[2 : 2 + 130]  # the same two signatures, unsorted
    cases = {
        "wrong owner": (owners_sign(world, [world.owners[0], outsider]), "GS026"),
        "below threshold": (owners_sign(world, world.owners[:1]), "GS020"),
        "not sorted by owner": (swapped, "GS026"),
        "one byte flipped": (good[:40] + ("0" if good[40] != "0" else "1") + good[41:], "reverted"),
        "another Safe's hash": (
            owners_sign(world, world.owners[:2], safe=world.late_safe, message=expected(world.safe)),
            "GS026",
        ),
        "another snapshot": (
            owners_sign(world, world.owners[:2], message=ownership_message("2025-03-31", EXCHANGE, world.safe)),
            "GS026",
        ),
    }
    results = await check(world, [contract_wallet(world.safe, sig) for sig, _ in cases.values()])
    for (name, (_, reason)), result in zip(cases.items(), results):
        assert not result.ok, name
        assert reason in result.reason, (name, result.reason)


@pytest.mark.nodes
async def test_a_contract_that_did_not_exist_at_the_snapshot_is_rejected(world):
    signature = owners_sign(world, world.owners[:2], safe=world.late_safe)
    [result] = await check(world, [contract_wallet(world.late_safe, signature)])
    assert world.node.rpc("eth_getCode", world.late_safe, "latest") != "0x"  # it exists now ...
    assert not result.ok and f"no contract at {world.late_safe} at height {world.snapshot}" in result.reason


@pytest.mark.nodes
async def test_an_eoa_declared_as_a_contract_wallet_is_rejected(world):
    key = Account.create()
    world.node.fund(key.address, ETH)
    [result] = await check(world, [contract_wallet(key.address, evm.sign_eip191(key.key, expected(key.address)))])
    assert not result.ok and "no contract at" in result.reason


@pytest.mark.nodes
async def test_a_contract_that_accepts_anything_proves_nothing(world):
    [result] = await check(world, [contract_wallet(world.anything, "0x" + "00" * 65)])
    assert not result.ok and "accepts anything" in result.reason


# --- without a node ------------------------------------------------------------------------------
def test_offline_checks_come_first():
    safe = Account.create().address
    cases = {
        "expected 'Proof": contract_wallet(safe, "0x" + "11" * 65, message=expected(Account.create().address)),
        "malformed eip1271 signature": contract_wallet(safe, "0x123"),
        "is for Bitcoin": DeclaredWallet(
            "hardhat", "ETH", safe, WalletType.COLD, Scheme.BIP322, expected(safe), ("00",)
        ),
    }
    for reason, wallet in cases.items():
        result = evm.verify_ownership(wallet, expected(safe), {})
        assert not result.ok and not result.at_snapshot and reason in result.reason, result.reason
    pending = evm.verify_ownership(contract_wallet(safe, "0x" + "11" * 65), expected(safe), {})
    assert not pending.ok and pending.at_snapshot


async def test_providers_that_disagree_about_the_contract_are_an_error():
    class Answers:
        def __init__(self, label, verdict):
            self.label, self.verdict = label, verdict

        async def contract_verdict(self, contract, digest, signature, height):
            return self.verdict

    conf = {
        "family": "evm",
        "chain_id": CHAIN_ID,
        "rpc": ["http://127.0.0.1:1", "http://127.0.0.1:2"],
        "native_asset": "ETH",
    }
    adapter = EvmAdapter(evm.settings("hardhat", conf))
    adapter.evm_providers = [Answers("a", "valid"), Answers("b", "isValidSignature reverted: GS026")]
    safe = Account.create().address
    with pytest.raises(ProviderError, match="disagree on isValidSignature"):
        await adapter.ownership_at([contract_wallet(safe, "0x" + "11" * 65)], 100)


def test_the_safe_message_hash_is_the_one_safe_documents():
    """Safe's CompatibilityFallbackHandler: keccak(0x19 0x01 ‖ domain ‖ keccak(SAFE_MSG_TYPEHASH ‖ keccak(h)))."""
    from eth_abi import encode
    from eth_utils import keccak

    safe = "0x" + "ab" * 20
    h = evm.eip191_digest("hello")
    domain = keccak(
        encode(
            ["bytes32", "uint256", "address"],
            [bytes.fromhex("47e79534a245952e8b16893a336b85a3d9ea9fa8c573f3d803afb92a79469218"), CHAIN_ID, safe],
        )
    )
    inner = keccak(
        encode(
            ["bytes32", "bytes32"],
            [
                bytes.fromhex("60b3cbf8b4a223d68d641b3b6ddf9a298e7f33710cf3d3a9d1146b5a6150fbca"),
                keccak(encode(["bytes32"], [h])),
            ],
        )
    )
    assert evm.safe_message_hash(safe, CHAIN_ID, "hello") == keccak(b"\x19\x01" + domain + inner)
