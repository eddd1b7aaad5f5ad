"""`por audit`: liabilities tree + reserves at the snapshot + policy → one verdict with reasons."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import typer


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
    import asyncio

    from por.audit.policy import load_policy
    from por.audit.prices import load_prices, parse_price
    from por.audit.reconcile import ReconcileOptions, check_prices, reconcile
    from por.cli.output import progress_bar
    from por.cli.reserves import load_reserves_inputs
    from por.liabilities.porjson import parse_commitment
    from por.reserves.read import read_reserves
    from por.strictjson import load_file

    pinned = parse_commitment(load_file(commitment), str(commitment))
    rules = load_policy(policy)
    price_table = load_prices(prices) if prices else None
    liabilities = {a.symbol: total for a, total in zip(pinned.assets, pinned.totals)}
    check_prices(rules, liabilities, price_table)
    declared, snap, chains, exchange = load_reserves_inputs(wallets, snapshot, config, exchange or pinned.exchange)
    options = ReconcileOptions(
        also_claimed=_claims_of_others(also_claimed or []),
        reserve_deposits_jpy=None if reserve_deposits_jpy is None else parse_price(reserve_deposits_jpy),
        insurance_jpy=None if insurance_jpy is None else parse_price(insurance_jpy))

    reasons: list[str] = []
    tree_verified = None
    if tree is not None:
        from por.liabilities.treefile import verify_tree_file

        with progress_bar("recomputing the liabilities tree", pinned.leaf_count) as advance:
            tree_verdict = verify_tree_file(tree, pinned, progress=advance)
        tree_verified = tree_verdict.ok
        reasons += [f"liabilities tree: {r}" for r in tree_verdict.reasons]
    if snap.snapshot_id != pinned.snapshot_id:
        reasons.append(f"the snapshot file is for {snap.snapshot_id!r}, the commitment for {pinned.snapshot_id!r}")
    with progress_bar("reading reserves at the snapshot", len(declared)) as advance:
        reserves = asyncio.run(read_reserves(declared, snap, chains, exchange, progress=advance))
    decimals = {a.symbol: a.decimals for a in pinned.assets} | {a.asset: a.decimals for a in reserves.assets.values()}
    result = reconcile(liabilities, reserves.rows, rules, assets=decimals, prices=price_table, options=options)
    reasons += [f"ownership proof failed for {r.wallet.chain} {r.wallet.address} ({r.wallet.source}): "
                f"{r.ownership.reason}" for r in reserves.rows if not r.ownership.ok]
    reasons += result.reasons
    doc = result.to_json()
    doc.update(
        verdict="pass" if not reasons else "fail", ok=not reasons, reasons=reasons,
        exchange=exchange, snapshot_id=pinned.snapshot_id, generated_at=_now(), por_version=_version(),
        liabilities={"root": pinned.root.hex(), "leaf_count": pinned.leaf_count, "tree_verified": tree_verified,
                     "totals": pinned.to_json()["totals"]},
        chains=reserves.to_json()["chains"])
    _write_reports(doc, json_out, html_out)
    _print(doc)
    return 0 if not reasons else 1


def _claims_of_others(paths: list[Path]) -> dict[tuple[str, str], str]:
    from por.reserves.inputs import load_wallets

    claims = {}
    for path in paths:
        wallets, name = load_wallets(path)
        for w in wallets:
            claims[(w.chain, w.address)] = name or path.stem
    return claims


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version() -> str:
    from por import __version__

    return __version__


def _write_reports(doc: dict[str, Any], json_out: Optional[Path], html_out: Optional[Path]) -> None:
    from por.atomic import write_text

    if json_out:
        write_text(json_out, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    if html_out:
        from por.audit.html import render_html

        write_text(html_out, render_html(doc))


def _print(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from por.audit.html import percent_text

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=160)
    table = Table(title=f"Audit of {escape(doc['exchange'])} at {escape(doc['snapshot_id'])} under "
                        f"{escape(doc['policy']['name'])}")
    for column in ("asset", "liabilities", "cold", "hot", "own", "coverage", "surplus", "shortfall", "verdict"):
        # fold, never truncate: an amount cut short with an ellipsis would be a wrong amount
        table.add_column(column, justify="left" if column in ("asset", "verdict") else "right", overflow="fold")
    for a in doc["assets"]:
        coverage = percent_text(a["coverage_ratio"])
        verdict = "[green]pass[/]" if a["verdict"] == "pass" else "[red]fail[/]"
        table.add_row(escape(a["asset"]), a["liabilities"], a["cold"], a["hot"], a["own"], coverage,
                      a["surplus"], a["shortfall"], verdict)
    console.print(table)
    for warning in doc.get("warnings", []):
        console.print(f"  [yellow]![/] {escape(warning)}")
    if doc["verdict"] == "pass":
        console.print("[bold green]PASS[/]: verified reserves cover liabilities under the policy")
    else:
        console.print("[bold red]FAIL[/]")
        for reason in doc["reasons"]:
            console.print(f"  [red]✗[/] {escape(reason)}")
