"""Many customers' proofs at once (`por verify-inclusion --batch FILE_OR_DIR`), for auditors.

Reads single proof documents (`*.json`, any format `verify-inclusion` knows) and the JSONL
shards `prove --all` writes (`*.jsonl`, one compact por proof per line), verifies each
against the one pinned commitment or root, and yields a verdict per proof. A proof
is judged by its parsed value, by the very checks `verify-inclusion PROOF` runs
(por.liabilities.check, then the anchor it carries); each is concluded by the one
rule (por.verdict), so a batch with nothing pinned is self-consistent at best.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from por.errors import InputError
from por.kinds import por_kind
from por.liabilities.check import read_document, verify_proof_document
from por.liabilities.pins import Pins, judge_carried_anchor
from por.liabilities.porjson import PROOF_FORMAT
from por.verdict import Verdict

MAX_LINE = 64 << 20  # one proof: 64 pieces x 64 steps of a wide tree stay far below
SHARD_MANIFEST = "por-proof-shards"


@dataclass
class Checked:
    source: str  # file, or file:line
    verdict: Verdict


def proof_files(target: Path) -> tuple[list[Path], list[Path]]:
    """(the proof files under `target`, the files skipped): *.json and *.jsonl, sorted. A shard
    folder's manifest.json is not a proof, and nor is any other of por's own documents beside the
    proofs (commitment.json, anchor.json, an audit report: `por_document`): those are skipped, not
    refused (one named as the proof, or as `--batch FILE`, still is)."""
    if not target.exists():
        raise InputError("no such file or folder", file=str(target), field="--batch")
    if not target.is_dir():
        return [target], []
    files, skipped = [], []
    for path in sorted(p for p in target.rglob("*") if p.is_file()):
        if _is_manifest(path):
            continue
        if path.suffix not in (".json", ".jsonl") or por_document(path):
            skipped.append(path)
        else:
            files.append(path)
    return files, skipped


def por_document(path: Path) -> str | None:
    """The format of one of por's own documents that is not a proof ('por-commitment',
    'por-anchor', …: por.kinds), from the first bytes of a .json or .jsonl file; None for a proof,
    a foreign file, or one that cannot be read (`read_document` then names why)."""
    if path.suffix not in (".json", ".jsonl"):
        return None
    try:
        with open(path, "rb") as handle:
            kind = por_kind(handle.read(4096))
    except OSError:
        return None
    return kind if kind not in (None, PROOF_FORMAT) else None


def _is_manifest(path: Path) -> bool:
    if path.name != "manifest.json":
        return False
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format") == SHARD_MANIFEST
    except (OSError, ValueError, AttributeError):
        return False


def verify_batch(files: list[Path], pins: Pins, kind_of) -> Iterator[Checked]:
    """A verdict per proof: a whole `.json` document (`kind_of(raw, source)` names its format), or
    each line of a `.jsonl` file (a por proof). Each is judged as `verify-inclusion PROOF` judges it
    with the same pins: the document's checks, then the anchor it carries (`judge_carried_anchor`)."""
    for path in files:
        if path.suffix == ".jsonl":
            yield from _lines(path, pins)
        else:
            raw = read_document(path)
            try:
                kind = kind_of(raw, str(path))
            except InputError as exc:
                yield Checked(str(path), Verdict(ok=False, reasons=[exc.location_text()]))
                continue
            yield Checked(str(path), verify_one(kind, raw, path, pins))


def verify_one(kind: str, raw: bytes, source: Path, pins: Pins) -> Verdict:
    """One proof document (a file, or one line of a shard: `source` names it), concluded, then its
    carried anchor judged against the pinned commitment."""
    verdict = verify_proof_document(kind, raw, source, pins.commitment, pins.root, None)
    judge_carried_anchor(verdict, pins.commitment_digest)
    return verdict


def _lines(path: Path, pins: Pins) -> Iterator[Checked]:
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    with handle:
        number = 0
        while raw := handle.readline(MAX_LINE):
            number += 1
            source = f"{path}:{number}"
            if not raw.endswith(b"\n") and len(raw) >= MAX_LINE:
                yield Checked(source, Verdict(ok=False, reasons=[f"{source}: line longer than {MAX_LINE} bytes"]))
                return
            if not raw.strip():
                continue
            yield Checked(source, verify_one("por", raw, Path(source), pins))
