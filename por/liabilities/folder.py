"""What a publication folder holds, by name, and how to tell one from a folder of the user's.

Kept apart from publish.py (numpy) so the commands that only read a publication start fast.
"""

from __future__ import annotations

import os
from pathlib import Path

from por.errors import InputError
from por.liabilities.porjson import parse_commitment
from por.strictjson import load_file

COMMITMENT_FILE = "commitment.json"
TREE_FILE = "tree.bin"
SECRETS_FILE = "private/secrets.jsonl"
INDEX_FILE = "private/index.bin"  # where each account's secrets line is (por.liabilities.secretsindex)
PRIVATE_ENTRIES = {Path(SECRETS_FILE).name, Path(INDEX_FILE).name}
PAGE_FILE = "verify.html"  # written by por.publication.attestation, through publish's extra_files hook
ANCHOR_FILE = "anchor.json"  # written by por.publication.anchor after the commitment is recorded on chain
MANIFEST_FILE = "manifest.json"  # SHA-256 of every public file, verify.html included (publish's finish_files hook)
PUBLICATION_ENTRIES = {COMMITMENT_FILE, TREE_FILE, PAGE_FILE, MANIFEST_FILE, ANCHOR_FILE, "private"}


def not_a_publication(folder: Path) -> str:
    """Why `folder` is not a por publication ("" when it is one, the only kind --force replaces).

    A publication is what `publish` writes and nothing else: a commitment.json that parses as a
    por commitment, tree.bin, verify.html, manifest.json, private/secrets.jsonl and private/index.bin
    (any but the commitment may have been moved away) and, once anchored, anchor.json. A folder holding
    anything else holds something of the user's.
    """
    try:
        entries = sorted(os.listdir(folder))
        private = folder / "private"
        extra = [e for e in entries if e not in PUBLICATION_ENTRIES]
        if private.is_dir() and not private.is_symlink():
            extra += [f"private/{e}" for e in sorted(os.listdir(private)) if e not in PRIVATE_ENTRIES]
        elif os.path.lexists(private):
            extra.append("private")
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if extra:
        shown = ", ".join(extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
        return f"holds {shown}"
    if COMMITMENT_FILE not in entries:
        return f"has no {COMMITMENT_FILE}"
    try:
        parse_commitment(load_file(folder / COMMITMENT_FILE), str(folder / COMMITMENT_FILE))
    except (InputError, OSError):
        return f"has a {COMMITMENT_FILE} that is not a por commitment"
    return ""
