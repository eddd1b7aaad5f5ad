"""A zk audit's proof table (`proof.csv`) and asset list (`cex_config.json` / `config.json`).

Each row is one batch of accounts: the account-tree root before and after it, the exchange's
asset-list commitment before and after it, and a Groth16 proof whose one public input is
batch_commitment = Poseidon(root before, root after, assets before, assets after)
(gateio/proof-of-reserves @87db18d `src/verifier/service.go` L31-186; binance/zkmerkle-proof-of-solvency
@c1884aa; huobiapi/Tool-Go-MerkleVerify `merkle_groth16/src/verifier`). Checked here: every
commitment, the chain (each batch starts where the previous ended), batch 0 starting from the
empty tree of the audit's asset count (found, never assumed), and with the asset list, the
first and last asset commitments. The Groth16 proofs need the exchange's verifying key, which
none of them publishes: they are reported "not checked".
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from por.errors import InputError
from por.liabilities.foreign.common import read_json
from por.liabilities.foreign.zk.poseidon import P, poseidon
from por.liabilities.foreign.zk.user import DEPTH, HISTORY, U64, prefix_commitments
from por.strictjson import Fields

__all__ = ["Batch", "AssetList", "read_table", "read_asset_list", "empty_root", "check_table", "HEADER"]

HEADER = [
    "id",
    "created_at",
    "updated_at",
    "deleted_at",
    "proof_info",
    "cex_asset_list_commitments",
    "account_tree_roots",
    "batch_commitment",
    "batch_number",
]
MAX_TABLE_BYTES = 64 * 1024 * 1024
SCAN_LIMIT = 1000  # asset counts scanned when no count an exchange used fits


@dataclass(frozen=True)
class Batch:
    line: int
    number: int
    roots: tuple[int, int]  # account tree before, after
    assets: tuple[int, int]  # asset-list commitment before, after
    commitment: int
    proof: bytes  # Groth16, 256 bytes (gnark's raw encoding)


@dataclass(frozen=True)
class AssetList:
    source: str
    layout: str  # "gate" (equity, debt, price) or "htx" (balance)
    assets: dict[int, tuple[int, ...]]
    symbols: dict[int, str]


def _element(text: str, where: str, source: str, line: int) -> int:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32 or int.from_bytes(raw, "big") >= P:
        raise InputError(f"{where}: expected a field element as 32 bytes in base64", file=source, line=line)
    return int.from_bytes(raw, "big")


def _pair(text: str, where: str, source: str, line: int) -> tuple[int, int]:
    try:
        items = json.loads(text)
    except ValueError:
        items = None
    if not isinstance(items, list) or len(items) != 2 or not all(isinstance(x, str) for x in items):
        raise InputError(f"{where}: expected a JSON list of two base64 elements", file=source, line=line)
    return _element(items[0], where, source, line), _element(items[1], where, source, line)


def read_table(path: Path) -> list[Batch]:
    source = str(path)
    try:
        data = path.read_bytes()[: MAX_TABLE_BYTES + 1]
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=source) from None
    if len(data) > MAX_TABLE_BYTES:
        raise InputError("over 64 MiB: not a proof table", file=source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=source) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise InputError("empty proof table", file=source, line=1) from None
    if header != HEADER:
        extra = (
            " (Binance's 2024 table, one root per audit: not read by this por)" if "min_account_index" in header else ""
        )
        raise InputError(f"expected the columns {','.join(HEADER)}{extra}", file=source, line=1)
    batches = []
    try:
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(HEADER):
                raise InputError(f"{len(row)} columns, the header has {len(HEADER)}", file=source, line=line)
            cells = dict(zip(HEADER, row))
            if not cells["batch_number"].isdigit():
                raise InputError("batch_number: not a number", file=source, line=line)
            try:
                proof = base64.b64decode(cells["proof_info"], validate=True)
            except (binascii.Error, ValueError):
                proof = b""
            if len(proof) != 256:
                raise InputError("proof_info: expected a 256-byte Groth16 proof in base64", file=source, line=line)
            batches.append(
                Batch(
                    line=line,
                    number=int(cells["batch_number"]),
                    roots=_pair(cells["account_tree_roots"], "account_tree_roots", source, line),
                    assets=_pair(cells["cex_asset_list_commitments"], "cex_asset_list_commitments", source, line),
                    commitment=_element(cells["batch_commitment"], "batch_commitment", source, line),
                    proof=proof,
                )
            )
    except csv.Error as exc:
        raise InputError(f"not CSV: {exc}", file=source) from None
    if not batches:
        raise InputError("no batches", file=source)
    return batches


def read_asset_list(path: Path) -> AssetList:
    source = str(path)
    try:
        raw = path.read_bytes()[:MAX_TABLE_BYTES]
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=source) from None
    f = Fields(read_json(raw, source), source)
    infos = f.objects("CexAssetsInfo", max_items=100_000)
    layout = "htx" if infos and "TotalBalance" in infos[0].data else "gate"
    assets: dict[int, tuple[int, ...]] = {}
    symbols: dict[int, str] = {}
    for a in infos:
        a.only(
            "Symbol", "Index", *(("TotalBalance",) if layout == "htx" else ("TotalEquity", "TotalDebt", "BasePrice"))
        )
        index = a.int("Index", maximum=100_000)
        if index in assets:
            raise a.error("Index", f"index {index} listed twice")
        if layout == "htx":
            balance = a.get("TotalBalance", int)
            if not -(2**63) <= balance < 2**63:
                raise a.error("TotalBalance", "outside int64")
            assets[index] = (balance,)
        else:
            assets[index] = tuple(a.int(k, maximum=U64 - 1) for k in ("TotalEquity", "TotalDebt", "BasePrice"))
        symbols[index] = a.str("Symbol", max_len=64)
    return AssetList(source=source, layout=layout, assets=assets, symbols=symbols)


def asset_elements(assets: AssetList, count: int, *, zero_totals: bool = False) -> list[int]:
    """The elements the exchange's asset-list commitment hashes, padded to `count` assets."""
    out = [0] * count
    for index, values in assets.assets.items():
        if index >= count:
            continue
        if assets.layout == "htx":
            out[index] = 0 if zero_totals else abs(values[0])
        else:
            equity, debt, price = values
            out[index] = price if zero_totals else equity * 2**128 + debt * 2**64 + price
    return out


