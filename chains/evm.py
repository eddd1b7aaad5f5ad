"""EVM chains: balances at the snapshot block over JSON-RPC, EIP-191 ownership proofs.

Reads go through web3's `AsyncWeb3` over HTTP, each one pinned to the snapshot
height. With `multicall3` configured, native and ERC-20 balances travel in
`aggregate3` batches (one `eth_call` answers hundreds of addresses); without
it, or where that contract did not yet exist at the height, they travel as
JSON-RPC batches. Every configured provider is read and must agree.

Ownership: `personal_sign` (EIP-191 version 0x45) over the exact expected
message, recovered with eth-account. A high-s signature is accepted: it still
proves the key signed, which is all an ownership proof claims. A contract wallet
(a Safe) proves it by EIP-1271: `isValidSignature(EIP-191 hash of the message,
signature)` called at the snapshot block on every provider (`EvmAdapter.ownership_at`).
"""

from __future__ import annotations

import re

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak, to_checksum_address

from chains._http import TRANSPORT_KEYS, integer, transport_settings
from chains.base import COMMON_KEYS, BalanceQuery, ChainAdapter, ChainConfig, min_confirmations
from chains.evm_rpc import EvmAdapter, EvmSettings, eip191_digest
from chains.records import DeclaredWallet, OwnershipResult, Scheme
from por.errors import InputError

_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}\Z")
_SIG_RE = re.compile(r"(0x)?[0-9a-fA-F]{130}\Z")
_HEX_BYTES_RE = re.compile(r"(0x)?(?:[0-9a-fA-F]{2})+\Z")
_SAFE_MSG_TYPEHASH = keccak(b"SafeMessage(bytes message)")
_SAFE_DOMAIN_TYPEHASH = keccak(b"EIP712Domain(uint256 chainId,address verifyingContract)")
_URL_RE = re.compile(r"https?://[^\s/?#]+(/\S*)?\Z")

KNOWN_KEYS = (
    COMMON_KEYS
    | TRANSPORT_KEYS
    | {
        "chain_id",
        "rpc",
        "multicall3",
        "tokens",
        "batch_size",
        "multicall_size",
        "anchor_registry",
        "anchor_from_block",
    }
)


# --- addresses and queries ----------------------------------------------------------------------
def validate_address(address: str, config: ChainConfig) -> str:
    """EIP-55 checksummed form; a mixed-case address must carry a valid checksum (it catches typos)."""
    return checksummed(address)


def checksummed(address: str) -> str:
    """`validate_address` for any EVM address (a token contract, multicall3): no chain table needed."""
    if not isinstance(address, str) or not _ADDRESS_RE.match(address):
        raise InputError(f"{str(address)[:50]!r} is not an EVM address (0x and 40 hex digits)", field="address")
    expected = to_checksum_address(address)
    body = address[2:]
    if body != body.lower() and body != body.upper() and address != expected:
        raise InputError(
            f"{address} fails its EIP-55 checksum (mixed case that does not match): a mistyped address?",
            field="address",
        )
    return expected


def _tokens(config: ChainConfig, prefix: str = "") -> dict[str, str]:
    """{symbol: checksummed contract address} from the chain's [tokens] tables."""
    tokens = config.get("tokens") or {}
    if not isinstance(tokens, dict):
        raise InputError("expected [tokens.SYMBOL] tables", field=f"{prefix}tokens")
    out = {}
    for symbol, table in tokens.items():
        field = f"{prefix}tokens.{symbol}"
        if not isinstance(table, dict) or not isinstance(table.get("address"), str):
            raise InputError("needs `address` (and `decimals`)", field=field)
        extra = sorted(set(table) - {"address", "decimals"})
        if extra:
            raise InputError("unknown key", field=f"{field}.{extra[0]}")
        decimals = table.get("decimals")
        if not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= 36:
            raise InputError("must be an integer from 0 to 36", field=f"{field}.decimals")
        try:
            out[symbol] = checksummed(table["address"])
        except InputError as exc:
            raise InputError(exc.reason, field=f"{field}.address") from None
    return out


def _native_asset(config: ChainConfig, prefix: str = "") -> str:
    native = config.get("native_asset")
    if not isinstance(native, str) or not native:
        raise InputError('missing: the symbol of the chain\'s coin, e.g. "ETH"', field=f"{prefix}native_asset")
    return native


