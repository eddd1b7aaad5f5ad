"""Bitcoin family: addresses, ownership proofs (BIP-137, BIP-322, multisig) and the chains.toml table.

Balances are read by `chains.bitcoin_rpc` (address histories replayed to the
snapshot height, bcoin and Esplora); every configured provider is read and
they must agree.
"""

from __future__ import annotations

from yarl import URL

from chains._http import TRANSPORT_KEYS, integer, transport_settings
from chains.base import COMMON_KEYS, BalanceQuery, ChainConfig, min_confirmations
from chains.bitcoin_address import NETWORKS, Decoded, Network, decode_address
from chains.bitcoin_proofs import (
    ProofError,
    Unsupported,
    looks_like_bip137,
    verify_bip137_single,
    verify_bip322_p2tr,
    verify_bip322_p2wpkh,
    verify_multisig_bip137,
    verify_multisig_bip322,
)
from chains.bitcoin_rpc import BitcoinAdapter, BitcoinSettings, EsploraProvider, HttpProvider, NodeProvider
from chains.records import DeclaredWallet, OwnershipResult, Scheme
from por.errors import InputError

CONFIG_KEYS = COMMON_KEYS | TRANSPORT_KEYS | {"network", "node_rpc", "esplora", "batch_size"}
CONFIG_KEYS |= {"anchor_address", "anchor_fee_rate"}  # anchoring (chains.bitcoin_anchor, docs/formats/anchor.md)
ANCHOR_KINDS = ("p2wpkh", "p2pkh")  # single-key addresses por signs an anchor's spend from
DEFAULT_ANCHOR_FEE_RATE = 5  # satoshis per virtual byte


# --- the family-module contract ------------------------------------------------------------------------
def network(config: ChainConfig) -> Network:
    name = config.get("network", "bitcoin")
    if not isinstance(name, str) or name not in NETWORKS:
        raise InputError(f"{str(name)[:40]!r} is not one of {', '.join(NETWORKS)}", field="network")
    return NETWORKS[name]


def validate_address(address: str, config: ChainConfig) -> str:
    try:
        return decode_address(address, network(config)).address
    except ValueError as exc:
        raise InputError(f"{address[:90]!r}: {exc}", field="address") from None


def balance_query(wallet: DeclaredWallet, config: ChainConfig) -> BalanceQuery:
    native = config.get("native_asset", "BTC")
    if wallet.asset != native:
        raise InputError(f"a Bitcoin-family chain holds only {native}, not {wallet.asset}", field="asset")
    decoded = decode_address(validate_address(wallet.address, config), network(config))
    return BalanceQuery(wallet.address, wallet.asset, None, decoded.script.hex())


def verify_ownership(wallet: DeclaredWallet, expected_message: str, config: ChainConfig) -> OwnershipResult:
    """Pure: the message binds this exchange, snapshot and address, and the signature(s) prove control.

    A proof por cannot check (a future witness version, a P2TR script path, proof of funds)
    is `unsupported`: not counted, reported per address, never a verified one."""
    if wallet.message != expected_message:
        return OwnershipResult(
            False, f"signed message {wallet.message[:200]!r} is not the expected {expected_message!r}"
        )
    try:
        decoded = decode_address(wallet.address, network(config))
    except ValueError as exc:
        return OwnershipResult(False, f"address: {exc}")
    try:
        return OwnershipResult(True, _verify(decoded, wallet))
    except Unsupported as exc:
        return OwnershipResult(False, f"unsupported: {exc}", unsupported=True)
    except ProofError as exc:
        return OwnershipResult(False, str(exc))


def _verify(decoded: Decoded, wallet: DeclaredWallet) -> str:
    try:
        script = bytes.fromhex(wallet.script.removeprefix("0x")) if wallet.script else None
    except ValueError:
        raise ProofError("script is not hex") from None
    sigs = wallet.signatures
    if not decoded.supported:
        raise Unsupported(
            f"a witness v{decoded.version} address ({len(decoded.program)}-byte program): no "
            f"ownership proof for it can be checked yet"
        )
    if wallet.scheme not in (Scheme.BIP137, Scheme.BIP322):
        raise ProofError(f"scheme {wallet.scheme.value} does not apply to Bitcoin")
    if decoded.kind == "p2wsh" or (decoded.kind == "p2sh" and script is not None):
        if wallet.scheme == Scheme.BIP137:
            if script is None:
                raise ProofError("a multisig address needs its redeem / witness script in `script`")
            return "multisig, BIP-137: " + verify_multisig_bip137(decoded, script, sigs, wallet.message)
        if decoded.kind == "p2sh":
            raise Unsupported("BIP-322 for a P2SH multisig needs a legacy script interpreter: sign it with bip137")
        return "multisig, BIP-322: " + verify_multisig_bip322(decoded, script, sigs, wallet.message)
    if script is not None:
        raise ProofError(f"`script` is only for multisig addresses; {decoded.address} is {decoded.kind}")
    if len(sigs) != 1:
        raise ProofError(f"a single-key address takes one signature, got {len(sigs)}")
    if wallet.scheme == Scheme.BIP137:
        if decoded.kind == "p2tr":
            raise ProofError("BIP-137 cannot prove a P2TR address (its key is tweaked, x-only): use bip322")
        verify_bip137_single(decoded, sigs[0], wallet.message)
        return f"BIP-137 signature by the key of this {decoded.kind} address"
    if looks_like_bip137(sigs[0]):
        raise ProofError("a BIP-137 (signmessage) signature declared as scheme bip322: declare it as bip137")
    if decoded.kind == "p2wpkh":
        return verify_bip322_p2wpkh(decoded, sigs[0], wallet.message) + " signature by the key of this p2wpkh address"
    if decoded.kind == "p2tr":
        return (
            verify_bip322_p2tr(decoded, sigs[0], wallet.message)
            + " Schnorr signature by the output key of this p2tr address (key path)"
        )
    raise Unsupported(f"BIP-322 for a {decoded.kind} address needs a legacy script interpreter: sign it with bip137")


