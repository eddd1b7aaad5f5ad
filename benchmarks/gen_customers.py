"""Large customer files for the benchmarks: long form `account_id,asset,amount`, CSV or Parquet.

Generated column-wise (numpy + pyarrow) in blocks, so 10M accounts take a
minute and little memory. Amounts are exact decimal strings drawn from integer
base units: each account holds each asset with probability 0.6 (at least one),
sizes log-uniform like fixtures/sample.py, fractions written at full width
("1.50000000") as exchange exports are.

    python benchmarks/gen_customers.py OUT.csv --accounts 10000000 --assets 5
    python benchmarks/gen_customers.py OUT.parquet --accounts 10000000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from por.amounts import BUILTIN_DECIMALS  # noqa: E402

ASSETS = ("BTC", "ETH", "USDT", "SOL", "XRP", "DOGE", "USDC", "TRX")
WHOLE_DIGITS = {"BTC": 2, "ETH": 3, "USDT": 6, "USDC": 6, "SOL": 4, "XRP": 6, "DOGE": 7, "TRX": 7}
BLOCK = 1 << 20


def _amounts(rng: np.random.Generator, count: int, decimals: int, whole_digits: int) -> pa.Array:
    whole_max = 10 ** rng.integers(0, whole_digits + 1, count)
    whole = (rng.random(count) * whole_max).astype(np.int64)
    frac = rng.integers(0, 10 ** min(decimals, 18), count, dtype=np.int64)
    whole_text = pc.cast(pa.array(whole), pa.string())
    if decimals == 0:
        return whole_text
    frac_text = pc.utf8_lpad(pc.cast(pa.array(frac), pa.string()), width=min(decimals, 18), padding="0")
    if decimals > 18:
        frac_text = pc.utf8_rpad(frac_text, width=decimals, padding="0")
    return pc.binary_join_element_wise(whole_text, frac_text, ".")


def blocks(accounts: int, asset_count: int, seed: int = 7):
    """Yields pyarrow tables of rows, accounts in order, assets in a fixed order per account."""
    assets = ASSETS[:asset_count]
    rng = np.random.default_rng(seed)
    for start in range(0, accounts, BLOCK):
        n = min(BLOCK, accounts - start)
        held = rng.random((n, asset_count)) < 0.6
        held[~held.any(axis=1), 0] = True
        account_of_row, asset_of_row = np.nonzero(held)  # row-major: per account, asset order
        ids = pc.binary_join_element_wise(
            "user-", pc.utf8_lpad(pc.cast(pa.array(account_of_row + start), pa.string()), width=8, padding="0"), ""
        )
        pieces = []
        for a, symbol in enumerate(assets):
            rows = np.nonzero(asset_of_row == a)[0]
            pieces.append((rows, _amounts(rng, len(rows), BUILTIN_DECIMALS[symbol], WHOLE_DIGITS[symbol])))
        order = np.concatenate([rows for rows, _ in pieces])
        values = pa.concat_arrays([vals for _, vals in pieces])
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        amount = values.take(pa.array(inverse))
        symbols = pa.array(np.array(assets, dtype=object)[asset_of_row], pa.string())
        yield pa.table({"account_id": ids, "asset": symbols, "amount": amount})


def write(path: str | Path, accounts: int, asset_count: int = 5, seed: int = 7) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("account_id", pa.string()), ("asset", pa.string()), ("amount", pa.string())])
    if path.suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            for table in blocks(accounts, asset_count, seed):
                writer.write_table(table, row_group_size=BLOCK)
    else:
        import pyarrow.csv as pacsv

        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        with open(path, "wb") as handle:
            handle.write(b"account_id,asset,amount\n")
            with pacsv.CSVWriter(handle, schema, write_options=options) as writer:
                for table in blocks(accounts, asset_count, seed):
                    writer.write_table(table)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--assets", type=int, default=5, choices=range(1, len(ASSETS) + 1))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(write(args.out, args.accounts, args.assets, args.seed))


if __name__ == "__main__":
    main()
