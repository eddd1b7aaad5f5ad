"""Reserves inputs: the declared wallets, the snapshot file and chains.toml.

Schemas: docs/formats/wallets.schema.json (JSON form; the CSV form has the same
columns), docs/formats/snapshot.schema.json, docs/formats/chains.md.
"""

from __future__ import annotations

import csv
import re
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chains import family_module
from chains.records import ChainSnapshot, Custodian, CustodySystem, DeclaredWallet, Scheme, Snapshot, WalletType
from por.amounts import check_asset_symbol
from por.errors import BadRows, InputError
from por.strictjson import Fields, load_file, read_bounded
from por.text import CappedReader, bounded_lines, csv_field_limit, csv_syntax_error, open_input, separator_hint

WALLET_COLUMNS = ["chain", "asset", "address", "wallet_type", "scheme", "message", "signature", "script"]
CUSTODIAN_COLUMNS = ["custodian", "custodian_registration"]  # optional: who holds the keys, if not the exchange
# optional: the custody-system provider whose platform runs the wallet (暗号資産管理システム提供業者)
CUSTODY_SYSTEM_COLUMNS = ["custody_system", "custody_system_notification"]
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")
_HEX_RE = re.compile(r"(0x)?[0-9a-fA-F]*\Z")
MAX_WALLETS = 1_000_000
MAX_CONFIG_BYTES = 1 << 20
MAX_SNAPSHOT_BYTES = 16 << 20  # a height and a hash per chain
MAX_LINE_BYTES = 1 << 20  # eight fields of at most 20,000 characters, with room to spare
MAX_WALLET_FILE_BYTES = 1 << 30  # a million wallets of a kilobyte: the end of a pipe that never ends


@dataclass(frozen=True)
class WalletsFile:
    """A wallet declaration: the wallets, and the labels a JSON declaration states (checked, never ignored)."""

    wallets: list[DeclaredWallet]
    exchange: str | None = None
    snapshot_id: str | None = None


def load_wallets(path: str | Path) -> tuple[list[DeclaredWallet], str | None]:
    """CSV or JSON declaration -> wallets, and the exchange name if the file states it."""
    declaration = load_declaration(path)
    return declaration.wallets, declaration.exchange


def load_declaration(path: str | Path) -> WalletsFile:
    path = Path(path)
    if path.suffix.lower() == ".json":
        return _wallets_json(path)
    return WalletsFile(_wallets_csv(path))


def _wallet(row: dict[str, Any], source: str, line: int | None, field_prefix: str = "") -> DeclaredWallet:
    def bad(field: str, reason: str) -> InputError:
        return InputError(reason, file=source, line=line, field=f"{field_prefix}{field}")

    for key in WALLET_COLUMNS + CUSTODIAN_COLUMNS + CUSTODY_SYSTEM_COLUMNS:
        value = row.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise bad(key, f"expected a string, got {type(value).__name__}")
        if len(value) > 20000:
            raise bad(key, "longer than 20000 characters")
        row[key] = value
    chain = row["chain"].strip()
    if not _NAME_RE.match(chain):
        raise bad("chain", f"{chain[:40]!r} is not a chain name (lower-case letters, digits, - and _)")
    try:
        asset = check_asset_symbol(row["asset"].strip())
    except InputError as exc:
        raise bad("asset", exc.reason) from None
    address = row["address"].strip()
    if not address or not address.isascii() or not address.isalnum():
        raise bad("address", f"{address[:60]!r} is not an address")
    try:
        wallet_type = WalletType(row["wallet_type"].strip().lower())
    except ValueError:
        raise bad("wallet_type", f"{row['wallet_type'][:20]!r} must be cold, hot or own") from None
    try:
        scheme = Scheme(row["scheme"].strip().lower())
    except ValueError:
        raise bad("scheme", f"{row['scheme'][:20]!r} must be one of {', '.join(s.value for s in Scheme)}") from None
    signatures = tuple(s.strip() for s in row["signature"].split("|") if s.strip())
    if not signatures:
        raise bad("signature", "missing")
    script = row["script"].strip() or None
    if script is not None and not _HEX_RE.match(script):
        raise bad("script", "must be hex")
    return DeclaredWallet(
        chain=chain,
        asset=asset,
        address=address,
        wallet_type=wallet_type,
        scheme=scheme,
        message=row["message"],
        signatures=signatures,
        script=script,
        source=f"{source}:{line}" if line else source,
        custodian=_custodian(row, bad),
        custody_system=_custody_system(row, bad),
    )


def _custodian(row: dict[str, str], bad: Callable[[str, str], InputError]) -> Custodian | None:
    name, registration = " ".join(row["custodian"].split()), row["custodian_registration"].strip()
    if not name:
        if registration:
            raise bad("custodian", "a custodian_registration needs the custodian's name")
        return None
    if len(name) > 200 or len(registration) > 100 or not (name + registration).isprintable():
        raise bad(
            "custodian",
            "the custodian's name (at most 200 characters) and registration number (at most "
            "100) must be printable text",
        )
    return Custodian(name, registration)