def anchor_script(name: str, config: ChainConfig) -> tuple[str, bytes, str]:
    """(address, exact output script, kind) of the declared anchor address."""
    value = config.get("anchor_address")
    where = f"chains.{name}.anchor_address"
    if value is None:
        raise InputError("no anchor_address: the exchange's address its anchors are sent from", field=where)
    if not isinstance(value, str):
        raise InputError("must be a Bitcoin address", field=where)
    try:
        decoded = decode_address(value, network(config))
    except (ValueError, InputError) as exc:
        raise InputError(f"{value[:90]!r}: {getattr(exc, 'reason', exc)}", field=where) from None
    if decoded.kind not in ANCHOR_KINDS:
        raise InputError(f"a {decoded.kind} address: anchors are sent from a P2WPKH or P2PKH address", field=where)
    return decoded.address, decoded.script, decoded.kind


def anchor_fee_rate(name: str, config: ChainConfig) -> int:
    value = config.get("anchor_fee_rate", DEFAULT_ANCHOR_FEE_RATE)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10_000:
        raise InputError("must be satoshis per virtual byte, 1 to 10000", field=f"chains.{name}.anchor_fee_rate")
    return value


def _settings(name: str, config: ChainConfig) -> tuple[BitcoinSettings, list[str]]:
    extra = sorted(set(config) - CONFIG_KEYS)
    if extra:
        raise InputError(f"unknown key (known: {', '.join(sorted(CONFIG_KEYS))})", field=f"chains.{name}.{extra[0]}")
    try:
        net = network(config)
    except InputError as exc:
        raise exc.at(field=f"chains.{name}") from None
    native = config.get("native_asset", "BTC")
    if not isinstance(native, str) or not native:
        raise InputError('must be the symbol of the chain\'s coin, e.g. "BTC"', field=f"chains.{name}.native_asset")
    min_confirmations(name, config)
    transport, notes = transport_settings(name, config, concurrency=8)
    if not _urls(config, name, "node_rpc") + _urls(config, name, "esplora"):
        raise InputError("configure at least one provider in node_rpc or esplora", field=f"chains.{name}")
    batch_size = integer(config, f"chains.{name}.", "batch_size", 100) or 100
    if config.get("anchor_address") is not None:
        anchor_script(name, config)
    anchor_fee_rate(name, config)
    return BitcoinSettings(net, batch_size, transport), notes


def settings(name: str, config: ChainConfig) -> BitcoinSettings:
    """chains.toml table -> validated settings; every mistake names its field."""
    return _settings(name, config)[0]


def check_config(name: str, config: ChainConfig) -> list[str]:
    """Every key of the chain's table checked (before any long work); deprecation notes returned."""
    return _settings(name, config)[1]


def make_adapter(name: str, config: ChainConfig) -> BitcoinAdapter:
    chain = settings(name, config)
    providers: list[HttpProvider] = [NodeProvider(url, chain) for url in _urls(config, name, "node_rpc")]
    providers += [EsploraProvider(url, chain) for url in _urls(config, name, "esplora")]
    return BitcoinAdapter(name, providers, chain.network)


def _urls(config: ChainConfig, name: str, key: str) -> list[str]:
    value = config.get(key, [])
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list):
        raise InputError("expected a list of URLs", field=f"chains.{name}.{key}")
    for i, url in enumerate(value):
        try:
            parsed = URL(url) if isinstance(url, str) else None
            ok = parsed is not None and parsed.scheme in ("http", "https") and bool(parsed.host) and parsed.port
        except ValueError:  # yarl refuses e.g. a port that is not a number
            ok = False
        if not ok:
            raise InputError("expected an http(s) URL", field=f"chains.{name}.{key}[{i}]")
    return value


__all__ = [
    "anchor_script",
    "anchor_fee_rate",
    "make_adapter",
    "verify_ownership",
    "validate_address",
    "balance_query",
    "settings",
    "check_config",
    "network",
    "CONFIG_KEYS",
]
