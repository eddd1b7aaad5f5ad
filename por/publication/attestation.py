"""What a publication carries beyond the tree: the link to the previous period,
the exchange's signature over the commitment, the offline verifier page with that
commitment embedded, and a manifest of every public file's SHA-256.

The embedded commitment comes from the exchange, as the page does: the page shows its
fingerprint (the root) and calls a proof "included in the commitment this page carries"
until the customer compares that fingerprint with one published elsewhere. The page's own
SHA-256 cannot be in commitment.json (the page holds the commitment), so it goes in
manifest.json, unsigned, written last and printed by `publish`.

`publication_extras(...)` reads the previous commitment and the signing key up
front, so bad input fails before a tree is built; the object it returns is the
`extra_files` hook of por.liabilities.publish.publish, run inside the staging folder just
before commitment.json is written (so the signature covers the link).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from por import signing
from por.errors import InputError
from por.kinds import refuse_wrong_kind
from por.liabilities.folder import COMMITMENT_FILE, MANIFEST_FILE, PAGE_FILE, TREE_FILE
from por.liabilities.porjson import MAX_COMMITMENT_BYTES, Commitment, dumps, parse_commitment
from por.strictjson import loads, read_bounded
from por.text import is_hidden

PAGE_DATA_SLOT = b'<script type="application/json" id="por-publication"></script>'
MAX_CONTACT = 200


def verifier_page() -> bytes:
    """The self-contained verifier page shipped with the package (por/web/verifier.html): no data embedded."""
    from importlib import resources  # only when writing a publication: not on a customer's path

    return resources.files("por").joinpath("web/verifier.html").read_bytes()


def check_contact(contact: str) -> str:
    """The exchange's contact shown on its customers' page: visible text, one line, at most 200 characters."""
    if not contact.strip() or len(contact) > MAX_CONTACT or any(is_hidden(c) or c in "\n\r\t" for c in contact):
        raise InputError(
            f"{contact[:40]!r} must be 1-{MAX_CONTACT} visible characters on one line "
            "(an e-mail address, a web address or a phone number)",
            field="--contact",
        )
    return contact.strip()


def publication_page(commitment_text: str, contact: str | None = None, page: bytes | None = None) -> bytes:
    """verify.html for one publication: the generic page with its commitment.json (and contact) embedded."""
    page = verifier_page() if page is None else page
    if page.count(PAGE_DATA_SLOT) != 1:
        raise InputError(
            "the verifier page has no (or more than one) por-publication block", file="por/web/verifier.html"
        )
    data: dict[str, object] = {"format": "por-page-data", "version": 1, "commitment": commitment_text}
    if contact is not None:
        data["contact"] = contact
    return page.replace(PAGE_DATA_SLOT, _data_block(data))


def _data_block(data: dict[str, object]) -> bytes:
    """The inert JSON block: `<`, `>`, `&` and the two JavaScript line separators are escaped,
    so no text of the exchange's can close the block or run as script."""
    text = json.dumps(data, ensure_ascii=False, separators=(", ", ": "))
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return PAGE_DATA_SLOT.replace(b"></script>", b">" + text.encode("utf-8") + b"</script>")


ANCHOR_SHOWN = ("chain", "registry", "address", "transaction", "block", "digest")  # registry: EVM; address: Bitcoin


def embed_anchor(folder: Path, anchor: dict[str, object]) -> bool:
    """Once the commitment is anchored, the publication's verify.html shows the anchor (chain,
    registry or address, transaction, block, digest) for customers to look up in any explorer, and
    manifest.json is written again over the new page. False when the page carries no
    publication (a generic page, or none): then nothing is changed."""
    page_path, start = folder / PAGE_FILE, PAGE_DATA_SLOT[: -len(b"</script>")]
    if not page_path.is_file():
        return False
    page = page_path.read_bytes()
    at = page.find(start)
    end = page.find(b"</script>", at) if at >= 0 else -1
    if at < 0 or end < 0 or page.count(start) != 1:
        return False
    text = page[at + len(start) : end].decode("utf-8").strip()
    if not text:
        return False
    data = loads(text, str(page_path))
    data["anchor"] = {k: anchor[k] for k in ANCHOR_SHOWN if k in anchor}
    from por.atomic import write_bytes, write_text  # writing: not loaded by a customer's verify

    write_bytes(page_path, page[:at] + _data_block(data) + page[end + len(b"</script>") :])
    _, _, _, commitment = read_commitment(folder)
    if (folder / MANIFEST_FILE).exists():
        write_text(folder / MANIFEST_FILE, json.dumps(manifest(folder, commitment), indent=2) + "\n")
    return True


