"""The rules every customer row obeys, written once: the CSV reader, the columnar
readers and the verifier all apply these.

Everything wrong with the file is reported as `file:line: field: reason` (up to
por.errors.MAX_REPORTED_ROWS bad rows in one run, then how many more), with a hint for the
mistakes spreadsheets make (semicolons, tabs, thousands separators, decimal
commas), and nothing downstream runs, so a publication never commits to a mistyped row.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from por.amounts import AmountError, AssetTable, check_asset_symbol, parse_amount
from por.errors import InputError
from por.text import CappedReader, amount_hint, bounded_lines, csv_field_limit, is_hidden, open_input, separator_hint

HEADER = ["account_id", "asset", "amount"]
MAX_ID_BYTES = 256
MAX_FIELD_CHARS = 4096
MAX_LINE_BYTES = 64 * 1024  # three fields of MAX_FIELD_CHARS in any UTF-8, with room to spare
MAX_CUSTOMER_BYTES = 16 << 30  # ~170M rows, past what one machine publishes: the end of a stream that never ends


def split_amount_hint(row: list[str]) -> str:
    """A row of 4 or more fields whose tail is the digits of one amount, cut at its commas."""
    if len(row) < 4:
        return ""
    return amount_hint(",".join(row[2:]))


def check_account_id(account_id: str) -> str:
    """One rule for ids on both sides, `publish` and every proof reader. Ids are compared
    byte for byte and stay case-sensitive, so an id that could display as another, or
    normalise to another, is refused: no trimming, NFC required, nothing hidden."""
    if not account_id:
        raise InputError("empty account id", field="account_id")
    if account_id != account_id.strip():
        raise InputError("account id has leading or trailing whitespace", field="account_id")
    if len(account_id.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise InputError(f"account id longer than {MAX_ID_BYTES} bytes", field="account_id")
    if account_id.isascii() and account_id.isprintable():
        return account_id
    for char in account_id:
        if is_hidden(char):
            raise InputError(
                f"account id contains control or invisible character U+{ord(char):04X}", field="account_id"
            )
    if not unicodedata.is_normalized("NFC", account_id):
        raise InputError(
            "account id is not in Unicode NFC form (a decomposed spelling of another id): write it composed (NFC)",
            field="account_id",
        )
    return account_id


def ambiguous_ids(ids: list[str]) -> list[tuple[int, int]]:
    """(earlier, later) positions of distinct ids that are equal after NFKC (`ﬁ`/`fi`, `ａ`/`a`,
    `²`/`2`): a customer cannot tell them apart, so `publish` refuses them. Case is kept."""
    first: dict[str, int] = {}
    pairs = []
    for position, account_id in enumerate(ids):
        key = account_id if account_id.isascii() else unicodedata.normalize("NFKC", account_id)
        if key in first:
            pairs.append((first[key], position))
        else:
            first[key] = position
    return pairs


# TS #39 section 5.1: a Han, Hiragana, Katakana, Hangul or Bopomofo character also counts for the
# writing systems that combine them (Japanese, Korean, Han with Bopomofo)
_AUGMENTED = {"Hani": {"Hanb", "Jpan", "Kore"}, "Hira": {"Jpan"}, "Kana": {"Jpan"}, "Hang": {"Kore"}, "Bopo": {"Hanb"}}
_CONFUSABLE_WITH_LATIN = {"Cyrl", "Grek"}


def mixed_scripts(account_id: str) -> list[str] | None:
    """The scripts of an id that mixes scripts confusably, else None (Unicode TS #39: the
    resolved script set of section 5.1 is empty, and the id is not Moderately Restrictive
    (5.2): Latin plus one other script, Cyrillic and Greek excepted). `pаypal` with a
    Cyrillic `а` is; `user-张三` and `山田タロウ` are not. A warning, never a refusal."""
    if account_id.isascii():
        return None
    from fontTools.unicodedata import script, script_extension, script_name  # Unicode's own Script_Extensions

    sets = []
    for char in set(account_id):
        scripts = set(script_extension(char))
        if scripts <= {"Zyyy", "Zinh"}:  # Common and Inherited go with any script
            continue
        for name in list(scripts):
            scripts |= _AUGMENTED.get(name, set())
        sets.append(scripts)
    if not sets or set.intersection(*sets):
        return None
    others = [s for s in sets if "Latn" not in s]
    if others and set.intersection(*others) - _CONFUSABLE_WITH_LATIN:
        return None
    return sorted({script_name(script(c)) for c in account_id if script(c) not in ("Zyyy", "Zinh", "Zzzz")})


def check_row(account_id: str | None, asset: str | None, amount: str | None, table: AssetTable) -> int:
    """Every rule one row must obey, in the order a reader applies them: the one
    place they are written. Returns the amount in base units or raises the
    InputError the user sees (the caller adds file and line)."""
    if account_id is None or asset is None or amount is None:
        raise InputError("null value")
    try:
        check_account_id(account_id)
        check_asset_symbol(asset)
        return parse_amount(amount.strip(), table.decimals(asset))
    except AmountError as exc:
        field = "asset" if "unknown asset" in exc.reason else "amount"
        hint = amount_hint(amount) if field == "amount" else ""
        raise InputError(exc.reason + hint, field=exc.field or field) from None


def csv_rows(path: Path, errors: list[InputError] | None = None) -> Iterator[tuple[int, str, str, str]]:
    """(line, account_id, asset, amount) of a customers CSV: a file, a pipe or `-`, read once.
    A row of the wrong shape is raised, or, given `errors`, appended there and skipped (so one
    run can name every bad row); a bad header or malformed CSV always ends the reading."""
    source = str(path)
    with open_input(path) as handle, csv_field_limit(MAX_FIELD_CHARS):
        capped = CappedReader(handle, MAX_CUSTOMER_BYTES, source)
        reader = csv.reader(bounded_lines(capped, source, MAX_LINE_BYTES), strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise InputError("empty file: expected header `account_id,asset,amount`", file=source, line=1)
            if [h.strip() for h in header] != HEADER:
                shown = ",".join(header)
                hint = (
                    " (Parquet is read from a file named *.parquet, never from a pipe)"
                    if header and header[0].startswith("PAR1")
                    else separator_hint(shown)
                )
                shown = shown[:80].replace("\t", "\\t")  # a tab shown as \t, not as a space
                raise InputError(f"header must be `account_id,asset,amount`, got `{shown}`{hint}", file=source, line=1)
            rows = bad = 0
            for row in reader:
                if not row:
                    continue
                if len(row) != 3:
                    hint = separator_hint(",".join(row)) if len(row) < 3 else split_amount_hint(row)
                    error = InputError(f"expected 3 fields, got {len(row)}{hint}", file=source, line=reader.line_num)
                    if errors is None:
                        raise error
                    errors.append(error)
                    bad += 1
                    continue
                rows += 1
                yield reader.line_num, row[0], row[1], row[2]
            if not rows and not bad:
                raise InputError("no customer rows after the header", file=source, line=reader.line_num + 1)
        except csv.Error as exc:
            raise InputError(f"malformed CSV: {exc}", file=source, line=reader.line_num) from None
