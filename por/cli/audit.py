"""`por audit`: liabilities tree + reserves at the snapshot + policy → one verdict with reasons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from por.cli import output
from por.text import terminal_text


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)


def audit(
    commitment: Annotated[Path, typer.Option(help="The exchange's commitment.json.")],
    wallets: Annotated[Path, typer.Option(help="Declared wallets (CSV or JSON).")],
    snapshot: Annotated[Path, typer.Option(help="Snapshot file: per chain, height and block hash.")],
    config: Annotated[Path, typer.Option(help="chains.toml: providers per chain.")],
    policy: Annotated[str, typer.Option(help="Policy: full-reserve, jp-fsa, or a TOML file of your own.")],
    tree: Annotated[Optional[Path], typer.Option(help="Full tree: recompute every node before trusting totals.")] = None,
    prices: Annotated[Optional[Path], typer.Option(help="JPY prices: `asset,price_jpy,source,time`.")] = None,
    exchange: Annotated[Optional[str], typer.Option(help="Exchange name bound into ownership messages.")] = None,
    also_claimed: Annotated[Optional[list[Path]], typer.Option(
        "--also-claimed", help="Another exchange's wallet declaration; addresses it also claims are flagged.")] = None,
    reserve_deposits_jpy: Annotated[Optional[str], typer.Option(help="Declared liability-reserve deposits (JPY).")] = None,
    insurance_jpy: Annotated[Optional[str], typer.Option(help="Declared insurance cover (JPY).")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the audit report as JSON here.")] = None,
    html_out: Annotated[Optional[Path], typer.Option("--html", help="Write the audit report as HTML here.")] = None,
) -> int:
    """Does the exchange hold what it owes, under this policy? Exit 0 pass, 1 fail, 2 bad input."""
    from por.audit.run import run_audit
    from por.cli.output import progress_bar

    report = run_audit(commitment=commitment, wallets=wallets, snapshot=snapshot, config=config, policy=policy,
                       tree=tree, prices=prices, exchange=exchange, also_claimed=also_claimed,
                       reserve_deposits_jpy=reserve_deposits_jpy, insurance_jpy=insurance_jpy, progress=progress_bar)
    doc = report.to_json()
    write_reports(doc, json_out, html_out)
    print_audit(doc)
    return 0 if report.ok else 1


def write_reports(doc: dict[str, Any], json_out: Optional[Path], html_out: Optional[Path]) -> None:
    from por.atomic import write_text

    if json_out:
        write_text(json_out, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    if html_out:
        from por.audit.html import render_html

        write_text(html_out, render_html(doc))


def print_audit(doc: dict[str, Any]) -> None:
    from rich.table import Table

    from por.audit.html import percent_text

    console = output.console(soft_wrap=False, piped_width=160)
    table = Table(title=f"Audit of {terminal_text(doc['exchange'])} at {terminal_text(doc['snapshot_id'])} under "
                        f"{terminal_text(doc['policy']['name'])}")
    for column in ("asset", "liabilities", "cold", "hot", "own", "coverage", "surplus", "shortfall", "verdict"):
        # fold, never truncate: an amount cut short with an ellipsis would be a wrong amount
        table.add_column(column, justify="left" if column in ("asset", "verdict") else "right", overflow="fold")
    for a in doc["assets"]:
        coverage = percent_text(a["coverage_ratio"])
        verdict = "[green]pass[/]" if a["verdict"] == "pass" else "[red]fail[/]"
        table.add_row(terminal_text(a["asset"]), a["liabilities"], a["cold"], a["hot"], a["own"], coverage,
                      a["surplus"], a["shortfall"], verdict)
    console.print(table)
    for warning in doc.get("warnings", []):
        console.print(f"  [yellow]![/] {terminal_text(warning)}")
    if doc["verdict"] == "pass":
        console.print("[bold green]PASS[/]: verified reserves cover liabilities under the policy")
    else:
        console.print("[bold red]FAIL[/]")
        for reason in doc["reasons"]:
            console.print(f"  [red]✗[/] {terminal_text(reason)}")
