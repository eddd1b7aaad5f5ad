"""Bitcoin ownership proofs and addresses: every forgery is refused with a reason.

Pure tests (no node): real keys, real signatures, published vectors (BIP-322,
Bitcoin Core's signmessage tests), and bcoin's own regtest prefixes.
"""

import base64

import coincurve
import pytest
from bitcoinlib.encoding import pubkeyhash_to_addr_bech32
from embit import bech32

from chains import bitcoin
from chains.bitcoin_address import NETWORKS, decode_address, encode_address, multisig_script, p2wsh_script
from chains.bitcoin_proofs import sign_bip137, sign_bip322_multisig, sign_bip322_p2wpkh
from chains.records import DeclaredWallet, Scheme, WalletType, ownership_message
from fixtures.bitcoin_wallets import multisig, single
from por.errors import InputError

REGTEST = {"family": "bitcoin", "network": "regtest", "native_asset": "BTC"}
MAINNET = {"family": "bitcoin", "network": "bitcoin", "native_asset": "BTC"}
# BIP-322 "Hello World" / "" vectors and Bitcoin Core's signmessage vectors for the same key.
VECTOR_WIF_SECRET = "L3VFeEujGtevx9w18HD1fhRbCH67Az2dpCymeRE1SoPK6XQtaN2k"
VECTOR_P2WPKH = "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l"
VECTOR_P2PKH = "14vV3aCHBeStb5bkenkNHbe2YAFinYdXgc"
BIP322_HELLO = (
    "AkgwRQIhAOzyynlqt93lOKJr+wmmxIens//zPzl9tqIOua93wO6MAiBi5n5EyAcPScOjf1lAqIUIQtr3zKNeavYabHyR8eGhow"
    "EhAsfxIAMZZEKUPYWI4BruhAQjzFT8FSFSajuFwrDL1Yhy"
)
BIP322_EMPTY = (
    "AkcwRAIgM2gBAQqvZX15ZiysmKmQpDrG83avLIT492QBzLnQIxYCIBaTpOaD20qRlEylyxFSeEA2ba9YOixpX8z46TSDtS40ASEC"
    "x/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI="
)
CORE_HELLO = "IOW2xi+ebJLeBtr674l4QH76dqDoVjLV80R9EFKFQX5rBrlCXPIZaYs8Yuayg0ZqjyiCbLy9pzZIS7JWT65/nsU="
CORE_EMPTY = "H0Gm/ylcjvGmj29D/r6ASHKKWAyGA/MEU/Eh+IhFw3ZxFxy9b/dJ8/XFsiutCV8DWlFGnO95m/KoZwFPJTF1qaM="


def declared(address, scheme, signatures, *, message=None, script=None, snapshot="2026-06-30", exchange="ExA"):
    message = ownership_message(snapshot, exchange, address) if message is None else message
    return DeclaredWallet(
        "btc",
        "BTC",
        address,
        WalletType.COLD,
        Scheme(scheme),
        message,
        tuple(signatures),
        script.hex() if isinstance(script, bytes) else script,
    )


def check(wallet, config=REGTEST, snapshot="2026-06-30", exchange="ExA"):
    return bitcoin.verify_ownership(wallet, ownership_message(snapshot, exchange, wallet.address), config)


def msg(address, snapshot="2026-06-30", exchange="ExA"):
    return ownership_message(snapshot, exchange, address)


# --- published vectors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("message, signature", [("Hello World", BIP322_HELLO), ("", BIP322_EMPTY)])
def test_bip322_published_vectors_verify_and_bind_the_message(message, signature):
    good = bitcoin.verify_ownership(declared(VECTOR_P2WPKH, "bip322", [signature], message=message), message, MAINNET)
    assert good.ok, good.reason
    swapped = "" if message else "Hello World"
    bad = bitcoin.verify_ownership(declared(VECTOR_P2WPKH, "bip322", [signature], message=swapped), swapped, MAINNET)
    assert not bad.ok and "does not verify" in bad.reason


@pytest.mark.parametrize("address", [VECTOR_P2PKH, VECTOR_P2WPKH])
@pytest.mark.parametrize("message, signature", [("Hello World", CORE_HELLO), ("", CORE_EMPTY)])
def test_bitcoin_core_signmessage_vectors_verify(address, message, signature):
    result = bitcoin.verify_ownership(declared(address, "bip137", [signature], message=message), message, MAINNET)
    assert result.ok, result.reason
    other = bitcoin.verify_ownership(
        declared(address, "bip137", [signature], message=message + "!"), message + "!", MAINNET
    )
    assert not other.ok and "another key" in other.reason


