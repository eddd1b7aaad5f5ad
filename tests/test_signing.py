"""Signed commitments: what exactly is signed, and every way a signature must fail."""

from __future__ import annotations

import copy
import json

import pytest
from eth_account import Account

from chains.eip191 import recover_text_signer
from fixtures.signatures import high_s, high_s_twin
from por import signing
from por.errors import InputError

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
OTHER = bytes.fromhex("11" * 32)
ADDRESS = Account.from_key(KEY).address.lower()


def commitment_doc() -> dict:
    return {
        "format": "por-commitment",
        "version": 1,
        "exchange": "Exchange ü",
        "snapshot_id": "2026-01",
        "snapshot_time": "2026-01-31T00:00:00Z",
        "hash": "sha256",
        "root": "ab" * 32,
        "height": 3,
        "leaf_count": 5,
        "assets": [{"symbol": "BTC", "decimals": 8}],
        "totals": {"BTC": "1.5"},
        "previous": {"snapshot_id": "2025-12", "sha256": "cd" * 32},
    }


def signed_doc(key: bytes = KEY) -> dict:
    doc = commitment_doc()
    doc["signature"] = signing.sign(doc, key)
    return json.loads(json.dumps(doc))  # as a verifier reads it back


def test_canonical_bytes_are_sorted_compact_ascii_and_leave_out_the_signature():
    doc = signed_doc()
    raw = signing.canonical_bytes(doc)
    assert b"signature" not in raw
    assert raw.startswith(b'{"assets":[{"decimals":8,"symbol":"BTC"}],"exchange":"Exchange \\u00fc"')
    assert b" " not in raw.replace(b"Exchange ", b"")
    assert raw == signing.canonical_bytes(json.loads(json.dumps(doc, indent=4, sort_keys=False)))


def test_floats_cannot_be_signed():
    doc = commitment_doc()
    doc["height"] = 3.0
    with pytest.raises(InputError, match="float"):
        signing.canonical_bytes(doc)


def test_a_signature_verifies_only_against_its_own_pinned_key():
    doc = signed_doc()
    assert doc["signature"]["signer"].lower() == ADDRESS
    assert doc["signature"]["digest"] == signing.digest_hex(doc)
    assert signing.check(doc, ADDRESS, recover_text_signer).state == "verified"
    other = Account.from_key(OTHER).address.lower()
    result = signing.check(doc, other, recover_text_signer)
    assert result.failed and f"signed by {ADDRESS}, not by the pinned key {other}" in result.text


def test_a_commitment_signed_by_another_key_is_rejected_even_if_it_names_the_pinned_signer():
    doc = signed_doc(OTHER)
    doc["signature"]["signer"] = Account.from_key(KEY).address  # claims to be the exchange
    result = signing.check(doc, ADDRESS, recover_text_signer)
    assert result.failed and "not by the signer it names" in result.text


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["totals"].__setitem__("BTC", "1.6"),
        lambda d: d.__setitem__("root", "ac" + "ab" * 31),
        lambda d: d["previous"].__setitem__("sha256", "ce" + "cd" * 31),
        lambda d: d.__setitem__("note", "added later"),
        lambda d: d.pop("previous"),
    ],
)
def test_any_change_after_signing_is_caught(edit):
    doc = signed_doc()
    edit(doc)
    result = signing.check(doc, ADDRESS, recover_text_signer)
    assert result.failed and "changed after it was signed" in result.text


@pytest.mark.parametrize(
    "field, value, expect",
    [
        ("value", lambda v: v[:10] + ("0" if v[10] != "0" else "1") + v[11:], "the signature was made by 0x"),
        ("value", lambda v: v[:-2] + "1d", "does not recover"),
        ("value", lambda v: v[:-2], "value: expected"),
        ("value", lambda v: v.upper().replace("0X", "0x"), "value: expected"),
        ("digest", lambda v: "0" * 64, "changed after it was signed"),
        ("scheme", lambda v: "ed25519", "scheme: unsupported"),
        ("signer", lambda v: "me", "signer: expected"),
    ],
)
def test_a_damaged_signature_fails(field, value, expect):
    doc = signed_doc()
    doc["signature"][field] = value(doc["signature"][field])
    result = signing.check(doc, ADDRESS, recover_text_signer)
    assert result.failed and expect in result.text, result.text