def balance_query(wallet: DeclaredWallet, config: ChainConfig) -> BalanceQuery:
    """The native coin by eth_getBalance, a configured token by its contract's balanceOf."""
    address = checksummed(wallet.address)
    native = _native_asset(config)
    if wallet.asset == native:
        return BalanceQuery(address, wallet.asset)
    tokens = _tokens(config)
    if wallet.asset not in tokens:
        known = ", ".join([native, *sorted(tokens)])
        raise InputError(f"{wallet.asset} is not an asset of chain {wallet.chain} (configured: {known})", field="asset")
    return BalanceQuery(address, wallet.asset, token=tokens[wallet.asset])


# --- ownership ----------------------------------------------------------------------------------
def _fail(reason: str) -> OwnershipResult:
    return OwnershipResult(False, reason)


def verify_ownership(wallet: DeclaredWallet, expected_message: str, config: ChainConfig) -> OwnershipResult:
    """EIP-191: one signature over exactly `expected_message`, recovering to the declared address.
    EIP-1271: the same checks offline; the contract decides at the snapshot block (`ownership_at`)."""
    if wallet.scheme not in (Scheme.EIP191, Scheme.EIP1271):
        return _fail(
            f"scheme {wallet.scheme.value} is for Bitcoin; an EVM address signs with eip191 "
            "(a key) or eip1271 (a contract wallet)"
        )
    if wallet.script:
        return _fail("a script is for Bitcoin multisig; an EVM address proves ownership with one signature")
    if wallet.message != expected_message:
        return _fail(
            f"the signed message is {wallet.message[:200]!r}, expected {expected_message!r} "
            "(another exchange, snapshot or address)"
        )
    if len(wallet.signatures) != 1:
        return _fail(
            f"expected one {wallet.scheme.value} signature, got {len(wallet.signatures)} "
            "(a Safe's owners' signatures go in one, concatenated: docs/formats/wallets.md)"
        )
    try:
        address = checksummed(wallet.address)
    except InputError as exc:
        return _fail(exc.reason)
    if wallet.scheme is Scheme.EIP1271:
        return _contract_precheck(wallet.signatures[0], address)
    text = wallet.signatures[0]
    if not _SIG_RE.match(text):
        return _fail(f"malformed signature: expected 65 bytes as 130 hex digits, got {len(text)} characters")
    sig = bytearray.fromhex(text.removeprefix("0x"))
    if sig[64] in (0, 1):  # some signers (Ledger) write the recovery id without the +27
        sig[64] += 27
    if sig[64] not in (27, 28):
        return _fail(f"malformed signature: recovery byte is {sig[64]}, expected 27 or 28")
    try:
        signer = Account.recover_message(encode_defunct(text=wallet.message), signature=bytes(sig))
    except Exception as exc:  # eth-keys' BadSignature, eth-utils' ValidationError, ValueError
        return _fail(f"malformed signature: {exc}")
    if signer.lower() != address.lower():
        return _fail(f"signature is by {signer}, not by {address}")
    return OwnershipResult(True, f"eip191 signature by {address} over the expected message")


def _contract_precheck(text: str, address: str) -> OwnershipResult:
    """What an EIP-1271 proof must be before the contract is asked: non-empty hex bytes."""
    if not _HEX_BYTES_RE.match(text) or len(text.removeprefix("0x")) < 2:
        return _fail("malformed eip1271 signature: expected hex bytes (a Safe: 65 bytes per owner, concatenated)")
    return OwnershipResult(
        False, f"eip1271: {address} is asked isValidSignature at the snapshot block", at_snapshot=True
    )


# --- signing (the exchange's side: `por sign-wallets`) -------------------------------------------------------
def sign_eip191(private_key: bytes, message: str) -> str:
    """personal_sign over `message`: 65 bytes r, s, v (27/28) as 0x-prefixed hex."""
    return "0x" + bytes(Account.sign_message(encode_defunct(text=message), private_key).signature).hex()


