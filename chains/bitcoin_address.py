"""Bitcoin addresses and the scripts behind them: decode, validate, derive, parse multisig.

Segwit addresses are decoded by embit's copy of the BIP-173/BIP-350 reference
code (bech32 for witness v0, bech32m for v1 and later, each refused under the
other's checksum); base58 by bitcoinlib. The network prefixes come from our
own table: bitcoinlib's network list has no bcoin regtest (bech32 `rb`, base58
0x3c / 0x26) and adding one means editing a file in the user's home. Every
address is re-encoded after decoding and must come back identical, so a bad
checksum, non-canonical padding or a wrong prefix can never slip through.

A P2TR output (witness v1, a 32-byte program) and a P2WSH output (witness v0,
a 32-byte hash) can carry the same 32 bytes: they are different scripts
(`5120…` vs `0020…`) and every match is by the whole script. Witness versions
2-16, and v1 programs of another length, are valid addresses nobody can
prove yet: they decode (kind "witness_unknown") so that a declaration of one
is a per-address finding, not a bad input.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bitcoinlib.encoding import EncodingError, change_base, pubkeyhash_to_addr_base58
from embit import bech32

OP_0, OP_PUSHDATA1, OP_CHECKMULTISIG = 0x00, 0x4C, 0xAE


@dataclass(frozen=True)
class Network:
    name: str
    hrp: str  # bech32 human-readable part
    p2pkh: int  # base58 version byte
    p2sh: int


NETWORKS = {
    "bitcoin": Network("bitcoin", "bc", 0x00, 0x05),
    "testnet": Network("testnet", "tb", 0x6F, 0xC4),
    "regtest": Network("regtest", "rb", 0x3C, 0x26),  # bcoin's regtest, not Bitcoin Core's (bcrt)
}


@dataclass(frozen=True)
class Decoded:
    """What an address pays to: its kind, the hash it commits to and its exact output script."""

    address: str  # normalised (bech32 lower-case)
    kind: str  # p2pkh | p2sh | p2wpkh | p2wsh | p2tr | witness_unknown
    program: bytes  # hash160 (20 bytes), sha256 (32 bytes, p2wsh), x-only output key (32 bytes, p2tr)
    script: bytes  # the output script
    version: int = -1  # witness version; -1 for base58 addresses

    @property
    def supported(self) -> bool:
        """Whether por can check ownership of this kind (a future witness version: not yet)."""
        return self.kind != "witness_unknown"


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
    if address not in (lowered, address.upper()):
        raise ValueError("invalid bech32 address: mixed case")
    version, data = bech32.decode(network.hrp, lowered)
    if version is None or data is None:
        raise ValueError(_bech32_problem(lowered, network))
    program = bytes(data)
    if bech32.encode(network.hrp, version, program) != lowered:
        raise ValueError("invalid bech32 address: does not re-encode to itself")
    script = witness_script_pubkey(version, program)
    if version == 0:
        return Decoded(lowered, "p2wpkh" if len(program) == 20 else "p2wsh", program, script, 0)
    if version == 1 and len(program) == 32:
        return Decoded(lowered, "p2tr", program, script, 1)
    return Decoded(lowered, "witness_unknown", program, script, version)


def _bech32_problem(lowered: str, network: Network) -> str:
    """Why a segwit address does not decode, as precisely as the checksum lets us say."""
    encoding, hrp, data = bech32.bech32_decode(lowered)
    if encoding is None or hrp != network.hrp or not data:
        return "invalid bech32 address: bad checksum, characters or length"
    if data[0] == 0 and encoding != bech32.Encoding.BECH32:
        return "invalid bech32 address: witness v0 must use bech32, not bech32m (BIP-350)"
    if data[0] != 0 and encoding != bech32.Encoding.BECH32M:
        return f"invalid bech32 address: witness v{data[0]} must use bech32m, not bech32 (BIP-350)"
    return "invalid bech32 address: bad witness version or program length"


def witness_script_pubkey(version: int, program: bytes) -> bytes:
    """OP_n <program>: the output script of a segwit address."""
    return bytes([0 if version == 0 else 0x50 + version, len(program)]) + program


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
    if 4 <= len(script) <= 42 and (script[0] == OP_0 or 0x51 <= script[0] <= 0x60) and script[1] == len(script) - 2:
        address = bech32.encode(network.hrp, script[0] - 0x50 if script[0] else 0, script[2:])
        if address is not None:
            return address
    raise ValueError("no address for this script")


def p2pkh_script(key_hash: bytes) -> bytes:
    return b"\x76\xa9\x14" + key_hash + b"\x88\xac"


def p2sh_script(script_hash: bytes) -> bytes:
    return b"\xa9\x14" + script_hash + b"\x87"


def p2wpkh_script(key_hash: bytes) -> bytes:
    return bytes([OP_0, 20]) + key_hash


def p2wsh_script(witness_script: bytes) -> bytes:
    return bytes([OP_0, 32]) + sha256(witness_script)


def p2tr_script(output_key: bytes) -> bytes:
    """OP_1 <32-byte x-only output key>."""
    return bytes([0x51, 32]) + output_key


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
        key = script[pos + 1 : pos + 1 + size]
        if (size == 33 and key[0] not in (2, 3)) or (size == 65 and key[0] != 4):
            raise ValueError("script is not m-of-n OP_CHECKMULTISIG (a push is not a public key)")
        keys.append(bytes(key))
        pos += 1 + size
    if len(keys) != n:
        raise ValueError(f"script says {n} keys but holds {len(keys)}")
    return m, keys
