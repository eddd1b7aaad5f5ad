"""Bitcoin ownership proofs: BIP-137 (signmessage) and BIP-322 simple / full, single key, multisig, P2TR.

Crypto is libsecp256k1 through coincurve (public-key recovery for BIP-137,
strict DER + low-S verification for BIP-322, BIP-340 Schnorr for P2TR); the
BIP-322 virtual transactions and their BIP-143 / BIP-341 sighashes come from
embit. Signers sit beside the verifiers so fixtures and the demo sign exactly
what is verified.

BIP-322 signatures are read as BIP-322 (v2.0.0) writes them: a variant prefix
`smp` (simple: the witness stack) or `ful` (full: the whole signed `to_sign`
transaction), then base64; with no prefix, simple (the BIP's own fallback for
signatures made before it was final). `pof` (proof of funds) and P2TR
script-path spends are valid BIP-322 that por does not check: `Unsupported`.

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
from dataclasses import dataclass
from io import BytesIO

import coincurve
from embit import compact
from embit.script import Script, Witness
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from chains.bitcoin_address import (
    Decoded,
    hash160,
    p2pkh_script,
    p2sh_script,
    p2tr_script,
    p2wpkh_script,
    p2wsh_script,
    parse_multisig,
    sha256,
)

SIGHASH_DEFAULT, SIGHASH_ALL = 0x00, 0x01
_BIP322_TAG = sha256(b"BIP0322-signed-message")
_CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# BIP-137 header ranges: (first header, address kind it claims, compressed key)
_HEADERS = {27: ("p2pkh", False), 31: ("p2pkh", True), 35: ("p2sh-p2wpkh", True), 39: ("p2wpkh", True)}


class ProofError(ValueError):
    """Why a proof does not verify; the text is shown to the auditor."""


class Unsupported(ProofError):
    """A proof (or address) of a kind por cannot check: a per-address finding, never a verified one."""


@dataclass(frozen=True)
class Bip322Proof:
    """A BIP-322 signature, decoded: the witness of `to_sign`'s first input and the fields it was signed with."""

    variant: str  # "simple" | "full"
    witness: tuple[bytes, ...]
    version: int = 0
    locktime: int = 0
    sequence: int = 0


# --- message hashes ------------------------------------------------------------------------------------
def bip137_hash(message: str) -> bytes:
    data = message.encode("utf-8")
    payload = compact.to_bytes(24) + b"Bitcoin Signed Message:\n" + compact.to_bytes(len(data)) + data
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()


def bip322_hash(message: str) -> bytes:
    return sha256(_BIP322_TAG + _BIP322_TAG + message.encode("utf-8"))


def bip322_to_spend(message: str, script_pubkey: bytes) -> Transaction:
    """BIP-322's virtual `to_spend`: an output paying to the address's script, committing to the message."""
    return Transaction(
        version=0,
        locktime=0,
        vin=[
            TransactionInput(
                b"\x00" * 32, 0xFFFFFFFF, script_sig=Script(b"\x00\x20" + bip322_hash(message)), sequence=0
            )
        ],
        vout=[TransactionOutput(0, Script(script_pubkey))],
    )


def bip322_to_sign(message: str, script_pubkey: bytes, proof: Bip322Proof | None = None) -> Transaction:
    """BIP-322's virtual `to_sign` (witness left empty), with the full variant's version, lock time, sequence."""
    proof = proof or Bip322Proof("simple", ())
    return Transaction(
        version=proof.version,
        locktime=proof.locktime,
        vin=[TransactionInput(bip322_to_spend(message, script_pubkey).txid(), 0, sequence=proof.sequence)],
        vout=[TransactionOutput(0, Script(b"\x6a"))],
    )


def bip322_sighash(message: str, script_pubkey: bytes, script_code: bytes, proof: Bip322Proof | None = None) -> bytes:
    """BIP-143 sighash (ALL) of BIP-322's `to_sign`, which spends `to_spend` committing to the message."""
    to_sign = bip322_to_sign(message, script_pubkey, proof)
    return to_sign.sighash_segwit(0, Script(script_code), 0, SIGHASH_ALL)