def safe_message_hash(safe: str, chain_id: int, message: str) -> bytes:
    """The hash a Safe's owners sign so that the Safe answers EIP-1271 for `message`.

    `isValidSignature(bytes32 h, sig)` on a Safe 1.3/1.4 (its CompatibilityFallbackHandler)
    checks the owners' signatures over keccak256(0x19 0x01 ‖ domainSeparator ‖
    keccak256(SAFE_MSG_TYPEHASH ‖ keccak256(h))), domainSeparator = keccak256(
    DOMAIN_SEPARATOR_TYPEHASH ‖ chainId ‖ safe); por asks it with h = the EIP-191 hash."""
    digest = eip191_digest(message)
    domain = keccak(
        _SAFE_DOMAIN_TYPEHASH + chain_id.to_bytes(32, "big") + bytes(12) + bytes.fromhex(checksummed(safe)[2:])
    )
    inner = keccak(_SAFE_MSG_TYPEHASH + keccak(digest))
    return keccak(b"\x19\x01" + domain + inner)


def sign_safe_message(private_keys: list[bytes], safe: str, chain_id: int, message: str) -> str:
    """The owners' signatures as a Safe checks them: 65-byte r, s, v each, sorted by owner address."""
    digest = safe_message_hash(safe, chain_id, message)
    signed = sorted(
        (int(Account.from_key(k).address, 16), Account.unsafe_sign_hash(digest, k).signature) for k in private_keys
    )
    return "0x" + b"".join(bytes(sig) for _, sig in signed).hex()


# --- adapter ------------------------------------------------------------------------------------
def _rpc_urls(config: ChainConfig, prefix: str) -> tuple[str, ...]:
    rpc = config.get("rpc")
    if isinstance(rpc, str):
        rpc = [rpc]
    if not isinstance(rpc, list) or not rpc:
        raise InputError("expected a list of one or more JSON-RPC URLs", field=f"{prefix}rpc")
    for i, url in enumerate(rpc):
        if not isinstance(url, str) or not _URL_RE.match(url):
            raise InputError(f"{str(url)[:80]!r} is not an http(s) URL", field=f"{prefix}rpc[{i}]")
    if len(set(rpc)) != len(rpc):
        raise InputError("the same URL twice: a provider cannot confirm itself", field=f"{prefix}rpc")
    return tuple(rpc)


def _settings(name: str, config: ChainConfig) -> tuple[EvmSettings, list[str]]:
    prefix = f"chains.{name}."
    extra = sorted(set(config) - KNOWN_KEYS)
    if extra:
        raise InputError(f"unknown key (known: {', '.join(sorted(KNOWN_KEYS))})", field=f"{prefix}{extra[0]}")
    chain_id = config.get("chain_id")
    if not isinstance(chain_id, int) or isinstance(chain_id, bool) or chain_id <= 0:
        raise InputError(
            "missing or not a positive integer: every provider is checked against it", field=f"{prefix}chain_id"
        )
    multicall = config.get("multicall3")
    if multicall is not None:
        try:
            multicall = checksummed(multicall)
        except InputError as exc:
            raise InputError(exc.reason, field=f"{prefix}multicall3") from None
    if config.get("anchor_registry") is not None:
        try:
            checksummed(config["anchor_registry"])
        except InputError as exc:
            raise InputError(exc.reason, field=f"{prefix}anchor_registry") from None
    start = config.get("anchor_from_block", 0)
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise InputError(
            "must be a block height (where the anchor registry was deployed)", field=f"{prefix}anchor_from_block"
        )
    _native_asset(config, prefix)
    _tokens(config, prefix)
    min_confirmations(name, config)
    transport, notes = transport_settings(name, config, concurrency=4)
    return EvmSettings(
        name=name,
        chain_id=chain_id,
        rpc=_rpc_urls(config, prefix),
        multicall3=multicall,
        batch_size=integer(config, prefix, "batch_size", 100) or 100,
        multicall_size=integer(config, prefix, "multicall_size", 500) or 500,
        transport=transport,
    ), notes


def settings(name: str, config: ChainConfig) -> EvmSettings:
    """chains.toml table -> validated settings; every mistake names its field."""
    return _settings(name, config)[0]


def check_config(name: str, config: ChainConfig) -> list[str]:
    """Every key of the chain's table checked (before any long work); deprecation notes returned."""
    return _settings(name, config)[1]


def make_adapter(name: str, config: ChainConfig) -> ChainAdapter:
    return EvmAdapter(settings(name, config))


__all__ = [
    "make_adapter",
    "verify_ownership",
    "validate_address",
    "balance_query",
    "settings",
    "check_config",
    "checksummed",
    "KNOWN_KEYS",
    "sign_eip191",
    "safe_message_hash",
    "sign_safe_message",
    "eip191_digest",
]