def user_elements(layout: str, count: int) -> int:
    """How many elements an empty account's asset commitment has, for `count` assets."""
    return count if layout == "htx" else -(-2 * count // 3)


def empty_root(fmt: str, count: int) -> int:
    """The root of an account tree of depth 28 with no account, for an audit of `count` assets."""
    layout = "htx" if fmt == "htx-zk" else "v1"
    node = poseidon(0, 0, 0, poseidon(*[0] * user_elements(layout, count)))
    for _ in range(DEPTH):
        node = poseidon(node, node)
    return node


def _count_from_assets(
    batches: list[Batch], fmt: str, assets: AssetList | None, scan: bool = True
) -> tuple[int | None, str]:
    """The asset count the first batch's "before" asset commitment was made with, if it shows:
    the counts the exchange used first, then every count up to SCAN_LIMIT."""
    first = batches[0].assets[0]
    if fmt == "htx-zk":
        elements, how = [0] * SCAN_LIMIT, "batch 0's asset commitment before = Poseidon of that many zeros"
        least = 1
    elif assets is not None:
        elements = asset_elements(assets, SCAN_LIMIT, zero_totals=True)
        how = "batch 0's asset commitment before = the asset list's prices padded to that count"
        least = max(assets.assets, default=-1) + 1
    else:
        return None, ""
    history = [n for n in HISTORY.get(fmt, ()) if n >= least]
    for counts in [history, list(range(max(least, 1), SCAN_LIMIT + 1))] if scan else [history]:
        found = [n for n, c in prefix_commitments(elements, counts).items() if c == first]
        if found:
            return min(found), how
    return None, ""


def check_table(
    batches: list[Batch], fmt: str, assets: AssetList | None, source: str, scan: bool = True
) -> tuple[list[str], dict[str, Any]]:
    """(reasons, facts) of the proof table: commitments, chain, the empty start, the asset list
    (`scan`: try every asset count up to SCAN_LIMIT when none the exchange used fits)."""
    reasons: list[str] = []
    facts: dict[str, Any] = {"batches": len(batches)}
    order = sorted(batches, key=lambda b: b.number)
    if [b.number for b in order] != list(range(len(order))):
        reasons.append(f"{source}: batch numbers are not 0..{len(order) - 1}, each once")
    for b in order:
        if poseidon(*b.roots, *b.assets) != b.commitment:
            reasons.append(
                f"{source}:{b.line}: batch {b.number}: batch_commitment is not Poseidon of its roots "
                "and asset commitments"
            )
    for before, after in zip(order, order[1:]):
        if after.roots[0] != before.roots[1] or after.assets[0] != before.assets[1]:
            reasons.append(
                f"{source}:{after.line}: batch {after.number} does not start where batch {before.number} ended"
            )
    count, how = _count_from_assets(order, fmt, assets, scan)
    start = order[0].roots[0]
    if count is not None and empty_root(fmt, count) != start:
        reasons.append(f"{source}: batch 0 does not start from the empty tree of {count} assets")
    if count is None:
        for n in HISTORY.get(fmt, ()):
            if empty_root(fmt, n) == start:
                count, how = n, "batch 0 starts from the empty tree of that many assets"
                break
    if count is None:
        reasons.append(
            f"{source}: batch 0 starts from no empty tree of the asset counts tried "
            f"({', '.join(map(str, HISTORY.get(fmt, ())))}"
            f"{'' if assets else '; give the asset list, --config, to find it'})"
        )
    facts.update(
        asset_count=count,
        asset_count_from=how or None,
        final_root=f"{order[-1].roots[1]:064x}",
        empty_root=f"{empty_root(fmt, count):064x}" if count else None,
    )
    if assets is not None and count is not None:
        final = poseidon(*asset_elements(assets, count))
        facts["asset_list"] = f"{len(assets.assets)} assets ({assets.source})"
        if max(assets.assets, default=0) >= count:
            reasons.append(f"{assets.source}: an asset index is beyond the audit's {count} assets")
        if final != order[-1].assets[1]:
            reasons.append(
                f"{assets.source}: the asset list's commitment is not the last batch's asset commitment "
                "(this list is not the one the proof table was made from)"
            )
        if fmt == "gate-zk" and poseidon(*asset_elements(assets, count, zero_totals=True)) != order[0].assets[0]:
            reasons.append(f"{assets.source}: the prices do not give batch 0's starting asset commitment")
    return reasons, facts
