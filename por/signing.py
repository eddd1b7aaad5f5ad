"""Signed commitments: the exchange signs commitment.json with a secp256k1 key.

What is signed (docs/formats/signing.md):
    canonical = the commitment JSON object without its "signature" member,
                keys sorted by code point at every level, no whitespace,
                non-ASCII escaped as \\uXXXX (= Python json.dumps(sort_keys=True,
                separators=(",", ":"), ensure_ascii=True)); integers only, no floats
    digest    = SHA-256(canonical), as 64 lower-case hex characters
    value     = EIP-191 personal_sign of the ASCII text `digest` (65 bytes r||s||v),
                with s in the lower half of the curve order (EIP-2, "low-s")
and the commitment carries {"scheme", "signer", "digest", "value"} under "signature".
Low-s is required because (r, n - s) with the recovery bit flipped recovers the same key:
without it one signature has two spellings, so one period two valid signed files.

A signature proves who wrote the commitment only against a key the verifier
pinned beforehand (the exchange's website, past periods): the signer named in
the file is a claim, so without a pinned key we say the signature was not checked.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from por.errors import InputError
from por.keccak import keccak_256
from por.text import read_bounded

SCHEME = "eip191-sha256"
NOT_CHECKED = "not checked (no key pinned)"
_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}\Z")
_DIGEST_RE = re.compile(r"[0-9a-f]{64}\Z")
_VALUE_RE = re.compile(r"0x[0-9a-f]{130}\Z")
MAX_KEY_FILE_BYTES = 4096  # 64 hex digits, a newline, perhaps a comment: never a stream read whole
CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # secp256k1 n


def canonical_bytes(doc: dict[str, Any]) -> bytes:
    """The exact bytes a signature covers; refuses values two readers could spell differently."""
    body = {k: v for k, v in doc.items() if k != "signature"}
    _check_plain(body, "commitment")
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def _check_plain(value: Any, where: str) -> None:
    if isinstance(value, float):
        raise InputError("a signed document cannot hold a float", field=where)
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")


def digest_hex(doc: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(doc)).hexdigest()


def load_private_key(path: str | Path) -> bytes:
    """A file holding one secp256k1 private key as 64 hex digits (0x optional)."""
    raw = read_bounded(path, MAX_KEY_FILE_BYTES, " for a signing key", empty_ok=True)
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InputError("cannot read signing key: not UTF-8 text", file=str(path), field="--sign-key") from None
    value = text[2:] if text[:2].lower() == "0x" else text
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise InputError("expected a secp256k1 private key as 64 hex digits", file=str(path), field="--sign-key")
    key = bytes.fromhex(value)
    if not 0 < int.from_bytes(key, "big") < CURVE_ORDER:
        raise InputError("not a valid secp256k1 private key (out of range)", file=str(path), field="--sign-key")
    return key


def address_of(private_key: bytes) -> str:
    from eth_account import Account

    return Account.from_key(private_key).address


def sign(doc: dict[str, Any], private_key: bytes) -> dict[str, str]:
    """The "signature" object for `doc` (any existing signature is ignored)."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    digest = digest_hex(doc)
    signed = bytes(Account.sign_message(encode_defunct(text=digest), private_key=private_key).signature)
    return {
        "scheme": SCHEME,
        "signer": Account.from_key(private_key).address,
        "digest": digest,
        "value": "0x" + low_s(signed).hex(),
    }


def low_s(signature: bytes) -> bytes:
    """The one spelling EIP-2 allows: s above n/2 becomes n - s, with the recovery bit flipped."""
    s = int.from_bytes(signature[32:64], "big")
    if s <= CURVE_ORDER // 2:
        return signature
    return signature[:32] + (CURVE_ORDER - s).to_bytes(32, "big") + bytes([55 - signature[64]])  # 27 <-> 28


def normalise_address(text: str, option: str = "--signer") -> str:
    """A pinned 0x address, lower-cased; mixed case must carry a valid EIP-55 checksum."""
    value = text.strip()
    if not _ADDRESS_RE.match(value):
        raise InputError("expected a 0x-prefixed 20-byte address (40 hex digits)", field=option)
    body = value[2:]
    if body != body.lower() and body != body.upper() and checksum_address(body) != value:
        raise InputError("mixed-case address with a wrong EIP-55 checksum (a typo?)", field=option)
    return "0x" + body.lower()


