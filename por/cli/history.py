"""`por history`, and the command-line side of signed, periodic commitments.

- `por history DIR...` verifies the chain of attestations (links, signatures,
  each folder's tree file against its commitment) and shows totals over time.
- `pinned_signer` and `verify_periods` serve `por verify-inclusion` and
  `por verify-tree`: a pinned `--signer`, and one customer's proofs over
  several periods, each against its own commitment (matched by snapshot id).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from por.cli import output
from por.cli.options import AnchorConfig, HtmlLang, InclusionOptions, JsonOut, Quiet
from por.errors import InputError
from por.text import terminal_text
from por.verdict import SELF_CONSISTENT, Verdict


def register(app: typer.Typer, cls: type) -> None:
    app.command("history", cls=cls, epilog="por history pub/2024-05 pub/2024-06 --signer 0xABC... --html history.html")(
        history
    )


Folders = Annotated[
    list[Path], typer.Argument(metavar="DIR", help="Publication folders (or their commitment.json), any order.")
]
ChainSigner = Annotated[
    Optional[str],
    typer.Option(metavar="ADDRESS", help="Pinned signing key (0x address): every period must be signed by it."),
]
HistoryHtml = Annotated[
    Optional[Path],
    typer.Option(
        "--html",
        metavar="FILE",
        help="Also write a self-contained HTML report with plots of the totals (and reserve ratios).",
    ),
]
Audits = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--audit",
        metavar="FILE",
        help="An audit report (por audit --json-out) of one of the periods: the HTML "
        "report plots its reserve ratio. Repeat for more periods.",
    ),
]
Trees = Annotated[
    bool,
    typer.Option("--trees/--no-trees", help="Check each folder's tree file digest and root against its commitment."),
]
CheckAnchors = Annotated[
    bool,
    typer.Option(
        "--anchor",
        help="Check on chain that every period's commitment is "
        "the one anchored for it, and the only one (needs --config).",
    ),
]


def history(
    folders: Folders,
    signer: ChainSigner = None,
    html: HistoryHtml = None,
    audits: Audits = None,
    lang: HtmlLang = "en",
    trees: Trees = True,
    anchor: CheckAnchors = False,
    config: AnchorConfig = None,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> int:
    """Verify a chain of periodic commitments and show the totals over time."""
    from por.publication.verify import verify_chain

    pinned = _pinned_key(signer)
    lang = output.html_lang(lang)
    summaries = []
    if audits:
        from por.audit.summary import load_audit_summary

        if not html:
            raise InputError("an audit report is plotted in the HTML report: give --html FILE too", field="--audit")
        summaries = [load_audit_summary(path) for path in audits]
    if anchor != (config is not None):
        raise InputError("--anchor and --config chains.toml go together", field="--anchor" if config else "--config")
    chains = None
    if config is not None:
        from por.reserves.inputs import load_chains_config

        chains = load_chains_config(config)
    if html:
        from por.atomic import check_output_file

        check_output_file(html, "--html")
    report = verify_chain(folders, pinned, trees=trees)
    if chains is not None:
        _check_anchors(report, chains, pinned)
    if html:
        from por.atomic import write_text
        from por.publication.history_html import render_history

        write_text(html, render_history(report, signer=pinned, audits=summaries, lang=lang))
    if json_out:
        output.write_json(_report_json(report))
    elif not (quiet and report.verified):
        print_chain(report, html, quiet=quiet)
    return 0 if report.verified else 1


def _check_anchors(report, chains, pinned: str | None) -> None:
    """Every period: its commitment is the one anchored for its snapshot id, and no other is."""
    from por.publication.anchor import check_anchors

    notes: set[str] = set()
    for period in report.periods:
        result = check_anchors(period.doc, period.commitment.snapshot_id, chains, pinned=pinned)
        report.findings.extend(f"{period.place}: {problem}" for problem in result.problems)
        report.notes.extend(f"{period.place}: {what}" for what in result.checked)
        notes.update(result.notes)
    report.notes.extend(sorted(notes))


def _pinned_key(signer: str | None) -> str | None:
    from por.signing import normalise_address

    return normalise_address(signer) if signer else None


def _totals(report) -> tuple[list[str], list[dict[str, str]]]:
    from por.amounts import format_amount

    symbols = sorted({a.symbol for p in report.periods for a in p.commitment.assets})
    rows = []
    for p in report.periods:
        amounts = {a.symbol: format_amount(v, a.decimals) for a, v in zip(p.commitment.assets, p.commitment.totals)}
        rows.append({s: amounts.get(s, "") for s in symbols})
    return symbols, rows


def _report_json(report) -> dict[str, Any]:
    symbols, totals = _totals(report)
    return {
        "verified": report.verified,
        "state": report.state,
        "findings": report.findings,
        "reasons": report.findings or ([] if report.verified else [report.unanchored_reason]),
        "notes": report.notes,
        "periods": [
            {
                "place": p.place,
                "snapshot_id": p.commitment.snapshot_id,
                "snapshot_time": p.commitment.snapshot_time,
                "root": p.commitment.root.hex(),
                "leaf_count": p.commitment.leaf_count,
                "totals": t,
                "sha256": p.raw_sha256,
                "digest": p.digest,
                "link": s.link,
                "signature": s.signature.text if s.signature else None,
            }
            for p, s, t in zip(report.periods, report.status, totals)
        ],
    }


_LINK = {
    "first": ("first", ""),
    "ok": ("✓ linked", "green"),
    "broken": ("✗ broken", "red"),
    "missing": ("✗ missing", "red"),
}
_SIG = {"verified": ("✓ verified", "green"), "failed": ("✗ failed", "red"), "not-checked": ("not checked", "yellow")}


def print_chain(report, html: Path | None, *, quiet: bool = False) -> None:
    from por.cli.output import Column, print_table

    console = output.console()
    if report.verified:
        console.print(f"[bold green]CHAIN VERIFIED[/] {len(report.periods)} periods")
    elif report.ok:
        console.print(f"[bold yellow]CHAIN NOT VERIFIED: {SELF_CONSISTENT}[/] ({len(report.periods)} periods)")
        output.print_wrapped(report.unanchored_reason, first="  [yellow]![/] ", out=console)
    else:
        console.print(f"[bold red]CHAIN NOT VERIFIED[/] {len(report.findings)} problem(s)")
        for finding in report.findings:
            output.print_wrapped(finding, first="  [red]✗[/] ", out=console)
    if quiet:
        return
    symbols, totals = _totals(report)
    columns = [
        Column("snapshot", "atom"),
        Column("time", "atom"),
        Column("leaves", "amount"),
        *(Column(sym, "amount") for sym in symbols),
        Column("link"),
        Column("signature"),
    ]
    rows = [
        [
            p.commitment.snapshot_id,
            p.commitment.snapshot_time,
            str(p.commitment.leaf_count),
            *(row[sym] for sym in symbols),
            _LINK[s.link],
            _SIG[s.signature.state] if s.signature else "",
        ]
        for p, s, row in zip(report.periods, report.status, totals)
    ]
    print_table(columns, rows, out=console)
    for note in report.notes:
        output.print_wrapped(note, first="  [yellow]![/] ", out=console)
    if html:
        console.print(f"  wrote {terminal_text(str(html))}")


# --- verify-inclusion / verify-tree support -----------------------------------


def pinned_signer(commitment: Path | None, signer: str | None) -> str | None:
    """The --signer option, checked before any work (bad input is exit 2)."""
    if signer and commitment is None:
        raise InputError(
            "nothing to check the key against: the signature is inside commitment.json, give --commitment",
            field="--signer",
        )
    return _pinned_key(signer)


def verify_periods(proofs: list[Path], options: InclusionOptions) -> int:
    """One customer's proofs over several periods, each checked against its period's commitment."""
    from por.publication.attestation import read_commitment
    from por.publication.history import index_commitments

    if options.root:
        raise InputError("--root pins one period: give --commitment for each period instead", field="--root")
    if options.tree:
        raise InputError("--tree belongs to one period: verify that proof on its own", field="--tree")
    if options.signer and not options.commitments:
        raise InputError(
            "nothing to check the key against: the signature is inside commitment.json, "
            "give --commitment for each period",
            field="--signer",
        )
    pinned_key = _pinned_key(options.signer)
    by_snapshot, findings = index_commitments([read_commitment(c) for c in options.commitments])
    periods = _Periods(by_snapshot, findings, pinned_key, bool(options.commitments), options)
    for path in proofs:
        periods.check(path)
    notes, state = periods.conclude()
    ok = state == "verified"
    if options.json_out:
        output.write_json(periods.to_json(notes, state))
    elif not (options.quiet and ok):
        _print_periods(periods.results, periods.findings, notes, state)
    return 0 if ok else 1


class _Periods:
    """The proofs of `verify_periods` as they are checked: each one's verdict, and what spans them (one
    proof per snapshot, one customer, every commitment used)."""

    def __init__(self, by_snapshot: dict, findings: list[str], pinned_key: str | None, pinned: bool, options):
        self.by_snapshot = by_snapshot
        self.findings = findings
        self.pinned_key = pinned_key
        self.pinned = pinned  # a --commitment was given
        self.options = options
        self.results: list[tuple[Path, str | None, Verdict]] = []
        self.used: set[str] = set()
        self.owners: dict[str, list[str]] = {}
        self.seen: dict[str, str] = {}

    def check(self, path: Path) -> None:
        from por.liabilities.check import check_account, read_candidate
        from por.liabilities.foreign import detect

        raw = read_candidate(path)
        kind_option = self.options.kind_option
        kind = kind_option if kind_option != "auto" else detect.proof_format(raw, str(path))
        snapshot = _peek_snapshot(raw) if kind == "por" else None
        verdict = self._verdict(path, raw, kind, snapshot)
        check_account(verdict, self.options.account, kind)
        owner = verdict.facts.get("account_id")
        if owner is not None:
            self.owners.setdefault(owner, []).append(str(path))
        if snapshot is not None:
            if snapshot in self.seen:
                self.findings.append(f"{path}: a second proof for snapshot {snapshot!r} (first: {self.seen[snapshot]})")
            self.seen.setdefault(snapshot, str(path))
        self.results.append((path, snapshot, verdict))

    def _verdict(self, path: Path, raw: bytes, kind: str, snapshot: str | None) -> Verdict:
        from chains.eip191 import recover_text_signer
        from por.liabilities.check import verify_proof_document
        from por.signing import check

        entry = self.by_snapshot.get(snapshot) if snapshot is not None else None
        if self.pinned and kind != "por":
            return Verdict(
                False,
                [f"an {kind} file names no snapshot: check it alone, with --root and --totals or with --commitment"],
            )
        if self.pinned and entry is None:
            return Verdict(False, [f"no --commitment given for snapshot {snapshot!r}"])
        verdict = verify_proof_document(kind, raw, path, entry[2] if entry else None, None, None)
        if entry and snapshot is not None:
            self.used.add(snapshot)
            result = check(entry[1], self.pinned_key, recover_text_signer)
            verdict.facts["signature"] = result.text
            verdict.facts["signature_state"] = result.state
            if result.failed:
                verdict.fail(f"{entry[0]}: signature: {result.text}")
        return verdict

    def conclude(self) -> tuple[list[str], str]:
        """The notes, and the state over every period: verified, self-consistent or failed."""
        if len(self.owners) > 1:
            self.findings.append("the proofs are of different customers: " + ", ".join(sorted(map(repr, self.owners))))
        notes = [
            f"commitment for snapshot {s!r} ({self.by_snapshot[s][0]}) matches none of the proofs"
            for s in self.by_snapshot
            if s not in self.used
        ]
        if not self.pinned:
            notes.append("roots not compared with published commitments: pass --commitment for each period")
        elif self.pinned_key is None:
            notes.append("signatures: not checked (no key pinned)")
        verdicts = [v for _, _, v in self.results]
        if not self.findings and all(v.verified for v in verdicts):
            return notes, "verified"
        if not self.findings and all(v.state in ("verified", "self-consistent") for v in verdicts):
            return notes, "self-consistent"
        return notes, "failed"

    def to_json(self, notes: list[str], state: str) -> dict[str, Any]:
        return {
            "verified": state == "verified",
            "state": state,
            "findings": self.findings,
            "notes": notes,
            "periods": [
                {
                    "proof": str(p),
                    "snapshot_id": s,
                    "verified": v.verified,
                    "state": v.state,
                    "reasons": v.reasons,
                    "balances": v.facts.get("balances"),
                    "signature": v.facts.get("signature"),
                }
                for p, s, v in self.results
            ],
        }


def _peek_snapshot(raw: bytes) -> str | None:
    """The snapshot id a por proof claims, only to pick its commitment (the full parse comes later)."""
    try:
        doc = json.loads(raw.decode("utf-8-sig"))  # a re-saved proof (BOM) is the same proof
    except (ValueError, UnicodeDecodeError):
        return None
    value = doc.get("snapshot_id") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


_STATE = {"verified": ("✓", "green"), "self-consistent": ("? unanchored", "yellow"), "failed": ("✗", "red")}


def _print_periods(results, findings: list[str], notes: list[str], state: str) -> None:
    from por.cli.output import Column, print_table

    console = output.console()
    console.print(
        {
            "verified": f"[bold green]VERIFIED[/] {len(results)} periods",
            "self-consistent": f"[bold yellow]NOT VERIFIED: {SELF_CONSISTENT}[/]",
            "failed": "[bold red]NOT VERIFIED[/]",
        }[state]
    )
    for finding in findings:
        output.print_wrapped(finding, first="  [red]✗[/] ", out=console)
    symbols = sorted({a for _, _, v in results for a in (v.facts.get("balances") or {})})
    columns = [
        Column("proof", "atom"),
        Column("snapshot", "atom"),
        Column("result"),
        *(Column(sym, "amount") for sym in symbols),
        Column("signature"),
    ]
    rows = [
        [
            str(path),
            snapshot or "-",
            _STATE[v.state],
            *(str((v.facts.get("balances") or {}).get(s, "")) for s in symbols),
            _SIG.get(v.facts.get("signature_state"), "-"),
        ]
        for path, snapshot, v in results
    ]
    print_table(columns, rows, out=console)
    for path, _, v in results:
        mark = "[yellow]![/]" if v.state == "self-consistent" else "[red]✗[/]"
        for reason in v.reasons:
            output.print_wrapped(f"{path}: {reason}", first=f"  {mark} ", out=console)
    for note in notes:
        output.print_wrapped(note, first="  [yellow]![/] ", out=console)
