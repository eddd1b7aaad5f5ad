"""P2TR: bech32m addresses, BIP-340 Schnorr and BIP-322 simple / full key-path proofs.

Pure tests (no node), against the official vectors kept in fixtures/vectors/bip322 and
bip340 (copied from bitcoin/bips, see the README there) and against our own keys.
"""

import base64
import csv
import json
from pathlib import Path

import coincurve
import pytest

from chains import bitcoin
from chains.bitcoin_address import NETWORKS, decode_address, encode_address, p2tr_script, witness_script_pubkey
from chains.bitcoin_proofs import (
    bip322_hash,
    bip322_to_sign,
    bip322_to_spend,
    schnorr_verify,
    sign_bip137,
    sign_bip322_p2tr,
    taproot_tweak,
)
from chains.records import DeclaredWallet, Scheme, WalletType, ownership_message
from por.errors import InputError

VECTORS = Path(__file__).resolve().parent.parent / "fixtures" / "vectors"
MAINNET = {"family": "bitcoin", "network": "bitcoin", "native_asset": "BTC"}
REGTEST = {"family": "bitcoin", "network": "regtest", "native_asset": "BTC"}
# The kinds por checks under BIP-322; every other vector must come back unsupported, never verified.
CHECKED = {"p2wpkh", "p2tr", "p2wsh-multisig-2of2", "p2wsh-multisig-3of3"}


def bip322_vectors(name):
    return json.loads((VECTORS / "bip322" / name).read_text(encoding="utf-8"))


def declared(address, signature, message, scheme="bip322", script=None):
    return DeclaredWallet("btc", "BTC", address, WalletType.COLD, Scheme(scheme), message, (signature,), script)


def check(address, signature, message, config=MAINNET, **kw):
    return bitcoin.verify_ownership(declared(address, signature, message, **kw), message, config)


# --- BIP-340 --------------------------------------------------------------------------------------------------
BIP340 = list(csv.DictReader((VECTORS / "bip340" / "test-vectors.csv").read_text().splitlines()))


def test_all_bip340_vectors_are_read():
    assert len(BIP340) == 19 and sum(r["verification result"] == "FALSE" for r in BIP340) == 10


@pytest.mark.parametrize("row", BIP340, ids=lambda r: f"bip340-{r['index']}")
def test_bip340_vectors_verify_as_published(row):
    pub, sig, msg = (bytes.fromhex(row[k]) for k in ("public key", "signature", "message"))
    assert schnorr_verify(pub, sig, msg) is (row["verification result"] == "TRUE"), row["comment"]
    if row["secret key"] and len(msg) == 32:  # libsecp256k1 signs 32-byte messages: the signing rows
        secret = bytes.fromhex(row["secret key"])
        assert coincurve.PublicKeyXOnly.from_secret(secret).format() == pub
        assert coincurve.PrivateKey(secret).sign_schnorr(msg, bytes.fromhex(row["aux_rand"])) == sig


# --- BIP-322 official vectors --------------------------------------------------------------------------------
@pytest.mark.parametrize("v", bip322_vectors("basic-test-vectors.json")["tx_hashes"], ids=lambda v: v["message"][:12])
def test_bip322_message_hash_and_virtual_transactions(v):
    script = decode_address(v["address"], NETWORKS["bitcoin"]).script
    assert bip322_hash(v["message"]).hex() == v["message_hash"]
    assert bip322_to_spend(v["message"], script).txid().hex() == v["to_spend_tx_hash"]
    assert bip322_to_sign(v["message"], script).txid().hex() == v["to_sign_tx_hash"]


def signing_vectors():
    basic, generated = bip322_vectors("basic-test-vectors.json"), bip322_vectors("generated-test-vectors.json")
    for group in (basic["simple"], generated["simple"], generated["full"], generated["proof_of_funds"]):
        for v in group:
            for i, sig in enumerate(v["bip322_signatures"]):
                yield pytest.param(v, sig, id=f"{sig[:3]}-{v['type']}-{i}")


@pytest.mark.parametrize("v, signature", list(signing_vectors()))
def test_bip322_vectors_verify_or_are_unsupported_never_wrongly_verified(v, signature):
    result = check(v["address"], signature, v["message"])
    if v["type"] in CHECKED and not signature.startswith("pof"):
        assert result.ok, result.reason
        other = check(v["address"], signature, v["message"] + "!")
        assert not other.ok and not other.unsupported
    else:
        assert not result.ok and result.unsupported and result.reason.startswith("unsupported: "), result.reason


def error_vectors():
    for name in ("basic-test-vectors.json", "generated-test-vectors.json"):
        for v in bip322_vectors(name)["error"]:
            yield pytest.param(v, id=v["description"][:60])


@pytest.mark.parametrize("v", list(error_vectors()))
def test_bip322_error_vectors_are_refused(v):
    result = check(v["address"], v["signature"], v["message"])
    assert not result.ok, result.reason


def test_the_checked_kinds_cover_p2tr_simple_and_full():
    generated = bip322_vectors("generated-test-vectors.json")
    kinds = {(v["type"], v["bip322_signatures"][0][:3]) for v in generated["simple"] + generated["full"]}
    assert {("p2tr", "smp"), ("p2tr", "ful"), ("p2wpkh", "ful"), ("p2wsh-multisig-2of2", "ful")} <= kinds


# --- our own P2TR keys ------------------------------------------------------------------------------------------
SECRET = bytes(range(1, 33))


def p2tr(secret=SECRET, net="regtest"):
    output_key, _ = taproot_tweak(secret)
    return encode_address(p2tr_script(output_key), NETWORKS[net])


