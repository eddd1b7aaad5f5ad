"""`por sign-wallets`: the wallets file, signed, from a declaration of addresses and the keys behind them.

The declaration has the wallets file's columns without proofs (chain, asset, address,
wallet_type, scheme, script; `signers` for a contract wallet: its owner addresses, `|`-separated;
a `signature` column, if present, carries partial BIP-137 multisig signatures of an earlier
run to merge). Every message is `chains.records.ownership_message(snapshot_id, exchange,
address)`, the snapshot id taken from the snapshot file, so the file `por reserves` reads
verifies for exactly that exchange and period. Keys come from files (one per line) or from
environment variables, never from the command line, and never appear in errors.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chains.base import ChainConfig
from chains.records import Scheme, WalletType, ownership_message
from chains.signer import Unsigned, parse_secret, sign
from por.errors import InputError
from por.strictjson import load_file, read_bounded

DECLARATION_COLUMNS = ("chain", "asset", "address", "wallet_type", "scheme")
OPTIONAL_COLUMNS = ("script", "signers", "message", "signature")
MAX_DECLARATION_BYTES = 256 << 20
MAX_KEY_FILE_BYTES = 1 << 20
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")


def read_secrets(files: list[Path], env_vars: list[str], environ: Mapping[str, str] | None = None) -> list[bytes]:
    """Private keys from files (one a line, `#` comments) and variables (whitespace- or comma-separated)."""
    environ = os.environ if environ is None else environ
    secrets: list[bytes] = []
    for path in files:
        text = read_bounded(path, MAX_KEY_FILE_BYTES).decode("utf-8", "replace")
        for number, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if line:
                secrets.append(_secret(line, file=str(path), line=number))
    for name in env_vars:
        if name not in environ:
            raise InputError(f"environment variable {name} is not set", field="--keys-env")
        for i, word in enumerate(re.split(r"[\s,]+", environ[name].strip())):
            if word:
                secrets.append(_secret(word, field=f"${name}[{i}]"))
    if not secrets:
        raise InputError("no keys given: pass --keys FILE or --keys-env VARIABLE", field="--keys")
    return secrets


def _secret(text: str, **where: Any) -> bytes:
    try:
        return parse_secret(text)
    except InputError as exc:  # the reason only: the text may be a key with one typo
        raise InputError(f"a key {exc.reason}", **where) from None


def read_declaration(path: Path) -> list[dict[str, str]]:
    """Rows of the declaration (CSV, or JSON shaped as the wallets file), each with its source."""
    source = str(path)
    if path.suffix.lower() == ".json":
        data = load_file(path)
        items = data.get("wallets") if isinstance(data, dict) else data
        if not isinstance(items, list) or not items:
            raise InputError('expected a list of wallets (or {"wallets": [...]})', file=source, field="wallets")
        rows = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise InputError("expected an object", file=source, field=f"wallets[{i}]")
            row = {k: "|".join(v) if isinstance(v, list) else v for k, v in item.items()}
            rows.append(_checked(row, f"{source}", f"wallets[{i}]."))
        return rows
    text = read_bounded(path, MAX_DECLARATION_BYTES).decode("utf-8", "replace")
    reader = csv.DictReader(io.StringIO(text), strict=True)
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in DECLARATION_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}: the header needs "
            f"{','.join(DECLARATION_COLUMNS)} (and may have {','.join(OPTIONAL_COLUMNS)})",
            file=source,
            line=1,
        )
    reader.fieldnames = header
    try:
        rows = [_checked(row, f"{source}:{reader.line_num}", "") for row in reader]
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", file=source, line=reader.line_num) from None
    if not rows:
        raise InputError("no wallets declared", file=source)
    return rows


def _checked(row: dict[str, Any], source: str, prefix: str) -> dict[str, str]:
    extra = sorted(k for k in row if k not in DECLARATION_COLUMNS + OPTIONAL_COLUMNS)
    if extra or None in row:
        raise InputError("unknown column", file=source, field=f"{prefix}{extra[0] if extra else '?'}")
    out = {k: ("" if row.get(k) is None else row[k]) for k in DECLARATION_COLUMNS + OPTIONAL_COLUMNS}
    for key, value in out.items():
        if not isinstance(value, str):
            raise InputError("expected a string", file=source, field=f"{prefix}{key}")
        out[key] = value.strip()
    if not _NAME_RE.match(out["chain"]):
        raise InputError("not a chain name", file=source, field=f"{prefix}chain")
    for key, kind in (("wallet_type", WalletType), ("scheme", Scheme)):
        try:
            kind(out[key].lower())
        except ValueError:
            raise InputError(
                f"must be one of {', '.join(v.value for v in kind)}", file=source, field=f"{prefix}{key}"
            ) from None
    if not out["address"]:
        raise InputError("missing", file=source, field=f"{prefix}address")
    out["source"] = source
    return out


def sign_wallets(
    rows: list[dict[str, str]],
    secrets: list[bytes],
    chains: Mapping[str, ChainConfig],
    *,
    exchange: str,
    snapshot_id: str,
) -> dict[str, Any]:
    """The wallets document (docs/formats/wallets.schema.json), every row signed for this exchange and period."""
    wallets = []
    for row in rows:
        config = chains.get(row["chain"])
        if config is None:
            raise InputError(
                f"chain {row['chain']!r} is not configured in chains.toml", file=row["source"], field="chain"
            )
        message = ownership_message(snapshot_id, exchange, row["address"])
        unsigned = Unsigned(
            row["chain"],
            row["address"],
            Scheme(row["scheme"].lower()),
            row["script"] or None,
            tuple(s.strip() for s in row["signers"].split("|") if s.strip()),
            tuple(s.strip() for s in row["signature"].split("|") if s.strip()),
        )
        try:
            signatures = sign(config["family"], unsigned, message, secrets, config)
        except InputError as exc:
            raise InputError(exc.reason, file=row["source"], field=exc.field) from None
        wallets.append(
            {
                "chain": row["chain"],
                "asset": row["asset"],
                "address": row["address"],
                "wallet_type": row["wallet_type"].lower(),
                "scheme": unsigned.scheme.value,
                "message": message,
                "signature": signatures[0] if len(signatures) == 1 else list(signatures),
                "script": row["script"],
            }
        )
    return {"format": "por-wallets", "version": 1, "exchange": exchange, "snapshot_id": snapshot_id, "wallets": wallets}
