// The only cryptography the verifier page does not get from the browser: Keccak-256 and
// secp256k1 public-key recovery, used to check a commitment's signature against a pinned key,
// and Keccak-256 / BLAKE2s-256 for OKX's zk-STARK era user files.
// Both come from Paul Miller's audited noble libraries (MIT); esbuild bundles this file into
// por/web/verifier.html (node web-src/build.mjs), so the page stays one offline file.
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { blake2s } from "@noble/hashes/blake2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";

/** Keccak-256 (Ethereum's pre-NIST padding) of bytes. */
export const keccak256 = (bytes) => keccak_256(bytes);

/** BLAKE2s-256 of bytes (OKX's unmerged PR-22 variant of its zk-STARK files). */
export const blake2s256 = (bytes) => blake2s(bytes);

/** The curve order n. */
export const CURVE_N = secp256k1.Point.CURVE().n;

/**
 * The uncompressed public key (65 bytes, 0x04 || x || y) that signed the 32-byte `digest` with
 * (r, s) and recovery bit `recid` (0 or 1), or null when no key recovers. Any s in 1..n-1 is
 * recovered here: the page refuses high s itself (EIP-2) before it asks.
 */
export function recoverPublicKey(digest, r, s, recid) {
  if (!(digest instanceof Uint8Array) || digest.length !== 32 || (recid !== 0 && recid !== 1)) return null;
  try {
    return new secp256k1.Signature(r, s, recid).recoverPublicKey(digest).toBytes(false);
  } catch (e) {
    return null;
  }
}