def manifest(folder: Path, commitment: Commitment) -> dict:
    """manifest.json: the SHA-256 and size of every public file of a publication (not signed)."""
    files = []
    for name in (COMMITMENT_FILE, TREE_FILE, PAGE_FILE):
        path = folder / name
        if path.is_file():
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
            files.append({"file": name, "sha256": digest.hexdigest(), "bytes": path.stat().st_size})
    return {
        "format": "por-manifest",
        "version": 1,
        "exchange": commitment.exchange,
        "snapshot_id": commitment.snapshot_id,
        "root": commitment.root.hex(),
        "files": files,
    }


def read_commitment(path: str | Path) -> tuple[str, bytes, dict, Commitment]:
    """A commitment from a publication folder or a commitment.json path: (place, bytes, doc, parsed)."""
    path = Path(path)
    file = path / "commitment.json" if path.is_dir() else path
    raw = read_bounded(file, MAX_COMMITMENT_BYTES, " for a commitment", empty_ok=True)
    refuse_wrong_kind(raw, "commitment", str(file))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=str(file)) from None
    doc = loads(text, str(file))
    return str(path), raw, doc, parse_commitment(doc, str(file))


class PublicationExtras:
    """The extra_files hook (previous link, then signature, then verify.html) and the
    finish_files hook (manifest.json, once commitment.json is written)."""

    def __init__(
        self,
        *,
        previous: Path | None,
        sign_key: Path | None,
        snapshot_id: str,
        snapshot_time: str | None,
        exchange: str,
        contact: str | None = None,
    ) -> None:
        from por.publication import history  # publishing only: not on a customer's verify path

        self.link: dict[str, str] | None = None
        self.previous: Commitment | None = None
        if previous is not None:
            _, _, doc, self.previous = read_commitment(previous)
            history.check_next(self.previous, snapshot_id, snapshot_time or "", exchange)
            self.link = history.link_for(doc, self.previous)
        self.key = signing.load_private_key(sign_key) if sign_key else None
        self.signer = signing.address_of(self.key) if self.key else None
        self.page = verifier_page()
        self.contact = check_contact(contact) if contact is not None else None
        self.commitment: Commitment | None = None
        self.manifest: dict | None = None

    def __call__(self, staging: Path, commitment: Commitment) -> None:
        from por.publication import history

        if self.previous is not None:
            history.check_next(self.previous, commitment.snapshot_id, commitment.snapshot_time, commitment.exchange)
            commitment.extra[history.PREVIOUS] = self.link
        if self.key is not None:
            commitment.extra.pop("signature", None)
            commitment.extra["signature"] = signing.sign(commitment.to_json(), self.key)
        self.commitment = commitment
        # the very text publish writes to commitment.json next (signature and link included)
        (staging / PAGE_FILE).write_bytes(publication_page(dumps(commitment.to_json()), self.contact, self.page))

    def finish(self, staging: Path) -> None:
        """manifest.json, over the files as written (commitment.json included)."""
        assert self.commitment is not None, "finish runs after the extra_files hook"
        self.manifest = manifest(staging, self.commitment)
        (staging / MANIFEST_FILE).write_text(json.dumps(self.manifest, indent=2) + "\n", encoding="utf-8")


def publication_extras(
    *,
    previous: Path | None = None,
    sign_key: Path | None = None,
    snapshot_id: str,
    snapshot_time: str | None = None,
    exchange: str,
    contact: str | None = None,
) -> PublicationExtras:
    return PublicationExtras(
        previous=previous,
        sign_key=sign_key,
        snapshot_id=snapshot_id,
        snapshot_time=snapshot_time,
        exchange=exchange,
        contact=contact,
    )
