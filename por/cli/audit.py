"""`por audit`: liabilities tree + reserves at the snapshot + policy → one verdict with reasons."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from por.cli import output
from por.cli.options import HtmlLang, JsonOut, Quiet, html_lang


def register(app: typer.Typer, cls: type) -> None:
    app.command(
        "audit",
        cls=cls,
        epilog="por audit --commitment pub/commitment.json --tree pub/tree.bin "
        "--wallets wallets.csv --snapshot snapshot.json --config chains.toml "
        "--policy jp-fsa --volumes volumes.json --insurance insurance.csv "
        "--custodians custodians.csv --statement ja --statement-out statement "
        "--html audit.html",
    )(audit)


AuditCommitment = Annotated[Path, typer.Option(metavar="FILE", help="The exchange's commitment.json.")]
AuditWallets = Annotated[Path, typer.Option(metavar="FILE", help="Declared wallets (CSV or JSON).")]
AuditSnapshot = Annotated[Path, typer.Option(metavar="FILE", help="Snapshot file: per chain, height and block hash.")]
AuditConfig = Annotated[Path, typer.Option(metavar="FILE", help="chains.toml: providers per chain.")]
Policy = Annotated[
    str, typer.Option(metavar="NAME|FILE", help="Policy: full-reserve, jp-fsa, or a TOML file of your own.")
]
AuditTree = Annotated[
    Optional[Path], typer.Option(metavar="FILE", help="Full tree: recompute every node before trusting totals.")
]
Prices = Annotated[Optional[Path], typer.Option(metavar="FILE", help="JPY prices: `asset,price_jpy,source,time`.")]
AuditExchange = Annotated[
    Optional[str],
    typer.Option(
        metavar="NAME",
        help="Exchange name bound into ownership messages (default: the wallets file's, else the commitment's).",
    ),
]
AlsoClaimed = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--also-claimed",
        metavar="FILE",
        help="Another exchange's wallet declaration; addresses it also claims are flagged.",
    ),
]
ReserveDepositsJpy = Annotated[
    Optional[str], typer.Option(metavar="JPY", help="Declared liability-reserve deposits (責任準備金), in yen.")
]
InsuranceJpy = Annotated[
    Optional[str],
    typer.Option(metavar="JPY", help="Declared insurance cover, in yen (shorthand for --insurance without a period)."),
]
Volumes = Annotated[
    Optional[Path],
    typer.Option(
        metavar="FILE",
        help="Monthly trading volumes by category "
        "(JSON, docs/formats/volumes.schema.json): the basis of the "
        "liability reserve under jp-fsa.",
    ),
]
Insurance = Annotated[
    Optional[Path],
    typer.Option(
        metavar="FILE",
        help="Insurance policies (CSV insurer,"
        "policy_number,cover_jpy,valid_from,valid_until); only those "
        "in force on the snapshot date count.",
    ),
]
AuditCustodians = Annotated[
    Optional[Path],
    typer.Option(
        metavar="FILE",
        help="Registry of custodians (CSV "
        "name,registration_number,registered_from,registered_until): "
        "a wallet at a custodian not registered on the snapshot date "
        "does not count.",
    ),
]
AuditCustodySystems = Annotated[
    Optional[Path],
    typer.Option(
        "--custody-systems",
        metavar="FILE",
        help="Custody-system providers' notifications to the FSA (CSV "
        "name,notification_number,notified_from,notified_until): "
        "a wallet run on a provider not notified on the snapshot date "
        "does not count.",
    ),
]
JsonFile = Annotated[
    Optional[Path],
    typer.Option("--json-out", metavar="FILE", help="Also write the audit report as JSON to this file."),
]
HtmlFile = Annotated[
    Optional[Path], typer.Option("--html", metavar="FILE", help="Also write the audit report as HTML to this file.")
]
Statement = Annotated[
    Optional[str],
    typer.Option(
        metavar="ja|en",
        help="Also write the segregation "
        "statement (分別管理の状況), in Japanese or English: HTML and "
        "CSV into --statement-out.",
    ),
]
StatementOut = Annotated[
    Optional[Path],
    typer.Option(
        metavar="DIR", help="Folder for the statement's statement.html and statement-*.csv (created if missing)."
    ),
]


@dataclass(frozen=True)
class AuditOutputs:
    """Where `por audit` shows and writes its report: checked before the slow work, written after it."""

    json_out: bool
    json_file: Optional[Path]
    html_out: Optional[Path]
    lang: str
    statement: Optional[str]
    statement_out: Optional[Path]
    quiet: bool

    def check(self) -> AuditOutputs:
        """Bad options and unwritable files are exit 2 before any work; returns these outputs, --lang checked."""
        from por.atomic import check_output_file

        checked = replace(self, lang=html_lang(self.lang))
        for path, option in ((self.json_file, "--json-out"), (self.html_out, "--html")):
            if path is not None:
                check_output_file(path, option)
        check_statement_options(self.statement, self.statement_out)
        return checked

    def write(self, doc: dict[str, Any]) -> None:
        write_reports(doc, self.json_file, self.html_out, lang=self.lang)
        if self.statement and self.statement_out:
            from por.audit.statement import write_statement

            write_statement(doc, self.statement, self.statement_out)
        if self.json_out:
            output.write_json(doc)
        else:
            print_audit(doc, quiet=self.quiet)


def audit(
    commitment: AuditCommitment,
    wallets: AuditWallets,
    snapshot: AuditSnapshot,
    config: AuditConfig,
    policy: Policy,
    tree: AuditTree = None,
    prices: Prices = None,
    exchange: AuditExchange = None,
    also_claimed: AlsoClaimed = None,
    reserve_deposits_jpy: ReserveDepositsJpy = None,
    insurance_jpy: InsuranceJpy = None,
    volumes: Volumes = None,
    insurance: Insurance = None,
    custodians: AuditCustodians = None,
    custody_systems: AuditCustodySystems = None,
    json_out: JsonOut = False,
    json_file: JsonFile = None,
    html_out: HtmlFile = None,
    lang: HtmlLang = "en",
    statement: Statement = None,
    statement_out: StatementOut = None,
    quiet: Quiet = False,
) -> int:
    """Does the exchange hold what it owes, under this policy? Exit 0 pass, 1 fail, 2 bad input."""
    from por.audit.run import run_audit
    from por.cli.output import progress_bar

    outputs = AuditOutputs(json_out, json_file, html_out, lang, statement, statement_out, quiet).check()

    def progress(description: str, total: int | None):
        return progress_bar(description, total, quiet=quiet or json_out)

    report = run_audit(
        commitment=commitment,
        wallets=wallets,
        snapshot=snapshot,
        config=config,
        policy=policy,
        tree=tree,
        prices=prices,
        exchange=exchange,
        also_claimed=also_claimed,
        reserve_deposits_jpy=reserve_deposits_jpy,
        insurance_jpy=insurance_jpy,
        custodians=custodians,
        custody_systems=custody_systems,
        volumes=volumes,
        insurance=insurance,
        progress=progress,
    )
    outputs.write(report.to_json())
    return 0 if report.ok else 1


def check_statement_options(lang: Optional[str], folder: Optional[Path]) -> None:
    """--statement and --statement-out go together; the folder is checked before the slow work."""
    from por.atomic import check_output_file
    from por.errors import InputError

    if lang is None and folder is None:
        return
    if lang not in ("ja", "en"):
        raise InputError(f"{str(lang)[:10]!r}: the statement is written in ja or en", field="--statement")
    if folder is None:
        raise InputError("where to write the statement: give --statement-out DIR", field="--statement-out")
    check_output_file(folder / "statement.html" if folder.is_dir() else folder, "--statement-out")


def write_reports(doc: dict[str, Any], json_out: Optional[Path], html_out: Optional[Path], *, lang: str = "en") -> None:
    from por.atomic import write_text

    if json_out:
        write_text(json_out, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    if html_out:
        from por.audit.html import render_html

        write_text(html_out, render_html(doc, lang=lang))


# What would change a failing rule: the inputs and options that feed it.
RULE_INPUTS = {
    "coverage": "more verified reserves in the counted wallet types of --wallets; the ratio is the --policy's",
    "cold_storage": "cold wallets (wallet type cold) in --wallets; the ratio is the --policy's",
    "cold_storage/JPY": "cold wallets in --wallets, valued with --prices; the ratio is the --policy's",
    "hot_guarantee": "own wallets (wallet type own) in --wallets; the ratio is the --policy's",
    "custodians": (
        "hold the wallet yourself or at a custodian in the --custodians registry, and run it yourself or on a "
        "provider notified in --custody-systems, on the snapshot date"
    ),
    "liability_reserve": "declare deposits with --reserve-deposits-jpy and insurance in force on the snapshot "
    "date with --insurance FILE or --insurance-jpy (or reserve_deposits_jpy / insurance_jpy "
    "in a --policy file of your own); the requirement comes from --volumes and the --policy",
}


def _rule_inputs(check: dict[str, Any]) -> str:
    key = check["rule"] + ("/JPY" if check["rule"] == "cold_storage" and check["unit"] == "JPY" else "")
    return RULE_INPUTS.get(key, "the --policy's settings")


def _checks(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for a in doc["assets"] for c in a.get("checks", [])] + list(doc.get("checks", []))


def print_audit(doc: dict[str, Any], *, quiet: bool = False) -> None:
    from por.audit.html import percent_text
    from por.cli.output import Column, print_table

    console = output.console()
    if not quiet:
        title = f"Audit of {doc['exchange']} at {doc['snapshot_id']} under {doc['policy']['name']}"
        columns = [
            Column("asset", "atom"),
            *(Column(name, "amount") for name in ("liabilities", "cold", "hot", "own")),
            Column("coverage", "amount"),
            Column("surplus", "amount"),
            Column("shortfall", "amount"),
            Column("verdict"),
        ]
        rows = [
            [
                a["asset"],
                a["liabilities"],
                a["cold"],
                a["hot"],
                a["own"],
                percent_text(a["coverage_ratio"]),
                a["surplus"],
                a["shortfall"],
                _verdict(a["verdict"] == "pass"),
            ]
            for a in doc["assets"]
        ]
        print_table(columns, rows, title=title, out=console)
        console.print()
        _print_rules(doc, console)
        for warning in doc.get("warnings", []):
            output.print_wrapped(warning, first="  [yellow]![/] ", out=console)
    if doc["verdict"] == "pass":
        if not quiet:
            console.print("[bold green]PASS[/]: verified reserves cover liabilities under the policy")
        return
    console.print("[bold red]FAIL[/]")
    hints = {c["reason"]: _rule_inputs(c) for c in _checks(doc) if not c["ok"] and c.get("reason")}
    for reason in doc["reasons"]:
        output.print_wrapped(reason, first="  [red]✗[/] ", out=console)
        if reason in hints:
            output.print_wrapped(f"to change it: {hints[reason]}", first="    ", rest="      ", out=console)


def _print_rules(doc: dict[str, Any], console) -> None:
    """The policy's rules, each with what it required and what was found."""
    from por.cli.output import Column, print_table

    rule_rows = [
        [c["rule"], c["scope"], c["required"], c["actual"], c["unit"], _verdict(c["ok"])] for c in _checks(doc)
    ]
    if rule_rows:
        print_table(
            [
                Column("rule", "atom"),
                Column("scope", "atom"),
                Column("required", "amount"),
                Column("actual", "amount"),
                Column("unit", "atom"),
                Column("verdict"),
            ],
            rule_rows,
            title=f"Rules of the {doc['policy']['name']} policy",
            out=console,
        )
        console.print()


def _verdict(ok: bool) -> tuple[str, str]:
    return ("pass", "green") if ok else ("fail", "red")