def test_no_key_pinned_says_so_and_unsigned_with_a_key_pinned_fails():
    doc = signed_doc()
    result = signing.check(doc, None, recover_text_signer)
    assert result.state == "not-checked" and result.text.startswith("not checked (no key pinned)")
    assert signing.check(commitment_doc(), None, recover_text_signer).text == "not checked (no key pinned)"
    assert (
        signing.check(commitment_doc(), ADDRESS, recover_text_signer).text
        == "the commitment is not signed, but a signing key is pinned"
    )
    stray = copy.deepcopy(doc)
    stray["signature"]["extra"] = 1
    assert "extra: unknown field" in signing.check(stray, ADDRESS, recover_text_signer).text


def test_pinned_addresses_and_key_files(tmp_path):
    checksummed = Account.from_key(KEY).address
    assert signing.normalise_address(checksummed) == ADDRESS
    assert signing.normalise_address(ADDRESS.upper().replace("0X", "0x")) == ADDRESS
    at = next(i for i, c in enumerate(checksummed) if i > 1 and c.isalpha())
    typo = checksummed[:at] + checksummed[at].swapcase() + checksummed[at + 1 :]  # one letter's case
    with pytest.raises(InputError, match="EIP-55"):
        signing.normalise_address(typo)
    with pytest.raises(InputError, match="20-byte"):
        signing.normalise_address("0x1234")
    good = tmp_path / "key"
    good.write_text("0x" + KEY.hex() + "\n")
    assert signing.load_private_key(good) == KEY
    bad = tmp_path / "bad"
    bad.write_text("secret-words that are not a key")
    with pytest.raises(InputError) as info:
        signing.load_private_key(bad)
    assert "secret" not in str(info.value)  # never echo what might be key material
    zero = tmp_path / "zero"
    zero.write_text("00" * 32)
    with pytest.raises(InputError, match="out of range"):
        signing.load_private_key(zero)


def test_a_high_s_twin_of_a_signature_is_refused_though_it_recovers_the_same_key():
    from eth_account.messages import encode_defunct

    doc = signed_doc()
    twin = high_s_twin(doc)
    value = bytes.fromhex(twin["signature"]["value"][2:])
    message = encode_defunct(text=doc["signature"]["digest"])
    assert Account.recover_message(message, signature=value).lower() == ADDRESS  # a real second spelling
    result = signing.check(twin, ADDRESS, recover_text_signer)
    assert result.failed and "upper half of the curve order (EIP-2" in result.text, result.text
    assert signing.check(doc, ADDRESS, recover_text_signer).state == "verified"


@pytest.mark.parametrize("seed", range(40))
def test_sign_always_writes_the_low_s_spelling(seed):
    doc = commitment_doc()
    doc["snapshot_id"] = f"2026-{seed}"
    value = bytes.fromhex(signing.sign(doc, KEY)["value"][2:])
    assert int.from_bytes(value[32:64], "big") <= signing.CURVE_ORDER // 2
    assert signing.low_s(high_s(value)) == value


@pytest.mark.parametrize(
    "r, s, words",
    [
        (0, 1, "r or s outside"),
        (1, 0, "r or s outside"),
        (signing.CURVE_ORDER, 1, "r or s outside"),
        (1, signing.CURVE_ORDER - 1, "upper half"),
    ],
)
def test_out_of_range_r_and_s_are_malformed(r, s, words):
    doc = signed_doc()
    doc["signature"]["value"] = "0x" + (r.to_bytes(32, "big") + s.to_bytes(32, "big") + b"\x1b").hex()
    result = signing.check(doc, ADDRESS, recover_text_signer)
    assert result.failed and words in result.text, result.text