# --- single key -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind, scheme, header_kind",
    [
        ("p2pkh", "bip137", "p2pkh"),
        ("p2wpkh", "bip137", "p2wpkh"),
        ("p2wpkh", "bip137", "p2pkh"),
        ("p2wpkh", "bip322", None),
    ],
)
def test_single_key_proofs_verify(kind, scheme, header_kind):
    wallet = single(kind)
    sig = (
        sign_bip322_p2wpkh(wallet.secrets[0], msg(wallet.address))
        if header_kind is None
        else sign_bip137(wallet.secrets[0], msg(wallet.address), header_kind)
    )
    result = check(declared(wallet.address, scheme, [sig]))
    assert result.ok, result.reason


def test_p2sh_p2wpkh_bip137_verifies_by_deriving_the_wrapped_script():
    secret = single("p2wpkh").secrets[0]
    pub = coincurve.PrivateKey(secret).public_key.format()
    from chains.bitcoin_address import hash160, p2sh_script, p2wpkh_script

    address = encode_address(p2sh_script(hash160(p2wpkh_script(hash160(pub)))), NETWORKS["regtest"])
    assert check(declared(address, "bip137", [sign_bip137(secret, msg(address), "p2sh-p2wpkh")])).ok


@pytest.mark.parametrize("kind, scheme", [("p2pkh", "bip137"), ("p2wpkh", "bip137"), ("p2wpkh", "bip322")])
def test_signature_by_another_key_fails(kind, scheme):
    wallet, thief = single(kind), single(kind)
    sig = (
        sign_bip322_p2wpkh(thief.secrets[0], msg(wallet.address))
        if scheme == "bip322"
        else sign_bip137(thief.secrets[0], msg(wallet.address), kind)
    )
    result = check(declared(wallet.address, scheme, [sig]))
    assert not result.ok and "another key" in result.reason


@pytest.mark.parametrize("snapshot, exchange", [("2026-06-30", "ExB"), ("2026-03-31", "ExA")])
@pytest.mark.parametrize("scheme", ["bip137", "bip322"])
def test_signature_for_another_exchange_or_snapshot_fails(snapshot, exchange, scheme):
    wallet = single("p2wpkh")
    replayed = msg(wallet.address, snapshot, exchange)
    sig = (
        sign_bip322_p2wpkh(wallet.secrets[0], replayed)
        if scheme == "bip322"
        else sign_bip137(wallet.secrets[0], replayed, "p2wpkh")
    )
    honest_text = check(declared(wallet.address, scheme, [sig], message=replayed))
    assert not honest_text.ok and "is not the expected" in honest_text.reason
    # The row claims the right text but the signature is over the old one.
    lying_text = check(declared(wallet.address, scheme, [sig]))
    assert not lying_text.ok and ("does not verify" in lying_text.reason or "another key" in lying_text.reason)


def test_signature_for_another_address_of_the_same_exchange_fails():
    wallet, other = single("p2wpkh"), single("p2wpkh")
    sig = sign_bip137(wallet.secrets[0], msg(other.address), "p2wpkh")
    assert not check(declared(wallet.address, "bip137", [sig], message=msg(other.address))).ok


def test_bip137_header_that_contradicts_the_address_fails():
    wallet = single("p2wpkh")
    result = check(
        declared(
            wallet.address, "bip137", [sign_bip137(wallet.secrets[0], msg(wallet.address), "p2pkh", compressed=False)]
        )
    )
    assert not result.ok and "uncompressed" in result.reason


@pytest.mark.parametrize(
    "signature, reason",
    [
        ("not base64!", "not base64"),
        (base64.b64encode(b"\x1f" * 64).decode(), "65 bytes"),
        (base64.b64encode(b"\x2b" + b"\x01" * 64).decode(), "header byte"),
    ],
)
def test_malformed_bip137_signature_is_a_reason_not_a_crash(signature, reason):
    wallet = single("p2pkh")
    result = check(declared(wallet.address, "bip137", [signature]))
    assert not result.ok and reason in result.reason


def test_single_key_address_with_a_script_or_two_signatures_fails():
    wallet = single("p2wpkh")
    sig = sign_bip322_p2wpkh(wallet.secrets[0], msg(wallet.address))
    assert "only for multisig" in check(declared(wallet.address, "bip322", [sig], script="51")).reason
    assert "one signature" in check(declared(wallet.address, "bip322", [sig, sig])).reason
    assert "does not apply to Bitcoin" in check(declared(wallet.address, "eip191", [sig])).reason


# --- multisig ------------------------------------------------------------------------------------------------------
def bip137_sigs(wallet, secrets, message):
    return [sign_bip137(s, message, "p2pkh") for s in secrets]


