"""The exchange's side of ownership proofs: sign each declared address with the keys that control it.

`por sign-wallets` hands every row here with the keys it was given; the right keys are
found by what they derive (an EVM address, a Bitcoin key hash, a key in a multisig script),
never by position, so a key file can hold every key at once. The signatures are the ones
the verifier (`chains.evm`, `chains.bitcoin`) checks: EIP-191 and Safe EIP-1271 on EVM,
BIP-137 (also per key for multisig) and BIP-322 simple (P2WPKH, P2TR key path, and the P2WSH
multisig full witness) on Bitcoin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import coincurve
from embit.ec import PrivateKey
from eth_account import Account

from chains import evm
from chains.base import ChainConfig
from chains.bitcoin import network
from chains.bitcoin_address import decode_address, hash160, p2wpkh_script, parse_multisig
from chains.bitcoin_proofs import sign_bip137, sign_bip322_multisig, sign_bip322_p2tr, sign_bip322_p2wpkh, taproot_tweak
from chains.records import Scheme
from por.errors import InputError

_HEX_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}\Z")


@dataclass(frozen=True)
class Unsigned:
    """One row to sign: what the declaration says, and signatures already made by other key holders."""

    chain: str
    address: str
    scheme: Scheme
    script: str | None = None
    signers: tuple[str, ...] = ()  # eip1271: the owner addresses that sign for the contract
    signatures: tuple[str, ...] = ()  # bip137 multisig: partial signatures to merge with ours


def parse_secret(text: str) -> bytes:
    """A private key: 64 hex digits (0x optional) or a WIF string."""
    text = text.strip()
    if _HEX_KEY.match(text):
        secret = bytes.fromhex(text.removeprefix("0x"))
    else:
        try:
            secret = PrivateKey.from_wif(text).secret
        except Exception:  # embit raises several kinds for a bad checksum or length
            raise InputError("is neither 64 hex digits nor a WIF private key") from None
    try:
        coincurve.PrivateKey(secret)
    except ValueError:
        raise InputError("is not a valid secp256k1 private key (zero, or above the curve order)") from None
    return secret


def evm_address(secret: bytes) -> str:
    return str(Account.from_key(secret).address)


def _pubkey(secret: bytes) -> bytes:
    return coincurve.PrivateKey(secret).public_key.format(compressed=True)


def sign(family: str, row: Unsigned, message: str, secrets: Sequence[bytes], config: ChainConfig) -> tuple[str, ...]:
    """The signature(s) for `row` over `message`; InputError naming what is missing or unsupported."""
    if family == "evm":
        return _sign_evm(row, message, secrets, config)
    if family == "bitcoin":
        return _sign_bitcoin(row, message, secrets, config)
    raise InputError(f"signing is not supported for chain family {family!r}", field="chain")


def _sign_evm(row: Unsigned, message: str, secrets: Sequence[bytes], config: ChainConfig) -> tuple[str, ...]:
    by_address = {evm_address(s).lower(): s for s in secrets}
    if row.scheme is Scheme.EIP191:
        secret = by_address.get(row.address.lower())
        if secret is None:
            raise InputError(f"no key given for {row.address}", field="address")
        return (evm.sign_eip191(secret, message),)
    if row.scheme is Scheme.EIP1271:
        if not row.signers:
            raise InputError(
                "an eip1271 row needs `signers`: the owner addresses that sign for the contract", field="signers"
            )
        missing = [a for a in row.signers if a.lower() not in by_address]
        if missing:
            raise InputError(f"no key given for owner {missing[0]}", field="signers")
        chain_id = config.get("chain_id")
        if not isinstance(chain_id, int):
            raise InputError("needs the chain's chain_id in chains.toml (a Safe's hash binds it)", field="chain")
        return (evm.sign_safe_message([by_address[a.lower()] for a in row.signers], row.address, chain_id, message),)
    raise InputError(
        f"scheme {row.scheme.value} is for Bitcoin; an EVM address signs with eip191 or eip1271", field="scheme"
    )


def _sign_bitcoin(row: Unsigned, message: str, secrets: Sequence[bytes], config: ChainConfig) -> tuple[str, ...]:
    try:
        decoded = decode_address(row.address, network(config))
    except ValueError as exc:
        raise InputError(str(exc), field="address") from None
    if row.scheme not in (Scheme.BIP137, Scheme.BIP322):
        raise InputError(f"scheme {row.scheme.value} does not apply to Bitcoin", field="scheme")
    if decoded.kind == "p2wsh" or (decoded.kind == "p2sh" and row.script):
        if row.scheme is Scheme.BIP322 and decoded.kind == "p2sh":
            raise InputError("BIP-322 multisig signing is for P2WSH; a P2SH multisig signs with bip137", field="scheme")
        return _sign_multisig(row, message, secrets)
    if decoded.kind == "p2tr":
        return _sign_p2tr(row, decoded.program, message, secrets)
    kind = {"p2pkh": "p2pkh", "p2wpkh": "p2wpkh", "p2sh": "p2sh-p2wpkh"}.get(decoded.kind)
    if kind is None:
        raise InputError(f"signing for a {decoded.kind} address is not supported yet", field="address")
    hashes = {"p2pkh": hash160, "p2wpkh": hash160, "p2sh-p2wpkh": lambda pub: hash160(p2wpkh_script(hash160(pub)))}
    secret = next((s for s in secrets if hashes[kind](_pubkey(s)) == decoded.program), None)
    if secret is None:
        raise InputError(f"no key given for {row.address}", field="address")
    if row.scheme is Scheme.BIP322 and kind == "p2wpkh":
        return (sign_bip322_p2wpkh(secret, message),)
    if row.scheme is Scheme.BIP322 and kind == "p2sh-p2wpkh":
        raise InputError("BIP-322 for a wrapped (P2SH-P2WPKH) address is not supported: use bip137", field="scheme")
    return (sign_bip137(secret, message, kind),)  # BIP-137; BIP-322 lets P2PKH prove with it too


def _sign_p2tr(row: Unsigned, output_key: bytes, message: str, secrets: Sequence[bytes]) -> tuple[str, ...]:
    """BIP-322 simple, key path: the key is the BIP-86 internal key whose tweak gives the address's output key."""
    if row.scheme is not Scheme.BIP322:
        raise InputError("a P2TR address proves ownership with bip322 (BIP-137 has no Taproot header)", field="scheme")
    secret = next((s for s in secrets if taproot_tweak(s)[0] == output_key), None)
    if secret is None:
        raise InputError(
            f"no key given for {row.address} (a P2TR is signed by its BIP-86 internal key: "
            "key path only, no script tree)",
            field="address",
        )
    return (sign_bip322_p2tr(secret, message)[0],)


def _sign_multisig(row: Unsigned, message: str, secrets: Sequence[bytes]) -> tuple[str, ...]:
    if not row.script:
        raise InputError("a multisig address needs its redeem / witness script in `script`", field="script")
    try:
        script = bytes.fromhex(row.script.removeprefix("0x"))
        m, keys = parse_multisig(script)
    except ValueError as exc:
        raise InputError(f"not a multisig script: {exc}", field="script") from None
    mine = [s for s in secrets if _pubkey(s) in keys]
    if row.scheme is Scheme.BIP322:
        if len(mine) < m:
            raise InputError(
                f"BIP-322 multisig is one witness: needs {m} of the script's keys at once, {len(mine)} given",
                field="script",
            )
        return tuple(sign_bip322_multisig(mine[:m], message, script))
    ours = [sign_bip137(s, message) for s in mine]
    merged = list(dict.fromkeys([*row.signatures, *ours]))  # partial signatures of several runs
    if not merged:
        raise InputError("no key of the multisig script given", field="script")
    return tuple(merged)
