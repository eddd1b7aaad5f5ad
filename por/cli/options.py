"""Options that several commands declare, spelled once: the same flag, metavar and help everywhere.

A command's own options are aliases beside it (in its module); the ones here are shared. Each is an
`Annotated` type, so a command's signature reads `quiet: Quiet = False` and typer finds the option in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from por.liabilities.foreign.common import Customer

Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="Print nothing on success and show no progress; failures and errors still say why."
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", "-j", help="Print the result as JSON on stdout (nothing else).")]
HtmlLang = Annotated[
    str,
    typer.Option(
        "--lang", metavar="en|ja", help="Language of the HTML report: en or ja (the other one is shown beside it)."
    ),
]

# verify-inclusion and verify-tree: what the customer pins.
PinnedSigner = Annotated[
    Optional[str],
    typer.Option(metavar="ADDRESS", help="Pinned signing key (0x address) the commitment must be signed by."),
]
PublishedTotals = Annotated[
    Optional[Path],
    typer.Option(
        metavar="FILE",
        help="The per-asset totals the exchange "
        "published (JSON, docs/formats/totals.schema.json), with --root: "
        "compared by asset name and exact value.",
    ),
]

# publish and history: chains.toml, only to anchor.
AnchorConfig = Annotated[Optional[Path], typer.Option("--config", metavar="FILE", help="chains.toml, for --anchor.")]


@dataclass(frozen=True)
class InclusionOptions:
    """What `por verify-inclusion` checks proofs against, after the options were checked: one proof, or one
    customer's proofs over several periods (por.cli.history.verify_periods)."""

    commitments: list[Path]
    root: Optional[str]
    signer: Optional[str]
    kind_option: str  # --format: a proof format, or "auto"
    tree: Optional[Path]
    totals: Optional[Path]
    customer: Customer  # --account, --nonce, --balance
    account: Optional[str]
    config: Optional[Path]  # the audit's asset list
    chains_toml: Optional[Path]  # with --anchor
    json_out: bool
    quiet: bool


def html_lang(lang: str) -> str:
    """The --lang option, checked before any work (bad input, exit 2)."""
    from por.errors import InputError

    if lang not in ("en", "ja"):
        raise InputError(f"{lang[:20]!r} is not a report language: use en or ja", field="--lang")
    return lang