@pytest.mark.parametrize("kind", ["p2sh", "p2wsh"])
def test_multisig_bip137_meets_threshold_with_distinct_keys(kind):
    wallet = multisig(kind)
    for chosen in ([0, 1], [2, 0], [0, 1, 2]):
        sigs = bip137_sigs(wallet, [wallet.secrets[i] for i in chosen], msg(wallet.address))
        result = check(declared(wallet.address, "bip137", sigs, script=wallet.script))
        assert result.ok, result.reason


@pytest.mark.parametrize("kind", ["p2sh", "p2wsh"])
def test_multisig_below_threshold_or_same_key_twice_fails(kind):
    wallet = multisig(kind)
    one = bip137_sigs(wallet, wallet.secrets[:1], msg(wallet.address))
    result = check(declared(wallet.address, "bip137", one, script=wallet.script))
    assert not result.ok and "1 distinct key(s) of the 2-of-3 script signed, 2 needed" in result.reason
    twice = one + bip137_sigs(wallet, wallet.secrets[:1], msg(wallet.address))
    result = check(declared(wallet.address, "bip137", twice, script=wallet.script))
    assert not result.ok and "1 distinct key(s)" in result.reason


@pytest.mark.parametrize("kind", ["p2sh", "p2wsh"])
def test_multisig_script_that_does_not_hash_to_the_address_fails(kind):
    wallet, other = multisig(kind), multisig(kind)
    sigs = bip137_sigs(other, other.secrets[:2], msg(wallet.address))
    result = check(declared(wallet.address, "bip137", sigs, script=other.script))
    assert not result.ok and "does not hash to the address" in result.reason


@pytest.mark.parametrize("kind", ["p2sh", "p2wsh"])
def test_multisig_with_an_outsider_signature_or_missing_script_fails(kind):
    wallet, outsider = multisig(kind), single("p2pkh")
    sigs = bip137_sigs(wallet, [wallet.secrets[0], outsider.secrets[0]], msg(wallet.address))
    result = check(declared(wallet.address, "bip137", sigs, script=wallet.script))
    assert not result.ok and "not in the script" in result.reason
    if kind == "p2wsh":
        result = check(declared(wallet.address, "bip137", sigs[:1]))
        assert not result.ok and "script" in result.reason


def test_script_that_hashes_but_is_not_multisig_fails():
    script = bytes([0x51])  # OP_TRUE: anyone can spend, proves nothing
    address = encode_address(p2wsh_script(script), NETWORKS["regtest"])
    result = check(declared(address, "bip137", [sign_bip137(single("p2pkh").secrets[0], msg(address))], script=script))
    assert not result.ok and "CHECKMULTISIG" in result.reason


@pytest.mark.parametrize("full", [True, False])
def test_p2wsh_bip322_multisig_verifies(full):
    wallet = multisig("p2wsh")
    sigs = sign_bip322_multisig(wallet.secrets[1:], msg(wallet.address), wallet.script, full=full)
    result = check(declared(wallet.address, "bip322", sigs, script=wallet.script))
    assert result.ok, result.reason


def test_p2wsh_bip322_multisig_forgeries_fail():
    wallet, other = multisig("p2wsh"), multisig("p2wsh")
    m = msg(wallet.address)
    below = sign_bip322_multisig(wallet.secrets[:1], m, wallet.script, full=False)
    assert "1 distinct key(s)" in check(declared(wallet.address, "bip322", below, script=wallet.script)).reason
    twice = below + sign_bip322_multisig(wallet.secrets[:1], m, wallet.script, full=False)
    assert "1 distinct key(s)" in check(declared(wallet.address, "bip322", twice, script=wallet.script)).reason
    replay = sign_bip322_multisig(wallet.secrets[:2], msg(wallet.address, exchange="ExB"), wallet.script)
    assert not check(declared(wallet.address, "bip322", replay, script=wallet.script)).ok
    foreign = sign_bip322_multisig(other.secrets[:2], m, other.script)
    assert "does not hash" in check(declared(wallet.address, "bip322", foreign)).reason
    # A full witness whose script differs from the declared one.
    assert "not the declared script" in check(declared(wallet.address, "bip322", foreign, script=wallet.script)).reason


def test_p2wsh_bip322_witness_with_signatures_out_of_key_order_fails():
    wallet = multisig("p2wsh")
    (witness,) = sign_bip322_multisig(wallet.secrets[:2], msg(wallet.address), wallet.script)
    from chains.bitcoin_proofs import decode_witness, encode_witness

    stack = decode_witness(base64.b64decode(witness))
    swapped = base64.b64encode(encode_witness([stack[0], stack[2], stack[1], stack[3]])).decode()
    result = check(declared(wallet.address, "bip322", [swapped], script=wallet.script))
    assert not result.ok and "in order" in result.reason


