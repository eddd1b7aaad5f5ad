"""OKX's ownership-signature rules for its published address files, read from its verifier.

Source: okx/proof-of-reserves at 2962a895, `common/hash.go` (the hashes),
`common/verify.go` (VerifyEvmCoin, VerifyTRX, UtxoCoinSigToPubKey,
VerifyUtxoCoinSig), `common/crypto.go` (sigToPub: the signature's last byte is
used as the compact header as it is, so v must be 27..34). Every row signs the
same text, "I am an OKX address", hashed with a per-coin header:

- EVM: keccak256(header + keccak256(message)), header "\\x19Ethereum Signed
  Message:\\n32": EIP-191 personal_sign over the 32-byte *hash* of the message,
  not over the message itself (plain EIP-191 recovers another address).
  65 bytes r|s|v; the recovered address must equal the row's, and s be low.
- Tron: keccak256("\\x19TRON Signed Message:\\n32" + keccak256(message)), or
  (TIP-191 v2) keccak256("\\x19TRON Signed Message:\\n" + len + message); the
  address is base58check(0x41 + keccak256(public key)[12:]).
- Bitcoin: a base64 compact signature over double-SHA256(varstr(header) +
  varstr(message)), header "Bitcoin Signed Message:\\n" (BIP-137's hash), or a
  0x-hex r|s|v over keccak256(varstr("OKX Signed Message:\\n") + varstr(message)).
  The recovered key, compressed, must be the P2PKH's key (P2PKH), or with the
  second signature's key be distinct keys of the row's m-of-n multisig script
  that hashes to the P2SH / P2WSH address.

Where OKX's tool is weaker, por is stricter and says so: OKX returns success
for an address it cannot decode and for every address kind other than P2PKH,
P2SH and P2WSH (so a P2WPKH or P2TR row "verifies" with any signature); it
accepts the same key twice for a multisig and never compares the count with
the script's m. Here a P2WPKH must hash to the recovered key, a P2TR is
unsupported (no rule exists), and a multisig needs m distinct keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

import coincurve
from embit import base58, compact
from eth_utils import keccak

from chains.bitcoin_address import NETWORKS, decode_address, hash160
from chains.bitcoin_proofs import ProofError, Unsupported, check_multisig_script

SECP256K1_HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


class OkxProofError(ProofError):
    """Why a row's signature does not verify under OKX's rule."""


def varstr(text: str) -> bytes:
    data = text.encode("utf-8")
    return compact.to_bytes(len(data)) + data


def evm_hash(header: str, message: str) -> bytes:
    return keccak(header.encode("utf-8") + keccak(message.encode("utf-8")))


def tron_hashes(headers: list[str], message: str) -> list[bytes]:
    """TIP-191 v1 (the 32-byte hash of the message) and v2 (its length in decimal, then the message)."""
    v1, v2 = headers
    data = message.encode("utf-8")
    return [keccak(v1.encode() + keccak(data)), keccak(v2.encode() + str(len(data)).encode() + data)]


def utxo_hash(header: str, message: str) -> bytes:
    return hashlib.sha256(hashlib.sha256(varstr(header) + varstr(message)).digest()).digest()


def _hex65(signature: str, what: str) -> bytes:
    text = signature.strip()
    try:
        raw = bytes.fromhex(text[2:] if text[:2].lower() == "0x" else text)
    except ValueError:
        raise OkxProofError(f"{what} is not hex") from None
    if len(raw) != 65:
        raise OkxProofError(f"{what} must be 65 bytes (r, s, v), got {len(raw)}")
    return raw


def recover(digest: bytes, rs: bytes, header: int) -> coincurve.PublicKey:
    """The key a compact signature (header 27..34, as decred's RecoverCompact reads it) recovers."""
    if not 27 <= header <= 34:
        raise OkxProofError(f"recovery byte {header} is not in 27..34")
    try:
        return coincurve.PublicKey.from_signature_and_message(rs + bytes([(header - 27) & 3]), digest, hasher=None)
    except Exception:
        raise OkxProofError("signature does not recover a public key") from None


def evm_address(key: coincurve.PublicKey) -> str:
    return "0x" + keccak(key.format(compressed=False)[1:])[-20:].hex()


def recover_evm(header: str, message: str, signature: str) -> str:
    """The address an EVM row's signature recovers (lower-case hex), under OKX's per-coin header."""
    raw = _hex65(signature, "signature")
    if int.from_bytes(raw[32:64], "big") > SECP256K1_HALF_ORDER:
        raise OkxProofError("signature has a high s (malleable): OKX's ETH rule refuses it")
    return evm_address(recover(evm_hash(header, message), raw[:64], raw[64]))


def tron_address(key: coincurve.PublicKey) -> str:
    return base58.encode_check(b"\x41" + keccak(key.format(compressed=False)[1:])[-20:])


def verify_tron(headers: list[str], address: str, message: str, signature: str) -> str:
    raw = _hex65(signature, "signature")
    recovered = []
    for digest in tron_hashes(headers, message):
        try:
            recovered.append(tron_address(recover(digest, raw[:64], raw[64])))
        except OkxProofError:
            continue
        if recovered[-1] == address:
            return "TRON signature by the address's key"
    raise OkxProofError(f"signature recovers {' / '.join(recovered) or 'no key'}, not {address}")


def recover_utxo(header: str, okx_header: str, message: str, signature: str) -> bytes:
    """The compressed key a Bitcoin row's signature recovers: base64 compact, or OKX's 0x-hex r|s|v."""
    text = signature.strip()
    if text[:2].lower() == "0x":
        raw = _hex65(text, "signature")
        digest = keccak(varstr(okx_header) + varstr(message))
        for v in (raw[64], raw[64] + 4):  # OKX tries v and v + 4
            try:
                return recover(digest, raw[:64], v).format(compressed=True)
            except OkxProofError:
                continue
        raise OkxProofError("hex signature does not recover a public key")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise OkxProofError("signature is neither 0x-hex nor base64") from None
    if len(raw) != 65:
        raise OkxProofError(f"compact signature must be 65 bytes, got {len(raw)}")
    return recover(utxo_hash(header, message), raw[1:], raw[0]).format(compressed=True)


def verify_bitcoin(
    header: str, okx_header: str, address: str, message: str, signatures: list[str], script_hex: str
) -> str:
    """A Bitcoin row (mainnet): P2PKH / P2WPKH by one key, P2SH / P2WSH multisig by m distinct keys."""
    try:
        decoded = decode_address(address, NETWORKS["bitcoin"])
    except ValueError as exc:
        raise OkxProofError(f"not a Bitcoin mainnet address: {exc}") from None
    if decoded.kind in ("p2tr", "witness_unknown"):
        raise Unsupported(f"OKX's rules have no check for a {decoded.kind} address (its tool passes any signature)")
    keys = [recover_utxo(header, okx_header, message, s) for s in signatures if s.strip()]
    if not keys:
        raise OkxProofError("no signature")
    if decoded.kind in ("p2pkh", "p2wpkh"):
        if hash160(keys[0]) != decoded.program:  # the compressed key, as OKX derives it
            raise OkxProofError("signature 1 is by another key than the address's (or over another message)")
        return f"signature by the key of this {decoded.kind} address"
    try:
        script = bytes.fromhex(script_hex.strip().removeprefix("0x"))
    except ValueError:
        raise OkxProofError("redeem script is not hex") from None
    if not script:
        raise OkxProofError(f"a {decoded.kind} address needs its redeem / witness script")
    m, script_keys = check_multisig_script(decoded, script)
    compressed = [coincurve.PublicKey(k).format(compressed=True) for k in script_keys]
    signed = set()
    for i, key in enumerate(keys, 1):
        if key not in compressed:
            raise OkxProofError(f"signature {i} is by a key that is not in the script (or over another message)")
        signed.add(compressed.index(key))
    if len(signed) < m:
        raise OkxProofError(f"{len(signed)} distinct key(s) of the {m}-of-{len(script_keys)} script signed, {m} needed")
    return f"multisig: {len(signed)} of {len(script_keys)} keys signed ({m} needed)"
