"""Keccak-256 as Ethereum uses it (the original 0x01 padding, not SHA3-256's 0x06), for the two or
three short hashes a customer's `verify-inclusion --signer` needs.

Python's hashlib has no Keccak-256 before OpenSSL 3.2, and pycryptodome's, which the bulk paths
use (OKX's zk-STARK files), costs a customer's whole command about a quarter of its run just to
load (it locates its C library through ctypes.util, which starts a subprocess machinery): issue 18's
start-up. This is FIPS 202's permutation written from the specification, round constants and
rotation offsets derived by its own rules rather than typed in; tests/test_plain_output.py holds it
equal to pycryptodome on every length across the block boundaries and on random messages.
"""

from __future__ import annotations

_RATE = 136  # bytes: 1600 - 2 * 256 bits of capacity
_MASK = (1 << 64) - 1


def _round_constants() -> list[int]:
    """RC[i], bit 2^j - 1 set from the LFSR x^8 + x^6 + x^5 + x^4 + 1 (FIPS 202, 3.2.5)."""
    state, constants = 1, []
    for _ in range(24):
        constant = 0
        for j in range(7):
            if state & 1:
                constant |= 1 << ((1 << j) - 1)
            state = ((state << 1) ^ (0x71 if state & 0x80 else 0)) & 0xFF
        constants.append(constant)
    return constants


def _rho_pi() -> list[tuple[int, int, int]]:
    """(source lane, destination lane, rotation) of rho then pi (FIPS 202, 3.2.2 and 3.2.3)."""
    offsets = {(0, 0): 0}
    x, y = 1, 0
    for t in range(24):
        offsets[(x, y)] = ((t + 1) * (t + 2) // 2) % 64
        x, y = y, (2 * x + 3 * y) % 5
    return [(x + 5 * y, y + 5 * ((2 * x + 3 * y) % 5), offsets[(x, y)]) for x in range(5) for y in range(5)]


_RC = _round_constants()
_MOVES = _rho_pi()


def _permute(lanes: list[int]) -> list[int]:
    """Keccak-f[1600] on 25 little-endian 64-bit lanes, lane (x, y) at x + 5y."""
    a = lanes
    for rc in _RC:
        c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
        d = [c[(x - 1) % 5] ^ (((c[(x + 1) % 5] << 1) | (c[(x + 1) % 5] >> 63)) & _MASK) for x in range(5)]
        b = [0] * 25
        for source, dest, shift in _MOVES:
            lane = a[source] ^ d[source % 5]
            b[dest] = ((lane << shift) | (lane >> (64 - shift))) & _MASK if shift else lane
        a = [b[i] ^ (~b[(i + 1) % 5 + i - i % 5] & b[(i + 2) % 5 + i - i % 5]) for i in range(25)]
        a[0] ^= rc
    return a


def keccak_256(data: bytes) -> bytes:
    """The 32-byte Keccak-256 digest of `data`."""
    padded = bytearray(data) + b"\x01" + bytes(-(len(data) + 1) % _RATE)
    padded[-1] |= 0x80
    lanes = [0] * 25
    for start in range(0, len(padded), _RATE):
        block = padded[start : start + _RATE]
        for i in range(_RATE // 8):
            lanes[i] ^= int.from_bytes(block[8 * i : 8 * i + 8], "little")
        lanes = _permute(lanes)
    return b"".join(lane.to_bytes(8, "little") for lane in lanes[:4])
