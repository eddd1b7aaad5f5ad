"""Bitcoin ownership proofs: BIP-137 (signmessage) and BIP-322 simple, single key and multisig.

Crypto is libsecp256k1 through coincurve (public-key recovery for BIP-137,
strict DER + low-S verification for BIP-322); the BIP-322 virtual
transactions and their BIP-143 sighash come from embit. Signers sit beside the
verifiers so fixtures and the demo sign exactly what is verified.

Multisig (P2SH and P2WSH), where `script` is the redeem / witness script:
- bip137: one compact recoverable signature per signing key, each by that key
  over the BIP-137 hash of the message (header 27-34; compressed keys 31-34).
  The recovered key must be one of the script's keys exactly as serialised there.
- bip322 (P2WSH only; "simple" is for segwit): either the full BIP-322 witness
  `[<>, sig..., witness_script]` as one entry, or one entry per key holding that
  key's DER signature + sighash byte over the BIP-322 `to_sign` transaction.
In both the script must hash to the address, be a bare m-of-n CHECKMULTISIG,
and signatures from at least m distinct keys of it must verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from io import BytesIO

import coincurve
from embit import compact
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from chains.bitcoin_address import (
    Decoded,
    hash160,
    p2pkh_script,
    p2sh_script,
    p2wpkh_script,
    p2wsh_script,
    parse_multisig,
    sha256,
)

SIGHASH_ALL = 0x01
_BIP322_TAG = sha256(b"BIP0322-signed-message")
# BIP-137 header ranges: (first header, address kind it claims, compressed key)
_HEADERS = {27: ("p2pkh", False), 31: ("p2pkh", True), 35: ("p2sh-p2wpkh", True), 39: ("p2wpkh", True)}


class ProofError(ValueError):
    """Why a proof does not verify; the text is shown to the auditor."""


# --- message hashes ------------------------------------------------------------------------------------
def bip137_hash(message: str) -> bytes:
    data = message.encode("utf-8")
    payload = compact.to_bytes(24) + b"Bitcoin Signed Message:\n" + compact.to_bytes(len(data)) + data
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()


def bip322_hash(message: str) -> bytes:
    return sha256(_BIP322_TAG + _BIP322_TAG + message.encode("utf-8"))


def bip322_sighash(message: str, script_pubkey: bytes, script_code: bytes) -> bytes:
    """BIP-143 sighash (ALL) of BIP-322's `to_sign`, which spends `to_spend` committing to the message."""
    to_spend = Transaction(version=0, locktime=0, vin=[TransactionInput(
        b"\x00" * 32, 0xFFFFFFFF, script_sig=Script(b"\x00\x20" + bip322_hash(message)), sequence=0)],
        vout=[TransactionOutput(0, Script(script_pubkey))])
    to_sign = Transaction(version=0, locktime=0, vin=[TransactionInput(to_spend.txid(), 0, sequence=0)],
                          vout=[TransactionOutput(0, Script(b"\x6a"))])
    return to_sign.sighash_segwit(0, Script(script_code), 0, SIGHASH_ALL)


# --- decoding ---------------------------------------------------------------------------------------------
def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ProofError(f"{what} is not base64") from None


def decode_witness(raw: bytes) -> list[bytes]:
    """A BIP-322 simple signature: the consensus-encoded witness stack, nothing after it."""
    stream, items = BytesIO(raw), []
    try:
        count = compact.read_from(stream)
        if not 0 < count <= 100:
            raise ValueError
        for _ in range(count):
            size = compact.read_from(stream)
            item = stream.read(size)
            if len(item) != size:
                raise ValueError
            items.append(item)
    except Exception:
        raise ProofError("BIP-322 signature is not a witness stack") from None
    if stream.read(1):
        raise ProofError("BIP-322 signature has bytes after the witness stack")
    return items


def _der_verify(sig_with_type: bytes, pubkey: bytes, digest: bytes) -> bool:
    if len(sig_with_type) < 9 or sig_with_type[-1] != SIGHASH_ALL:
        return False
    try:
        return coincurve.PublicKey(pubkey).verify(sig_with_type[:-1], digest, hasher=None)
    except (ValueError, TypeError):
        return False


