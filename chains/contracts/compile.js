// Compiles PorAnchorRegistry.sol with the pinned npm `solc` (solc-js, offline) and prints the JSON
// committed beside it (PorAnchorRegistry.json). tests/test_anchor.py recompiles and compares.
// Usage: node chains/contracts/compile.js > chains/contracts/PorAnchorRegistry.json
"use strict";
const fs = require("fs");
const path = require("path");

const here = __dirname;
const solc = require(path.join(here, "..", "..", "fixtures", "node", "node_modules", "solc"));
const file = "PorAnchorRegistry.sol";
const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};
const input = { language: "Solidity", sources: { [file]: { content: fs.readFileSync(path.join(here, file), "utf8") } },
                settings };
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  for (const e of errors) process.stderr.write(e.formattedMessage + "\n");
  process.exit(1);
}
const c = output.contracts[file].PorAnchorRegistry;
process.stdout.write(JSON.stringify({
  contract: "PorAnchorRegistry", source: file, solc: solc.version(), settings: { optimizer: settings.optimizer,
                                                                                  evmVersion: settings.evmVersion },
  abi: c.abi, bytecode: "0x" + c.evm.bytecode.object, deployedBytecode: "0x" + c.evm.deployedBytecode.object,
}, null, 1) + "\n");