def _custody_system(row: dict[str, str], bad: Callable[[str, str], InputError]) -> CustodySystem | None:
    name, number = " ".join(row["custody_system"].split()), row["custody_system_notification"].strip()
    if not name:
        if number:
            raise bad("custody_system", "a custody_system_notification needs the provider's name")
        return None
    if len(name) > 200 or len(number) > 100 or not (name + number).isprintable():
        raise bad(
            "custody_system",
            "the custody-system provider's name (at most 200 characters) and notification number (at most "
            "100) must be printable text",
        )
    return CustodySystem(name, number)


# columns a row may leave out entirely (empty)
OPTIONAL_TAIL = {"script", *CUSTODIAN_COLUMNS, *CUSTODY_SYSTEM_COLUMNS}
QUOTE_HINT = " (a field holding a comma, such as a custodian's name, must be in double quotes)"


def _wallets_csv(path: Path) -> list[DeclaredWallet]:
    """Every bad row up to MAX_REPORTED_ROWS named in one run (`file:line: field: reason`), as the customer
    book's reader does; a CSV syntax error ends the reading, after the rows before it."""
    source = str(path)
    wallets = []
    bad = BadRows()
    with open_input(path) as handle, csv_field_limit(65536):
        capped = CappedReader(handle, MAX_WALLET_FILE_BYTES, source)
        reader = csv.DictReader(bounded_lines(capped, source, MAX_LINE_BYTES), strict=True)
        last = 1  # the line of the last row read: a quote never closed opens after it
        try:
            reader.fieldnames = _wallet_header(reader.fieldnames, source)
            for row in reader:
                last = reader.line_num
                try:
                    wallets.append(_wallet(_complete(row, reader.fieldnames), source, reader.line_num))
                except InputError as exc:
                    bad.add(exc.at(file=source, line=reader.line_num))
                if len(wallets) > MAX_WALLETS:
                    raise InputError(f"more than {MAX_WALLETS} wallets", file=source)
        except csv.Error as exc:
            bad.add(csv_syntax_error(exc, source, last, reader.line_num))
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text", file=source) from None
    bad.raise_any()
    if not wallets:
        raise InputError("no wallets declared", file=source)
    return wallets


def _wallet_header(fieldnames: Any, source: str) -> list[str]:
    if fieldnames is None:
        raise InputError("empty file: expected header " + ",".join(WALLET_COLUMNS), file=source, line=1)
    header = [h.strip() for h in fieldnames]
    missing = [c for c in WALLET_COLUMNS if c not in header]
    if missing or len(header) != len(set(header)):
        hint = separator_hint(",".join(fieldnames))
        raise InputError(
            f"header must be {','.join(WALLET_COLUMNS)} (missing {', '.join(missing)}){hint}", file=source, line=1
        )
    return header


def _complete(row: dict[Any, Any], header: list[str]) -> dict[str, Any]:
    """A row with exactly the header's fields, or the InputError saying how many it has and why."""
    if None in row:
        got = len(header) + len(row[None])
        raise InputError(f"expected {len(header)} fields, got {got}{QUOTE_HINT}")
    absent = [k for k in header if row.get(k) is None]
    if [k for k in absent if k not in OPTIONAL_TAIL]:  # a short row may leave out the optional columns at its end
        first = str(row.get(header[0]) or "")
        hint = separator_hint(first) or " (every row needs every column of the header, empty ones included)"
        raise InputError(f"expected {len(header)} fields, got {len(header) - len(absent)}{hint}")
    return row


def _wallets_json(path: Path) -> WalletsFile:
    source = str(path)
    data = load_file(path)
    if isinstance(data, list):
        data = {"wallets": data}
    f = Fields(data, source)
    f.only("format", "version", "exchange", "snapshot_id", "wallets")
    exchange = f.str("exchange", optional=True, max_len=200)
    snapshot_id = f.str("snapshot_id", optional=True, max_len=200)
    items = f.get("wallets", list)
    if not items:
        raise f.error("wallets", "no wallets declared")
    wallets = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError("expected an object", file=source, field=f"wallets[{i}]")
        extra = sorted(set(item) - set(WALLET_COLUMNS) - set(CUSTODIAN_COLUMNS) - set(CUSTODY_SYSTEM_COLUMNS))
        if extra:
            raise InputError("unknown field", file=source, field=f"wallets[{i}].{extra[0]}")
        row = dict(item)
        if isinstance(row.get("signature"), list):
            if not all(isinstance(s, str) for s in row["signature"]):
                raise InputError("signatures must be strings", file=source, field=f"wallets[{i}].signature")
            row["signature"] = "|".join(row["signature"])
        wallets.append(_wallet(row, source, None, field_prefix=f"wallets[{i}]."))
    return WalletsFile(wallets, exchange, snapshot_id)


