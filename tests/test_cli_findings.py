"""Issue 13 findings not covered elsewhere, through a subprocess as a user runs them."""

from __future__ import annotations

import json

from fixtures.adversarial.input_cases import CHAINS, SNAPSHOT, WALLET_HEAD, WALLET_ROW
from fixtures.liabilities import run_por_process


def test_reserves_with_csv_wallets_and_no_exchange_says_which_option(tmp_path):
    """`reserves --exchange` was listed optional but is needed for CSV wallets: one line naming it, exit 2,
    before any chain is read; --help says when it is required."""
    (tmp_path / "w.csv").write_text(WALLET_HEAD + WALLET_ROW)
    (tmp_path / "s.json").write_text(json.dumps(SNAPSHOT))
    (tmp_path / "chains.toml").write_text(CHAINS)
    code, out, err = run_por_process(
        "reserves", "w.csv", "--snapshot", "s.json", "--config", "chains.toml", cwd=tmp_path
    )
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert "--exchange" in err
    code, out, _ = run_por_process("reserves", "--help", cwd=tmp_path)
    assert code == 0 and "required unless" in " ".join(out.split())
