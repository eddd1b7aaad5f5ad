"""EIP-191 `personal_sign` recovery: the address whose key signed a text, with libsecp256k1
(coincurve) and por.keccak.

The commitment's signature is checked on the customer's path (`verify-inclusion --signer`), where
eth-account's import alone cost several times the whole command (issue 18); this is the same
recovery from the curve library directly. tests/test_plain_output.py holds it equal to
eth-account on genuine, bit-flipped and wrong-v signatures.
"""

from __future__ import annotations

import coincurve

from por.keccak import keccak_256

PREFIX = b"\x19Ethereum Signed Message:\n"


def recover_text_signer(text: str, signature: bytes) -> str | None:
    """The 0x address (lower case) that made the 65-byte r || s || v `signature` over the UTF-8
    `text`, or None when it recovers no key (v not 27 or 28, r not on the curve, r or s out of range)."""
    if len(signature) != 65 or signature[64] not in (27, 28):
        return None
    message = text.encode("utf-8")
    digest = keccak_256(PREFIX + str(len(message)).encode("ascii") + message)
    try:
        key = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([signature[64] - 27]), digest, hasher=None
        )
    except Exception:  # libsecp256k1 refuses it: no key
        return None
    return "0x" + keccak_256(key.format(compressed=False)[1:])[-20:].hex()