@dataclass
class SignatureCheck:
    state: str  # "verified", "failed" or "not-checked"
    text: str  # one line for the user

    @property
    def failed(self) -> bool:
        return self.state == "failed"


# (text, 65-byte signature) -> the signing address in lower case, or None: the curve operation, given
# by the caller (chains.eip191.recover_text_signer), since the core imports no curve library
Recover = Callable[[str, bytes], "str | None"]


def check(doc: dict[str, Any], pinned: str | None, recover: Recover | None = None) -> SignatureCheck:
    """Checks `doc`'s signature against a pinned address (already normalised); `recover` is needed
    only when one is pinned (nothing pinned: nothing to recover, and no curve library to load)."""
    sig = doc.get("signature")
    if pinned is None:
        if isinstance(sig, dict) and isinstance(sig.get("signer"), str):
            return SignatureCheck("not-checked", f"{NOT_CHECKED}; the file names signer {sig['signer'][:42]}")
        return SignatureCheck("not-checked", NOT_CHECKED)
    if sig is None:
        return SignatureCheck("failed", "the commitment is not signed, but a signing key is pinned")
    problem = _malformed(sig)
    if problem:
        return SignatureCheck("failed", f"malformed signature: {problem}")
    try:
        digest = digest_hex(doc)
    except InputError as exc:
        return SignatureCheck("failed", f"cannot canonicalise the commitment: {exc.location_text()}")
    if digest != sig["digest"]:
        return SignatureCheck(
            "failed",
            f"the commitment was changed after it was signed "
            f"(its digest is {digest}, the signature covers {sig['digest']})",
        )
    if recover is None:
        raise TypeError("signing.check: a pinned key needs `recover` (chains.eip191.recover_text_signer)")
    recovered = recover(digest, bytes.fromhex(sig["value"][2:]))
    if recovered is None:
        return SignatureCheck("failed", "malformed signature: value does not recover a key")
    if recovered != sig["signer"].lower():
        return SignatureCheck(
            "failed", f"the signature was made by {recovered}, not by the signer it names {sig['signer'].lower()}"
        )
    if recovered != pinned:
        return SignatureCheck("failed", f"signed by {recovered}, not by the pinned key {pinned}")
    return SignatureCheck("verified", f"verified: signed by the pinned key {pinned}")


def _malformed(sig: Any) -> str | None:
    if not isinstance(sig, dict):
        return "expected an object"
    extra = sorted(set(sig) - {"scheme", "signer", "digest", "value"})
    if extra:
        return f"{extra[0]}: unknown field"
    for key in ("scheme", "signer", "digest", "value"):
        if not isinstance(sig.get(key), str):
            return f"{key}: missing or not a string"
    if sig["scheme"] != SCHEME:
        return f"scheme: unsupported (this por checks {SCHEME})"
    if not _ADDRESS_RE.match(sig["signer"]):
        return "signer: expected a 0x address"
    if not _DIGEST_RE.match(sig["digest"]):
        return "digest: expected 64 lower-case hex digits"
    if not _VALUE_RE.match(sig["value"]):
        return "value: expected 0x and 65 bytes in lower-case hex"
    raw = bytes.fromhex(sig["value"][2:])
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big")
    if not (0 < r < CURVE_ORDER and 0 < s < CURVE_ORDER):
        return "value: r or s outside 1..n-1"
    if s > CURVE_ORDER // 2:
        return (
            "value: s is in the upper half of the curve order (EIP-2 allows only low-s: this is the "
            "second spelling of a signature)"
        )
    return None


def checksum_address(body: str) -> str:
    """EIP-55: `0x` + the 40 hex digits, each letter upper-case where the Keccak-256 of the
    lower-case digits has a nibble of 8 or more at its place."""
    lower = body.lower()
    nibbles = keccak_256(lower.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if int(n, 16) >= 8 else c for c, n in zip(lower, nibbles[:40], strict=True))
