// Measures Poseidon over BN254 in the browser at the widths the zk user proofs use (issue 16 item 4):
// a Gate.io proof is about 45 permutations at width 13 and 28 at width 3 (docs/formats/foreign.md).
// Round counts are the fork's (8 full; 65 partial at t=13, 57 at t=3); constants are arbitrary field
// elements (the cost does not depend on them). Bundled by hand, never into the page:
//   node_modules/.bin/esbuild poseidon-bench.js --bundle --format=iife --outfile=/tmp/bench.js
import { bn254 } from "@noble/curves/bn254.js";
import { poseidon } from "@noble/curves/abstract/poseidon.js";

const Fp = bn254.fields.Fr;
const make = (t, roundsPartial) => {
  let x = 7n;
  const next = () => (x = Fp.create(x * 0x9e3779b97f4a7c15n + 12345n));
  const rounds = 8 + roundsPartial;
  return poseidon({ Fp, t, roundsFull: 8, roundsPartial, sboxPower: 5,
    mds: Array.from({ length: t }, (_, i) => Array.from({ length: t }, (_, j) => Fp.inv(Fp.create(BigInt(i + t + j + 1))))),
    roundConstants: Array.from({ length: rounds }, () => Array.from({ length: t }, next)) });
};
const p13 = make(13, 65), p3 = make(3, 57);
globalThis.gateProof = () => {
  const t0 = performance.now();
  let s13 = Array.from({ length: 13 }, (_, i) => BigInt(i));
  for (let i = 0; i < 45; i++) s13 = p13(s13);
  let s3 = [1n, 2n, 3n];
  for (let i = 0; i < 28; i++) s3 = p3(s3);
  return performance.now() - t0;
};
