"""What a publication carries beyond the tree: the link to the previous period,
the exchange's signature over the commitment, and the offline verifier page.

`publication_extras(...)` reads the previous commitment and the signing key up
front, so bad input fails before a tree is built; the object it returns is the
`extra_files` hook of por.liabilities.publish.publish, run inside the staging folder just
before commitment.json is written (so the signature covers the link).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from por import signing
from por.errors import InputError
from por.liabilities.folder import PAGE_FILE
from por.liabilities.porjson import MAX_COMMITMENT_BYTES, Commitment, parse_commitment
from por.publication import history
from por.strictjson import loads, read_bounded


def verifier_page() -> bytes:
    """The self-contained verifier page shipped with the package (por/web/verifier.html)."""
    return resources.files("por").joinpath("web/verifier.html").read_bytes()


def read_commitment(path: str | Path) -> tuple[str, bytes, dict, Commitment]:
    """A commitment from a publication folder or a commitment.json path: (place, bytes, doc, parsed)."""
    path = Path(path)
    file = path / "commitment.json" if path.is_dir() else path
    raw = read_bounded(file, MAX_COMMITMENT_BYTES, " for a commitment", empty_ok=True)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=str(file)) from None
    doc = loads(text, str(file))
    return str(path), raw, doc, parse_commitment(doc, str(file))


class PublicationExtras:
    """The extra_files hook: previous link, then signature, then verify.html."""

    def __init__(self, *, previous: Path | None, sign_key: Path | None, snapshot_id: str,
                 snapshot_time: str | None, exchange: str) -> None:
        self.link: dict[str, str] | None = None
        self.previous: Commitment | None = None
        if previous is not None:
            _, _, doc, self.previous = read_commitment(previous)
            history.check_next(self.previous, snapshot_id, snapshot_time or "", exchange)
            self.link = history.link_for(doc, self.previous)
        self.key = signing.load_private_key(sign_key) if sign_key else None
        self.signer = signing.address_of(self.key) if self.key else None
        self.page = verifier_page()

    def __call__(self, staging: Path, commitment: Commitment) -> None:
        if self.previous is not None:
            history.check_next(self.previous, commitment.snapshot_id, commitment.snapshot_time, commitment.exchange)
            commitment.extra[history.PREVIOUS] = self.link
        if self.key is not None:
            commitment.extra.pop("signature", None)
            commitment.extra["signature"] = signing.sign(commitment.to_json(), self.key)
        (staging / PAGE_FILE).write_bytes(self.page)


def publication_extras(*, previous: Path | None = None, sign_key: Path | None = None, snapshot_id: str,
                       snapshot_time: str | None = None, exchange: str) -> PublicationExtras:
    return PublicationExtras(previous=previous, sign_key=sign_key, snapshot_id=snapshot_id,
                             snapshot_time=snapshot_time, exchange=exchange)