def bip322_taproot_sighash(
    message: str, script_pubkey: bytes, hash_type: int, proof: Bip322Proof | None = None
) -> bytes:
    """BIP-341 key-path sighash of `to_sign` (DEFAULT or ALL), its one prevout being `to_spend`'s 0-sat output."""
    to_sign = bip322_to_sign(message, script_pubkey, proof)
    return to_sign.sighash_taproot(0, [Script(script_pubkey)], [0], sighash=hash_type)


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


def parse_bip322(signature: str, message: str, script_pubkey: bytes) -> Bip322Proof:
    """A BIP-322 signature for `script_pubkey` and `message`: `smp`/`ful` prefix (none: simple), then base64.

    A full signature must be the `to_sign` of exactly this message and script: one input
    spending `to_spend`:0 with an empty scriptSig (segwit), one 0-sat OP_RETURN output."""
    text = signature.strip()
    variant, body = {"smp": "simple", "ful": "full", "pof": "pof"}.get(text[:3], "simple"), text
    if text[:3] in ("smp", "ful", "pof"):
        body = text[3:]
    if variant == "pof":
        raise Unsupported("BIP-322 proof of funds (`pof`) is not supported: sign with the simple or full variant")
    raw = _b64(body, "BIP-322 signature")
    if not raw:
        raise ProofError("BIP-322 signature is empty")
    if variant == "simple":
        return Bip322Proof("simple", tuple(decode_witness(raw)))
    return _parse_full(raw, message, script_pubkey)


def _parse_full(raw: bytes, message: str, script_pubkey: bytes) -> Bip322Proof:
    stream = BytesIO(raw)
    try:
        tx = Transaction.read_from(stream)
    except Exception:
        raise ProofError("BIP-322 full signature is not a transaction") from None
    if stream.read(1):
        raise ProofError("BIP-322 full signature has bytes after the transaction")
    if len(tx.vin) != 1:
        raise Unsupported(f"BIP-322 full signature with {len(tx.vin)} inputs (proof of funds) is not supported")
    vin = tx.vin[0]
    if vin.txid != bip322_to_spend(message, script_pubkey).txid() or vin.vout != 0:
        raise ProofError("BIP-322 full signature does not spend the to_spend of this message and address")
    if len(tx.vout) != 1 or tx.vout[0].value != 0 or tx.vout[0].script_pubkey.data != b"\x6a":
        raise ProofError("BIP-322 full signature must have exactly one output: 0 sat to OP_RETURN")
    if vin.script_sig.data:
        raise Unsupported("BIP-322 full signature with a scriptSig (a non-native-segwit address) is not supported")
    if tx.version not in (0, 2):
        raise Unsupported(f"BIP-322 to_sign version {tx.version} is neither 0 nor 2: inconclusive")
    witness = tuple(bytes(item) for item in (vin.witness.items if vin.witness else []))
    if not witness:
        raise ProofError("BIP-322 full signature has an empty witness")
    return Bip322Proof("full", witness, tx.version, tx.locktime, vin.sequence)


def describe(proof: Bip322Proof) -> str:
    """How the proof was made, for the reason shown: variant and, for full, any time lock it carries."""
    if proof.variant == "simple":
        return "BIP-322 simple"
    locks = ([f"nLockTime {proof.locktime}"] if proof.locktime else []) + (
        [f"nSequence {proof.sequence}"] if proof.sequence else []
    )
    return "BIP-322 full" + (f" (valid at {', '.join(locks)})" if locks else "")


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
        key = coincurve.PublicKey.from_signature_and_message(
            raw[1:] + bytes([header - first]), bip137_hash(message), hasher=None
        )
    except Exception:
        raise ProofError("BIP-137 signature does not recover a public key") from None
    return key.format(compressed=compressed), kind, compressed


def looks_like_bip137(signature: str) -> bool:
    """A 65-byte compact signature with a BIP-137 header: what a bip322 label must never carry."""
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 65 and 27 <= raw[0] <= 42