def msg(address, snapshot="2026-06-30", exchange="ExA"):
    return ownership_message(snapshot, exchange, address)


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("sighash_all", [False, True])
def test_p2tr_key_path_simple_and_full_verify(full, sighash_all):
    address = p2tr()
    assert address.startswith("rb1p")
    signature, script = sign_bip322_p2tr(SECRET, msg(address), full=full, sighash_all=sighash_all)
    assert script == decode_address(address, NETWORKS["regtest"]).script and signature[:3] == ("ful" if full else "smp")
    result = check(address, signature, msg(address), REGTEST)
    assert result.ok and "p2tr" in result.reason and ("full" in result.reason) == full


def test_p2tr_full_with_a_time_lock_verifies_and_says_so():
    address = p2tr()
    signature, _ = sign_bip322_p2tr(SECRET, msg(address), full=True, locktime=2016, sequence=7)
    result = check(address, signature, msg(address), REGTEST)
    assert result.ok and "nLockTime 2016" in result.reason and "nSequence 7" in result.reason


def flip(signature: str, byte: int) -> str:
    prefix, raw = signature[:3], bytearray(base64.b64decode(signature[3:]))
    raw[byte] ^= 0x01
    return prefix + base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("full", [False, True])
def test_every_forged_schnorr_proof_is_refused(full):
    address = p2tr()
    signature, _ = sign_bip322_p2tr(SECRET, msg(address), full=full)
    raw_len = len(base64.b64decode(signature[3:]))
    sig_at = 2 if not full else raw_len - 4 - 64  # the 64 signature bytes: after the counts / before locktime
    for byte in (sig_at, sig_at + 31, sig_at + 32, sig_at + 63):
        forged = check(address, flip(signature, byte), msg(address), REGTEST)
        assert not forged.ok and not forged.unsupported, byte
    other_key = p2tr(bytes(range(2, 34)))
    assert not check(other_key, signature, msg(other_key), REGTEST).ok  # proof for another address
    for message in (msg(address, exchange="ExB"), msg(address, snapshot="2026-07-31")):
        assert not check(address, signature, message, REGTEST).ok  # another exchange / period
    other, _ = sign_bip322_p2tr(bytes(range(2, 34)), msg(address), full=full)
    assert "does not verify" in check(address, other, msg(address), REGTEST).reason or full


def test_a_p2tr_proof_never_proves_the_p2wsh_of_the_same_32_bytes():
    address = p2tr()
    program = decode_address(address, NETWORKS["regtest"]).program
    twin = encode_address(witness_script_pubkey(0, program), NETWORKS["regtest"])
    p2tr_decoded, p2wsh_decoded = (decode_address(a, NETWORKS["regtest"]) for a in (address, twin))
    assert p2wsh_decoded.kind == "p2wsh" and p2wsh_decoded.program == p2tr_decoded.program
    assert p2wsh_decoded.script != p2tr_decoded.script and p2tr_decoded.script[:2] == b"\x51\x20"
    signature, _ = sign_bip322_p2tr(SECRET, msg(twin))
    assert not check(twin, signature, msg(twin), REGTEST).ok


def test_bad_sighash_byte_script_path_and_bip137_are_refused():
    address = p2tr()
    good, _ = sign_bip322_p2tr(SECRET, msg(address), sighash_all=True)
    raw = bytearray(base64.b64decode(good[3:]))
    raw[-1] = 0x02  # SIGHASH_NONE: BIP-322 allows only DEFAULT or ALL
    assert "64 bytes" in check(address, "smp" + base64.b64encode(bytes(raw)).decode(), msg(address), REGTEST).reason
    script_path = "smp" + base64.b64encode(bytes([2, 1, 0x51, 33]) + b"\xc0" + b"\x01" * 32).decode()
    result = check(address, script_path, msg(address), REGTEST)
    assert not result.ok and result.unsupported and "script-path" in result.reason
    legacy = sign_bip137(SECRET, msg(address))
    assert "use bip322" in check(address, legacy, msg(address), REGTEST, scheme="bip137").reason


def test_an_output_key_off_the_curve_verifies_nothing():
    bad = encode_address(p2tr_script(b"\xff" * 32), NETWORKS["regtest"])  # x >= p: no such point
    signature, _ = sign_bip322_p2tr(SECRET, msg(bad))
    assert not check(bad, signature, msg(bad), REGTEST).ok


# --- addresses -------------------------------------------------------------------------------------------------
def test_bip350_addresses_decode_to_their_exact_scripts():
    net = NETWORKS["bitcoin"]
    cases = {  # BIP-350's valid vectors on mainnet
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0": (
            "p2tr",
            "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        ),
        "BC1SW50QGDZ25J": ("witness_unknown", "6002751e"),
        "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs": ("witness_unknown", "5210751e76e8199196d454941c45d1b3a323"),
    }
    for address, (kind, script) in cases.items():
        decoded = decode_address(address, net)
        assert (decoded.kind, decoded.script.hex()) == (kind, script)
        assert encode_address(decoded.script, net) == address.lower()


@pytest.mark.parametrize(
    "address, reason",
    [
        ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "bech32m, not bech32"),  # v1 under bech32
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "bech32, not bech32m"),  # v0 under bech32m
        ("bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4", "checksum"),  # bad character
        ("bc1pw5dgrnzv", "length"),  # 1-byte program
        ("bc1P0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "mixed case"),
    ],
)
def test_bip350_invalid_addresses_are_refused(address, reason):
    with pytest.raises(InputError) as err:
        bitcoin.validate_address(address, MAINNET)
    assert reason in err.value.reason


def test_a_future_witness_version_is_a_per_address_finding_not_bad_input():
    address = "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs"
    assert bitcoin.validate_address(address, MAINNET) == address
    result = check(address, sign_bip137(SECRET, msg(address)), msg(address))
    assert not result.ok and result.unsupported and "witness v2" in result.reason