# --- BIP-137 ---------------------------------------------------------------------------------------------
def recover_bip137(signature: str, message: str) -> tuple[bytes, str, bool]:
    """(serialised public key, address kind the header claims, compressed) of a signmessage signature."""
    raw = _b64(signature, "BIP-137 signature")
    if len(raw) != 65:
        raise ProofError(f"BIP-137 signature must be 65 bytes, got {len(raw)}")
    header = raw[0]
    if not 27 <= header <= 42:
        raise ProofError(f"BIP-137 header byte {header} is not in 27..42")
    first = max(h for h in _HEADERS if h <= header)
    kind, compressed = _HEADERS[first]
    try:
        key = coincurve.PublicKey.from_signature_and_message(raw[1:] + bytes([header - first]),
                                                             bip137_hash(message), hasher=None)
    except Exception:
        raise ProofError("BIP-137 signature does not recover a public key") from None
    return key.format(compressed=compressed), kind, compressed


def verify_bip137_single(decoded: Decoded, signature: str, message: str) -> None:
    """Raises ProofError unless the recovered key owns the single-key address.

    Headers 31-34 are accepted for segwit addresses too: Electrum and hardware
    wallets sign that way, and the recovered key must still hash to the address.
    """
    key, kind, compressed = recover_bip137(signature, message)
    allowed = {"p2pkh": ("p2pkh",), "p2sh": ("p2sh-p2wpkh", "p2pkh"), "p2wpkh": ("p2wpkh", "p2pkh")}
    if kind not in allowed[decoded.kind] or (decoded.kind != "p2pkh" and not compressed):
        raise ProofError(f"BIP-137 header claims a {kind}{'' if compressed else ' uncompressed'} key, "
                         f"the address is {decoded.kind}")
    h = hash160(key)
    script = {"p2pkh": p2pkh_script(h), "p2wpkh": p2wpkh_script(h),
              "p2sh": p2sh_script(hash160(p2wpkh_script(h)))}[decoded.kind]
    if script != decoded.script:
        raise ProofError("signature is by another key than the address's (or over another message)")


def sign_bip137(secret: bytes, message: str, kind: str = "p2pkh", compressed: bool = True) -> str:
    """Signmessage for a key: kind p2pkh | p2sh-p2wpkh | p2wpkh (what the header will claim)."""
    first = {("p2pkh", False): 27, ("p2pkh", True): 31, ("p2sh-p2wpkh", True): 35, ("p2wpkh", True): 39}
    sig = coincurve.PrivateKey(secret).sign_recoverable(bip137_hash(message), hasher=None)
    return base64.b64encode(bytes([first[(kind, compressed)] + sig[64]]) + sig[:64]).decode()


# --- BIP-322 simple ----------------------------------------------------------------------------------------
def verify_bip322_p2wpkh(decoded: Decoded, signature: str, message: str) -> None:
    stack = decode_witness(_b64(signature, "BIP-322 signature"))
    if len(stack) != 2 or len(stack[1]) != 33:
        raise ProofError("BIP-322 witness for P2WPKH must be [signature, compressed public key]")
    if hash160(stack[1]) != decoded.program:
        raise ProofError("BIP-322 witness holds another key than the address's")
    digest = bip322_sighash(message, decoded.script, p2pkh_script(decoded.program))
    if not _der_verify(stack[0], stack[1], digest):
        raise ProofError("BIP-322 signature does not verify (another message, or not SIGHASH_ALL, strict DER, low-S)")


def sign_bip322_p2wpkh(secret: bytes, message: str) -> str:
    key = coincurve.PrivateKey(secret)
    pub = key.public_key.format(compressed=True)
    h = hash160(pub)
    sig = key.sign(bip322_sighash(message, p2wpkh_script(h), p2pkh_script(h)), hasher=None) + bytes([SIGHASH_ALL])
    return base64.b64encode(encode_witness([sig, pub])).decode()


def encode_witness(items: list[bytes]) -> bytes:
    """A witness stack as BIP-322 serializes it: the item count, then each item with its length."""
    return compact.to_bytes(len(items)) + b"".join(compact.to_bytes(len(i)) + i for i in items)


