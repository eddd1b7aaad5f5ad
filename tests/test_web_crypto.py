"""The verifier page's Keccak-256 and secp256k1 recovery: the audited noble libraries, built in.

web-src/ holds the npm project (package.json, package-lock.json, crypto.js, build.mjs) that
bundles @noble/hashes and @noble/curves with esbuild into por/web/verifier.html, which is
committed, so `pip install` needs no Node. Here: a fresh build from the lockfile equals the
committed page, and the bundled primitives give known answers in Chromium, against
pycryptodome's Keccak and eth_keys' recovery, on random and edge-case inputs.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from Crypto.Hash import keccak
from eth_keys import keys
from eth_keys.exceptions import BadSignature, ValidationError

REPO = Path(__file__).resolve().parents[1]
WEB_SRC = REPO / "web-src"
PAGE = REPO / "por" / "web" / "verifier.html"
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P = 2**256 - 2**32 - 977


def keccak_hex(data: bytes) -> str:
    return keccak.new(digest_bits=256, data=data).hexdigest()


def test_the_committed_page_is_a_fresh_build_of_the_pinned_lockfile():
    """npm ci (from package-lock.json) and esbuild reproduce the bundle in the committed page byte for byte."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are needed to rebuild the page (`make test` has them)"
    lock = json.loads((WEB_SRC / "package-lock.json").read_text())
    pinned = {name.removeprefix("node_modules/"): entry["version"] for name, entry in lock["packages"].items() if name}
    assert pinned["@noble/curves"].startswith("2.") and pinned["@noble/hashes"].startswith("2.")
    assert pinned["esbuild"].startswith("0.28.")
    installed = WEB_SRC / "node_modules" / ".package-lock.json"
    if (
        not installed.exists()
        or json.loads(installed.read_text()).get("packages", {}).get("node_modules/@noble/curves", {}).get("version")
        != pinned["@noble/curves"]
    ):
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=WEB_SRC,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
    done = subprocess.run([node, "build.mjs", "--check"], cwd=WEB_SRC, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    text = PAGE.read_text()
    banner = f"@noble/hashes {pinned['@noble/hashes']} and @noble/curves {pinned['@noble/curves']}"
    assert banner in text and f"esbuild {pinned['esbuild']}" in text
    assert "function keccak256(data)" not in text and "jDouble" not in text  # no hand-written crypto left


@pytest.fixture(scope="module")
def page(chromium):
    context = chromium.new_context()
    view = context.new_page()
    errors: list[str] = []
    view.on("pageerror", lambda error: errors.append(str(error)))
    view.goto(PAGE.as_uri())
    yield view
    assert not errors, errors
    context.close()


def test_keccak_known_answers_across_the_rate_boundary(page):
    rng = random.Random(15)
    messages = [b"", b"abc", b"\x19Ethereum Signed Message:\n64" + b"a" * 64]
    messages += [rng.randbytes(n) for n in (1, 31, 32, 135, 136, 137, 271, 272, 273, 1000, 5000)]
    got = page.evaluate(
        "(hexes) => hexes.map((h) => window.porVerifier.crypto.keccak256(h))", [m.hex() for m in messages]
    )
    assert got == [keccak_hex(m) for m in messages]
    assert got[0] == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert got[1] == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"


def reference_address(digest: bytes, r: int, s: int, recid: int) -> str | None:
    try:
        key = keys.Signature(vrs=(recid, r, s)).recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValidationError):
        return None
    return key.to_address()


def recover_all(page, cases):
    return page.evaluate(
        "(cases) => cases.map(([d, r, s, v]) => window.porVerifier.crypto.recoverAddress(d, r, s, v))",
        [[d.hex(), str(r), str(s), v] for d, r, s, v in cases],
    )


def test_recovery_finds_the_signer_of_honest_signatures(page):
    rng = random.Random(1)
    cases, want = [], []
    for _ in range(40):
        key = keys.PrivateKey(rng.randbytes(32))
        digest = rng.randbytes(32)
        sig = key.sign_msg_hash(digest)
        cases.append((digest, sig.r, sig.s, sig.v))
        want.append(key.public_key.to_address())
        cases.append((digest, sig.r, sig.s, 1 - sig.v))  # the other bit: another key (or none)
        want.append(reference_address(digest, sig.r, sig.s, 1 - sig.v))
    got = recover_all(page, cases)
    assert got == want
    assert all(g != w for g, w in zip(got[1::2], want[::2]))


def test_recovery_agrees_with_eth_keys_on_edge_cases_and_random_values(page):
    """Wycheproof-style: r and s at and beyond the bounds, x not on the curve, r >= p, random (r, s)."""
    rng = random.Random(2)
    digest = rng.randbytes(32)
    key = keys.PrivateKey(rng.randbytes(32))
    honest = key.sign_msg_hash(digest)
    edges = [0, 1, 2, N - 1, N, N + 1, P - 1, P, 2**256 - 1]
    cases = [(digest, r, honest.s, honest.v) for r in edges] + [(digest, honest.r, s, honest.v) for s in edges]
    cases += [(digest, honest.r, N - honest.s, 1 - honest.v)]  # the high-s twin recovers the same key
    cases += [(bytes(32), honest.r, honest.s, honest.v), (b"\xff" * 32, honest.r, honest.s, honest.v)]
    cases += [(rng.randbytes(32), rng.randrange(1, N), rng.randrange(1, N), rng.randrange(2)) for _ in range(60)]
    cases = [c for c in cases if c[1] < 2**256 and c[2] < 2**256]
    want = [reference_address(*c) if 0 < c[1] < N and 0 < c[2] < N else None for c in cases]
    got = recover_all(page, cases)
    assert got == want
    assert got[len(edges) * 2] == key.public_key.to_address().lower()
    assert sum(w is None for w in want) >= 10 and sum(w is not None for w in want) >= 20