def verify_bip137_single(decoded: Decoded, signature: str, message: str) -> None:
    """Raises ProofError unless the recovered key owns the single-key address.

    Headers 31-34 are accepted for segwit addresses too: Electrum and hardware
    wallets sign that way, and the recovered key must still hash to the address.
    """
    key, kind, compressed = recover_bip137(signature, message)
    allowed = {"p2pkh": ("p2pkh",), "p2sh": ("p2sh-p2wpkh", "p2pkh"), "p2wpkh": ("p2wpkh", "p2pkh")}
    if kind not in allowed[decoded.kind] or (decoded.kind != "p2pkh" and not compressed):
        raise ProofError(
            f"BIP-137 header claims a {kind}{'' if compressed else ' uncompressed'} key, the address is {decoded.kind}"
        )
    h = hash160(key)
    script = {"p2pkh": p2pkh_script(h), "p2wpkh": p2wpkh_script(h), "p2sh": p2sh_script(hash160(p2wpkh_script(h)))}[
        decoded.kind
    ]
    if script != decoded.script:
        raise ProofError("signature is by another key than the address's (or over another message)")


def sign_bip137(secret: bytes, message: str, kind: str = "p2pkh", compressed: bool = True) -> str:
    """Signmessage for a key: kind p2pkh | p2sh-p2wpkh | p2wpkh (what the header will claim)."""
    first = {("p2pkh", False): 27, ("p2pkh", True): 31, ("p2sh-p2wpkh", True): 35, ("p2wpkh", True): 39}
    sig = coincurve.PrivateKey(secret).sign_recoverable(bip137_hash(message), hasher=None)
    return base64.b64encode(bytes([first[(kind, compressed)] + sig[64]]) + sig[:64]).decode()


# --- BIP-322 single key -------------------------------------------------------------------------------------
def verify_bip322_p2wpkh(decoded: Decoded, signature: str, message: str) -> str:
    proof = parse_bip322(signature, message, decoded.script)
    stack = proof.witness
    if len(stack) != 2 or len(stack[1]) != 33:
        raise ProofError("BIP-322 witness for P2WPKH must be [signature, compressed public key]")
    if hash160(stack[1]) != decoded.program:
        raise ProofError("BIP-322 witness holds another key than the address's")
    digest = bip322_sighash(message, decoded.script, p2pkh_script(decoded.program), proof)
    if not _der_verify(stack[0], stack[1], digest):
        raise ProofError("BIP-322 signature does not verify (another message, or not SIGHASH_ALL, strict DER, low-S)")
    return describe(proof)


def sign_bip322_p2wpkh(secret: bytes, message: str) -> str:
    key = coincurve.PrivateKey(secret)
    pub = key.public_key.format(compressed=True)
    h = hash160(pub)
    sig = key.sign(bip322_sighash(message, p2wpkh_script(h), p2pkh_script(h)), hasher=None) + bytes([SIGHASH_ALL])
    return base64.b64encode(encode_witness([sig, pub])).decode()


# --- P2TR key path (BIP-340 Schnorr, BIP-341 sighash) ---------------------------------------------------------
def schnorr_verify(output_key: bytes, signature: bytes, message: bytes) -> bool:
    """BIP-340 verification by libsecp256k1; a key that is not a valid x-only point verifies nothing."""
    try:
        return coincurve.PublicKeyXOnly(output_key).verify(signature, message)
    except (ValueError, TypeError):
        return False


def verify_bip322_p2tr(decoded: Decoded, signature: str, message: str) -> str:
    """Key path only: the witness is one Schnorr signature by the output key (64 bytes, or 65 ending in 0x01)."""
    proof = parse_bip322(signature, message, decoded.script)
    stack = proof.witness
    if len(stack) >= 2 and stack[-1][:1] == b"\x50":
        raise Unsupported("BIP-322 witness for P2TR carries an annex: not supported")
    if len(stack) != 1:
        raise Unsupported(
            f"BIP-322 witness for P2TR has {len(stack)} items: a script-path spend, not supported "
            f"(sign with the key path: one Schnorr signature)"
        )
    sig = stack[0]
    if len(sig) == 65 and sig[64] == SIGHASH_ALL:
        hash_type = SIGHASH_ALL
    elif len(sig) == 64:
        hash_type = SIGHASH_DEFAULT
    else:
        raise ProofError(
            "BIP-322 signature for P2TR must be 64 bytes (SIGHASH_DEFAULT) or 65 ending in 0x01 (SIGHASH_ALL)"
        )
    digest = bip322_taproot_sighash(message, decoded.script, hash_type, proof)
    if not schnorr_verify(decoded.program, sig[:64], digest):
        raise ProofError(
            "BIP-322 Schnorr signature does not verify for the address's output key (another message, or another key)"
        )
    return describe(proof)


