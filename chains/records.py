"""Validated records that cross module boundaries on the reserves side.

Readers in `por.reserves.inputs` build these once, at the edge; adapters and the
reconciler trust them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class WalletType(str, Enum):
    COLD = "cold"  # customer coins, offline keys
    HOT = "hot"  # customer coins, online keys
    OWN = "own"  # the exchange's own coins (Japan: 履行保証暗号資産 backing the hot part)


class Scheme(str, Enum):
    EIP191 = "eip191"  # EVM personal_sign
    BIP137 = "bip137"  # Bitcoin signmessage (legacy, also P2SH-P2WPKH / P2WPKH headers)
    BIP322 = "bip322"  # BIP-322 simple, for segwit
    EIP1271 = "eip1271"  # EVM contract wallet (a Safe): isValidSignature at the snapshot block


def ownership_message(snapshot_id: str, exchange: str, address: str) -> str:
    """The exact text every ownership proof signs: binds exchange, period and address."""
    return f"Proof of reserves {snapshot_id} by {exchange}: {address}"


@dataclass(frozen=True)
class Custodian:
    """The third party holding a declared wallet's keys for the exchange (Japan: registered with the FSA)."""

    name: str
    registration: str = ""  # its registration number (e.g. 関東財務局長第00001号); "" if it has none


@dataclass(frozen=True)
class CustodySystem:
    """The custody-system provider (暗号資産管理システム提供業者) whose platform runs a declared wallet
    (Japan, 2026 bill: notified to the FSA in advance)."""

    name: str
    notification: str = ""  # its notification number; "" if it declares none


@dataclass(frozen=True)
class DeclaredWallet:
    """One row of an exchange's wallet declaration."""

    chain: str  # a chain name from chains.toml, e.g. "ethereum", "bitcoin"
    asset: str  # asset symbol, e.g. "ETH", "USDT", "BTC"
    address: str
    wallet_type: WalletType
    scheme: Scheme
    message: str
    signatures: tuple[str, ...]  # one per signing key; several for multisig
    script: str | None = None  # hex redeem/witness script for multisig
    source: str = ""  # "file:line" where it was declared, for reasons
    custodian: Custodian | None = None  # None: the exchange holds the keys itself
    custody_system: CustodySystem | None = None  # None: not run on a third party's custody system


@dataclass(frozen=True)
class ChainSnapshot:
    chain: str
    height: int
    block_hash: str


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    chains: dict[str, ChainSnapshot]
    time: str | None = None  # the snapshot file's `time`, as written (ISO 8601 with a zone)


@dataclass(frozen=True)
class OwnershipResult:
    ok: bool
    reason: str  # why it is (not) proven; shown to the auditor
    unsupported: bool = False  # not a failed proof: one por cannot check (reported per address, never counted)
    at_snapshot: bool = False  # offline checks passed; the chain at the snapshot decides (EIP-1271)


@dataclass
class AddressReserve:
    """One declared address after ownership check and balance read at the snapshot."""

    wallet: DeclaredWallet
    ownership: OwnershipResult
    amount: int | None  # base units at the snapshot height; None if not read
    height: int | None = None
    provider: str = ""  # which provider(s) agreed on the amount
    flags: list[str] = field(default_factory=list)  # e.g. "declared twice", "also claimed by X"