def test_bip322_for_p2sh_multisig_is_unsupported_with_a_reason():
    wallet = multisig("p2sh")
    sigs = bip137_sigs(wallet, wallet.secrets[:2], msg(wallet.address))
    result = check(declared(wallet.address, "bip322", sigs, script=wallet.script))
    assert not result.ok and result.unsupported and "sign it with bip137" in result.reason


@pytest.mark.parametrize("kind, header_kind", [("p2pkh", "p2pkh"), ("p2wpkh", "p2wpkh"), ("p2wpkh", "p2pkh")])
def test_a_bip137_signature_under_the_bip322_label_is_refused(kind, header_kind):
    """The label says which encoding the signature is: a signmessage signature is never read as BIP-322."""
    wallet = single(kind)
    sig = sign_bip137(wallet.secrets[0], msg(wallet.address), header_kind)
    assert check(declared(wallet.address, "bip137", [sig])).ok
    result = check(declared(wallet.address, "bip322", [sig]))
    assert not result.ok and not result.unsupported and "declare it as bip137" in result.reason


def test_uncompressed_multisig_keys_match_only_as_serialised_in_the_script():
    secrets = [single("p2pkh").secrets[0] for _ in range(2)]
    pubs = [coincurve.PrivateKey(s).public_key.format(compressed=False) for s in secrets]
    script = multisig_script(2, pubs)
    from chains.bitcoin_address import hash160, p2sh_script

    address = encode_address(p2sh_script(hash160(script)), NETWORKS["regtest"])
    good = [sign_bip137(s, msg(address), "p2pkh", compressed=False) for s in secrets]
    assert check(declared(address, "bip137", good, script=script)).ok
    compressed = [sign_bip137(s, msg(address), "p2pkh") for s in secrets]
    assert "not in the script" in check(declared(address, "bip137", compressed, script=script)).reason


# --- addresses -----------------------------------------------------------------------------------------------------
def test_bcoin_regtest_prefixes_round_trip():
    for kind in ("p2pkh", "p2wpkh"):
        wallet = single(kind)
        assert bitcoin.validate_address(wallet.address, REGTEST) == wallet.address
    for kind in ("p2sh", "p2wsh"):
        wallet = multisig(kind)
        decoded = decode_address(wallet.address, NETWORKS["regtest"])
        assert decoded.kind == kind and decoded.script == wallet.output_script
    assert single("p2pkh").address[0] == "R" and single("p2wpkh").address.startswith("rb1q")
    assert bitcoin.validate_address(single("p2wpkh").address.upper(), REGTEST).startswith("rb1q")


@pytest.mark.parametrize(
    "address, reason",
    [
        (VECTOR_P2WPKH, "another network"),
        (VECTOR_P2PKH, "of bitcoin, not of regtest"),
        (pubkeyhash_to_addr_bech32(b"\x07" * 20, prefix="bcrt"), "neither"),  # Bitcoin Core's regtest, not bcoin's
        (
            bech32.bech32_encode(bech32.Encoding.BECH32, "rb", [1] + bech32.convertbits(b"\x07" * 32, 8, 5)),
            "bech32m, not bech32",
        ),  # witness v1 under bech32's checksum
        ("rb1qxyz", "invalid bech32"),
        ("hello", "neither"),
    ],
)
def test_invalid_or_foreign_addresses_are_refused(address, reason):
    with pytest.raises(InputError) as err:
        bitcoin.validate_address(address, REGTEST)
    assert err.value.field == "address" and reason in err.value.reason


def test_bad_checksums_are_refused():
    good = single("p2pkh").address
    bad = good[:-1] + ("1" if good[-1] != "1" else "2")
    with pytest.raises(InputError, match="checksum|base58"):
        bitcoin.validate_address(bad, REGTEST)
    seg = single("p2wpkh").address
    with pytest.raises(InputError, match="bech32"):
        bitcoin.validate_address(seg[:-1] + ("q" if seg[-1] != "q" else "p"), REGTEST)


def test_balance_query_carries_the_exact_script_and_refuses_other_assets():
    wallet = multisig("p2wsh")
    query = bitcoin.balance_query(declared(wallet.address, "bip137", ["x"]), REGTEST)
    assert query.script == wallet.output_script.hex() and query.token is None
    other = DeclaredWallet("btc", "USDT", wallet.address, WalletType.COLD, Scheme.BIP137, "m", ("x",))
    with pytest.raises(InputError) as err:
        bitcoin.balance_query(other, REGTEST)
    assert err.value.field == "asset"


def test_unknown_network_is_a_config_error():
    with pytest.raises(InputError) as err:
        bitcoin.validate_address(VECTOR_P2WPKH, {"network": "litecoin"})
    assert err.value.field == "network"