def load_snapshot(path: str | Path) -> Snapshot:
    source = str(path)
    f = Fields(load_file(path, MAX_SNAPSHOT_BYTES, " for a snapshot"), source)
    f.only("format", "version", "snapshot_id", "time", "chains")
    snapshot_id = f.str("snapshot_id", max_len=200)
    time = f.str("time", optional=True, max_len=64)
    chains_obj = f.obj("chains")
    chains = {}
    for name in chains_obj.data:
        entry = chains_obj.obj(name).only("height", "block_hash", "time")
        if not _NAME_RE.match(name):
            raise chains_obj.error(name, "not a chain name")
        block_hash = entry.str("block_hash", max_len=66).lower()
        if not re.fullmatch(r"(0x)?[0-9a-f]{64}", block_hash):
            raise entry.error("block_hash", "expected 64 hex digits")
        chains[name] = ChainSnapshot(name, entry.int("height", maximum=2**40), block_hash.removeprefix("0x"))
    if not chains:
        raise f.error("chains", "no chains")
    return Snapshot(snapshot_id, chains, time)


def load_chains_config(path: str | Path, *, note: Callable[[str], None] | None = None) -> dict[str, dict[str, Any]]:
    """chains.toml -> {chain name: its table}, every table checked by its family's `check_config` now,
    before any long work. Deprecation notes go to `note` (default: one line on stderr)."""
    source = str(path)
    raw = read_bounded(path, MAX_CONFIG_BYTES, empty_ok=True)
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))  # a BOM (Windows editors) is not the config
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=source) from None
    except ValueError as exc:  # TOMLDecodeError, or an integer of more than 4300 digits
        raise InputError(f"invalid TOML: {str(exc)[:200]}", file=source) from None
    chains = data.get("chains")
    if not isinstance(chains, dict) or not chains:
        raise InputError("expected [chains.NAME] tables", file=source, field="chains")
    extra = sorted(set(data) - {"chains"})
    if extra:
        raise InputError("unknown table", file=source, field=extra[0])
    for name, table in chains.items():
        if not isinstance(table, dict) or not isinstance(table.get("family"), str):
            raise InputError("each chain needs a `family`", file=source, field=f"chains.{name}.family")
        if not _NAME_RE.match(name):
            raise InputError("not a chain name", file=source, field=f"chains.{name}")
        for message in check_chain_table(name, table, source):
            (note or _stderr_note)(f"{source}: {message}")
    return chains


def check_chain_table(name: str, table: dict[str, Any], source: str = "") -> list[str]:
    """One [chains.NAME] table checked by its family module; returns its deprecation notes."""
    try:
        return family_module(table["family"]).check_config(name, table)
    except ValueError as exc:  # an unknown family
        raise InputError(str(exc), file=source or None, field=f"chains.{name}.family") from None
    except InputError as exc:
        raise exc.at(file=source) if source else exc from None


def _stderr_note(message: str) -> None:
    print(f"por: note: {message}", file=sys.stderr)


def load_reserves_inputs(
    wallets: Path,
    snapshot: Path,
    config: Path,
    exchange: str | None,
    *,
    commitment_exchange: str | None = None,
) -> tuple[list[DeclaredWallet], Snapshot, dict[str, dict[str, Any]], str]:
    """The three reserves inputs, parsed, and the exchange name settled (shared by `por reserves` and the audit).

    Every label is enforced: the exchange named by `--exchange`, the wallets file and the
    commitment (`commitment_exchange`, for the audit) must be one name, and a wallets file's
    `snapshot_id` must be the snapshot file's. A disagreement is bad input (exit 2): the
    ownership messages bind one exchange and one period, and which one was meant is the
    user's to say, not ours to guess."""
    declaration = load_declaration(wallets)
    exchange = settle_exchange(exchange, declaration.exchange, commitment_exchange, str(wallets))
    snap = load_snapshot(snapshot)
    if declaration.snapshot_id is not None and declaration.snapshot_id != snap.snapshot_id:
        raise InputError(
            f"the wallets file declares snapshot {declaration.snapshot_id!r}, the snapshot file "
            f"{str(snapshot)!r} is {snap.snapshot_id!r}: pass the wallets and snapshot of one period",
            file=str(wallets),
            field="snapshot_id",
        )
    return declaration.wallets, snap, load_chains_config(config), exchange


def settle_exchange(option: str | None, stated: str | None, committed: str | None, wallets: str) -> str:
    """The one exchange name every source agrees on; InputError naming each source when they differ."""
    named = {"--exchange": option, f"the wallets file {wallets!r}": stated, "the commitment": committed}
    given = {where: name for where, name in named.items() if name}
    if len(set(given.values())) > 1:
        listed = ", ".join(f"{where} says {name!r}" for where, name in given.items())
        raise InputError(
            f"exchange names disagree ({listed}): ownership messages bind one exchange; pass the "
            f"files of one exchange (or the --exchange it names)",
            field="--exchange",
        )
    if not given:
        raise InputError("the exchange name is needed to check ownership messages: pass --exchange", field="--exchange")
    return next(iter(given.values()))