# --- multisig ------------------------------------------------------------------------------------------------
def check_multisig_script(decoded: Decoded, script: bytes) -> tuple[int, list[bytes]]:
    """(m, keys) once the script is shown to hash to the address."""
    if decoded.kind == "p2sh" and hash160(script) != decoded.program:
        raise ProofError("redeem script does not hash to the address")
    if decoded.kind == "p2wsh" and sha256(script) != decoded.program:
        raise ProofError("witness script does not hash to the address")
    try:
        return parse_multisig(script)
    except ValueError as exc:
        raise ProofError(str(exc)) from None


def _threshold(m: int, n: int, signed: set[int]) -> str:
    if len(signed) < m:
        raise ProofError(f"{len(signed)} distinct key(s) of the {m}-of-{n} script signed, {m} needed")
    return f"{len(signed)} of {n} keys signed ({m} needed)"


def verify_multisig_bip137(decoded: Decoded, script: bytes, signatures: tuple[str, ...], message: str) -> str:
    m, keys = check_multisig_script(decoded, script)
    signed: set[int] = set()
    for i, signature in enumerate(signatures, 1):
        try:
            key, kind, _ = recover_bip137(signature, message)
        except ProofError as exc:
            raise ProofError(f"signature {i}: {exc}") from None
        if kind != "p2pkh":
            raise ProofError(f"signature {i}: a multisig key signs with header 27-34, not a {kind} header")
        if key not in keys:
            raise ProofError(f"signature {i} is by a key that is not in the script (or over another message)")
        signed.add(keys.index(key))
    return _threshold(m, len(keys), signed)


def verify_multisig_bip322(decoded: Decoded, script: bytes | None, signatures: tuple[str, ...], message: str) -> str:
    if decoded.kind != "p2wsh":
        raise ProofError("BIP-322 simple covers segwit only: sign a P2SH multisig with bip137")
    raws = [_b64(s, f"signature {i}") for i, s in enumerate(signatures, 1)]
    full = len(raws) == 1 and raws[0][:1] != b"\x30"
    stack = decode_witness(raws[0]) if full else None
    if stack is not None:
        if script is not None and stack[-1] != script:
            raise ProofError("the witness script in the BIP-322 witness is not the declared script")
        script = stack[-1]
    if script is None:
        raise ProofError("a P2WSH address needs its witness script in `script`")
    m, keys = check_multisig_script(decoded, script)
    digest = bip322_sighash(message, decoded.script, script)
    if stack is not None:
        sigs = stack[1:-1]
        if stack[0] != b"" or len(sigs) != m:
            raise ProofError(f"BIP-322 witness must be [<>, {m} signatures, witness script]")
        signed: set[int] = set()
        k = 0
        for sig in sigs:       # CHECKMULTISIG: signatures in the order of their keys
            while k < len(keys) and not _der_verify(sig, keys[k], digest):
                k += 1
            if k == len(keys):
                raise ProofError(f"{len(signed)} distinct key(s) of the {m}-of-{len(keys)} script signed in "
                                 f"order, {m} needed (another message, key, or order)")
            signed.add(k)
            k += 1
        return _threshold(m, len(keys), signed)
    signed = set()
    for i, sig in enumerate(raws, 1):
        match = [k for k, key in enumerate(keys) if _der_verify(sig, key, digest)]
        if not match:
            raise ProofError(f"signature {i} verifies for no key of the script (or is over another message)")
        signed.update(match)
    return _threshold(m, len(keys), signed)


def sign_bip322_multisig(secrets: list[bytes], message: str, witness_script: bytes, *, full: bool = True) -> list[str]:
    """BIP-322 for a P2WSH multisig: the full witness (one entry) or one DER signature per key."""
    _, keys = parse_multisig(witness_script)
    digest = bip322_sighash(message, p2wsh_script(witness_script), witness_script)
    by_key = {coincurve.PrivateKey(s).public_key.format(compressed=True): s for s in secrets}
    sigs = [coincurve.PrivateKey(by_key[k]).sign(digest, hasher=None) + bytes([SIGHASH_ALL])
            for k in keys if k in by_key]
    if not full:
        return [base64.b64encode(s).decode() for s in sigs]
    return [base64.b64encode(encode_witness([b""] + sigs + [witness_script])).decode()]
