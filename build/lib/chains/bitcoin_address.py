"""Bitcoin addresses and the scripts behind them: decode, validate, derive, parse multisig.

Decoding uses bitcoinlib's base58 and bech32 primitives, but the network
prefixes come from our own table: bitcoinlib's network list has no bcoin
regtest (bech32 `rb`, base58 0x3c / 0x26) and adding one means editing a file
in the user's home. Every address is re-encoded after decoding and must come
back identical, so a bad checksum, non-canonical padding or a wrong prefix
can never slip through.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bitcoinlib.encoding import (
    EncodingError,
    addr_bech32_to_pubkeyhash,
    change_base,
    pubkeyhash_to_addr_base58,
    pubkeyhash_to_addr_bech32,
)

OP_0, OP_PUSHDATA1, OP_CHECKMULTISIG = 0x00, 0x4C, 0xAE


@dataclass(frozen=True)
class Network:
    name: str
    hrp: str          # bech32 human-readable part
    p2pkh: int        # base58 version byte
    p2sh: int


NETWORKS = {
    "bitcoin": Network("bitcoin", "bc", 0x00, 0x05),
    "testnet": Network("testnet", "tb", 0x6F, 0xC4),
    "regtest": Network("regtest", "rb", 0x3C, 0x26),   # bcoin's regtest, not Bitcoin Core's (bcrt)
}


@dataclass(frozen=True)
class Decoded:
    """What an address pays to: its kind, the hash it commits to and its exact output script."""

    address: str      # normalised (bech32 lower-case)
    kind: str         # p2pkh | p2sh | p2wpkh | p2wsh
    program: bytes    # hash160 (20 bytes) or sha256 (32 bytes, p2wsh)
    script: bytes     # the output script


def hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def decode_address(address: str, network: Network) -> Decoded:
    """The address on `network`, or ValueError with a reason a user can act on."""
    if not address or not address.isascii() or len(address) > 90:
        raise ValueError("not a Bitcoin address")
    lowered = address.lower()
    if lowered.startswith(network.hrp + "1"):
        return _decode_bech32(address, lowered, network)
    if any(lowered.startswith(n.hrp + "1") for n in NETWORKS.values()):
        raise ValueError(f"a segwit address of another network (expected prefix {network.hrp}1)")
    return _decode_base58(address, network)


def _decode_bech32(address: str, lowered: str, network: Network) -> Decoded:
    try:
        data = addr_bech32_to_pubkeyhash(address, prefix=network.hrp, include_witver=True)
    except (EncodingError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise ValueError(f"invalid bech32 address: {exc}") from None
    version = data[0] - 0x50 if data[0] else 0
    program = bytes(data[2:])
    if version != 0:
        raise ValueError(f"witness version {version} (taproot and later) is not supported")
    if pubkeyhash_to_addr_bech32(program, prefix=network.hrp, witver=0) != lowered:
        raise ValueError("invalid bech32 address: does not re-encode to itself")
    if len(program) == 20:
        return Decoded(lowered, "p2wpkh", program, bytes([OP_0, 20]) + program)
    return Decoded(lowered, "p2wsh", program, bytes([OP_0, 32]) + program)


def _decode_base58(address: str, network: Network) -> Decoded:
    try:
        raw = change_base(address, 58, 256, 25)
    except (EncodingError, ValueError, TypeError, KeyError):
        raise ValueError("not a Bitcoin address (neither bech32 nor base58)") from None
    if len(raw) != 25 or pubkeyhash_to_addr_base58(raw[1:21], prefix=raw[:1]) != address:
        raise ValueError("invalid base58 address: bad checksum or length")
    version, program = raw[0], bytes(raw[1:21])
    if version == network.p2pkh:
        return Decoded(address, "p2pkh", program, p2pkh_script(program))
    if version == network.p2sh:
        return Decoded(address, "p2sh", program, p2sh_script(program))
    known = [n.name for n in NETWORKS.values() if version in (n.p2pkh, n.p2sh)]
    where = f"an address of {known[0]}" if known else f"unknown version byte 0x{version:02x}"
    raise ValueError(f"{where}, not of {network.name}")


def encode_address(script: bytes, network: Network) -> str:
    """The address paying to an output script (the inverse of `decode_address`)."""
    if len(script) == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return pubkeyhash_to_addr_base58(script[3:23], prefix=bytes([network.p2pkh]))
    if len(script) == 23 and script[:2] == b"\xa9\x14" and script[22] == 0x87:
        return pubkeyhash_to_addr_base58(script[2:22], prefix=bytes([network.p2sh]))
    if len(script) in (22, 34) and script[0] == OP_0 and script[1] == len(script) - 2:
        return pubkeyhash_to_addr_bech32(script[2:], prefix=network.hrp, witver=0)
    raise ValueError("no address for this script")


def p2pkh_script(key_hash: bytes) -> bytes:
    return b"\x76\xa9\x14" + key_hash + b"\x88\xac"


def p2sh_script(script_hash: bytes) -> bytes:
    return b"\xa9\x14" + script_hash + b"\x87"


def p2wpkh_script(key_hash: bytes) -> bytes:
    return bytes([OP_0, 20]) + key_hash


def p2wsh_script(witness_script: bytes) -> bytes:
    return bytes([OP_0, 32]) + sha256(witness_script)


def push(data: bytes) -> bytes:
    """Minimal data push (a script with a 105-byte redeem script needs OP_PUSHDATA1)."""
    if len(data) < OP_PUSHDATA1:
        return bytes([len(data)]) + data
    if len(data) <= 0xFF:
        return bytes([OP_PUSHDATA1, len(data)]) + data
    return b"\x4d" + len(data).to_bytes(2, "little") + data


def multisig_script(m: int, pubkeys: list[bytes]) -> bytes:
    """OP_m <key>... OP_n OP_CHECKMULTISIG, keys in the given order."""
    if not 1 <= m <= len(pubkeys) <= 16:
        raise ValueError("need 1 <= m <= n <= 16")
    return bytes([0x50 + m]) + b"".join(push(k) for k in pubkeys) + bytes([0x50 + len(pubkeys), OP_CHECKMULTISIG])


def parse_multisig(script: bytes) -> tuple[int, list[bytes]]:
    """(m, keys) of a bare m-of-n CHECKMULTISIG script; ValueError for anything else.

    Only the exact standard form is accepted: a script with extra opcodes could
    hash to the address while spending under different rules.
    """
    if len(script) < 3 or script[-1] != OP_CHECKMULTISIG:
        raise ValueError("script is not m-of-n OP_CHECKMULTISIG")
    m, n = script[0] - 0x50, script[-2] - 0x50
    if not (1 <= m <= 16 and 1 <= n <= 16 and m <= n):
        raise ValueError("script is not m-of-n OP_CHECKMULTISIG (bad OP_m / OP_n)")
    keys, pos = [], 1
    while pos < len(script) - 2:
        size = script[pos]
        if size not in (33, 65) or pos + 1 + size > len(script) - 2:
            raise ValueError("script is not m-of-n OP_CHECKMULTISIG (a push is not a public key)")
        key = script[pos + 1:pos + 1 + size]
        if (size == 33 and key[0] not in (2, 3)) or (size == 65 and key[0] != 4):
            raise ValueError("script is not m-of-n OP_CHECKMULTISIG (a push is not a public key)")
        keys.append(bytes(key))
        pos += 1 + size
    if len(keys) != n:
        raise ValueError(f"script says {n} keys but holds {len(keys)}")
    return m, keys