def taproot_tweak(secret: bytes) -> tuple[bytes, bytes]:
    """(output key, tweaked secret) of a BIP-86 key-path-only key: Q = P + H_TapTweak(P)·G."""
    pub = coincurve.PrivateKey(secret).public_key.format(compressed=True)
    d = int.from_bytes(secret, "big")
    if pub[0] == 3:  # BIP-340: the internal key with even y
        d = _CURVE_ORDER - d
    tweak = int.from_bytes(_tagged(b"TapTweak", pub[1:]), "big")
    tweaked = ((d + tweak) % _CURVE_ORDER).to_bytes(32, "big")
    return coincurve.PublicKeyXOnly.from_secret(tweaked).format(), tweaked


def _tagged(tag: bytes, data: bytes) -> bytes:
    t = sha256(tag)
    return sha256(t + t + data)


def sign_bip322_p2tr(
    secret: bytes, message: str, *, full: bool = False, sighash_all: bool = False, locktime: int = 0, sequence: int = 0
) -> tuple[str, bytes]:
    """(BIP-322 signature, P2TR output script) for a BIP-86 key: `smp` + witness, or `ful` + whole to_sign."""
    output_key, tweaked = taproot_tweak(secret)
    script = p2tr_script(output_key)
    proof = Bip322Proof(
        "full" if full else "simple", (), 2 if full and (locktime or sequence) else 0, locktime, sequence
    )
    hash_type = SIGHASH_ALL if sighash_all else SIGHASH_DEFAULT
    sig = coincurve.PrivateKey(tweaked).sign_schnorr(bip322_taproot_sighash(message, script, hash_type, proof))
    sig += bytes([SIGHASH_ALL]) * sighash_all
    if not full:
        return "smp" + base64.b64encode(encode_witness([sig])).decode(), script
    to_sign = bip322_to_sign(message, script, proof)
    to_sign.vin[0].witness = Witness([sig])
    return "ful" + base64.b64encode(to_sign.serialize()).decode(), script


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
    except ValueError as exc:  # it hashes to the address: a real script, just not one por evaluates
        raise Unsupported(f"{exc}: only bare m-of-n multisig scripts are checked") from None


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
    one_witness = len(signatures) == 1 and (
        signatures[0].strip()[:3] in ("smp", "ful", "pof") or _b64(signatures[0], "signature 1")[:1] != b"\x30"
    )
    proof = parse_bip322(signatures[0], message, decoded.script) if one_witness else None
    raws = [] if one_witness else [_b64(s, f"signature {i}") for i, s in enumerate(signatures, 1)]
    stack = list(proof.witness) if proof is not None else None
    if stack is not None:
        if script is not None and stack[-1] != script:
            raise ProofError("the witness script in the BIP-322 witness is not the declared script")
        script = stack[-1]
    if script is None:
        raise ProofError("a P2WSH address needs its witness script in `script`")
    m, keys = check_multisig_script(decoded, script)
    digest = bip322_sighash(message, decoded.script, script, proof)
    if stack is not None:
        sigs = stack[1:-1]
        if stack[0] != b"" or len(sigs) != m:
            raise ProofError(f"BIP-322 witness must be [<>, {m} signatures, witness script]")
        signed: set[int] = set()
        k = 0
        for sig in sigs:  # CHECKMULTISIG: signatures in the order of their keys
            while k < len(keys) and not _der_verify(sig, keys[k], digest):
                k += 1
            if k == len(keys):
                raise ProofError(
                    f"{len(signed)} distinct key(s) of the {m}-of-{len(keys)} script signed in "
                    f"order, {m} needed (another message, key, or order)"
                )
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
    sigs = [
        coincurve.PrivateKey(by_key[k]).sign(digest, hasher=None) + bytes([SIGHASH_ALL]) for k in keys if k in by_key
    ]
    if not full:
        return [base64.b64encode(s).decode() for s in sigs]
    return [base64.b64encode(encode_witness([b""] + sigs + [witness_script])).decode()]
