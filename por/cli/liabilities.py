"""Liabilities commands: publish, prove, verify-inclusion, verify-tree."""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from por.cli.anchor import AnchorKey, AnchorKeyEnv
from por.cli.options import AnchorConfig, InclusionOptions, JsonOut, PinnedSigner, PublishedTotals, Quiet
from por.errors import InputError, UsageError
from por.text import terminal_text


class ProofFormat(str, enum.Enum):
    auto = "auto"
    por = "por"
    okx_v1 = "okx-v1"
    okx_v2 = "okx-v2"
    okx_stark = "okx-stark"
    bybit = "bybit"
    bitget = "bitget"
    mexc = "mexc"
    coinex = "coinex"
    bitmex = "bitmex"
    merkletreejs = "merkletreejs"
    gate_zk = "gate-zk"
    htx_zk = "htx-zk"
    binance_zk = "binance-zk"


class TreeFormat(str, enum.Enum):
    auto = "auto"
    por = "por"
    okx_v2 = "okx-v2"
    bitmex = "bitmex"
    merkletreejs = "merkletreejs"
    gate_zk = "gate-zk"
    htx_zk = "htx-zk"
    binance_zk = "binance-zk"
    zk_proof_table = "zk-proof-table"


def _choices(kind: type[enum.Enum]) -> str:
    return "|".join(member.value for member in kind)


EXAMPLES = {
    "publish": 'por publish customers.csv --exchange "Example Exchange" -o pub/2024-06',
    "prove": "por prove pub/2024-06 alice -o alice.json; por prove pub/2024-06 --all --out-dir proofs/",
    "verify-inclusion": "por verify-inclusion alice.json --commitment pub/2024-06/commitment.json; "
    "por verify-inclusion --batch proofs/ --commitment pub/2024-06/commitment.json",
    "verify-tree": "por verify-tree pub/2024-06/tree.bin --commitment pub/2024-06/commitment.json",
}


def register(app: typer.Typer, cls: type) -> None:
    for name, command in (
        ("publish", publish),
        ("prove", prove),
        ("verify-inclusion", verify_inclusion),
        ("verify-tree", verify_tree),
    ):
        app.command(name, cls=cls, epilog=EXAMPLES[name])(command)


Customers = Annotated[
    Path, typer.Argument(metavar="CUSTOMERS", help="Customer balances: CSV or Parquet, `account_id,asset,amount`.")
]
PublishOut = Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Publication folder to create.")]
PublishExchange = Annotated[
    str,
    typer.Option(
        metavar="NAME", help="Exchange name, shown on every customer's page and bound into ownership messages."
    ),
]
SnapshotId = Annotated[Optional[str], typer.Option(metavar="ID", help="Snapshot id (default: today's date, UTC).")]
SnapshotTime = Annotated[
    Optional[str],
    typer.Option(metavar="TIME", help="Snapshot time, ISO 8601 UTC, such as 2024-06-01T00:00:00Z (default: now)."),
]
Assets = Annotated[Optional[Path], typer.Option(metavar="FILE", help="Extra `asset,decimals` table.")]
Split = Annotated[int, typer.Option(metavar="N", help="Split each balance over 1..N leaves (OKX-style).")]
Force = Annotated[
    bool, typer.Option("--force", help="Replace an existing publication folder (only one `por publish` wrote).")
]
SignKey = Annotated[
    Optional[Path],
    typer.Option(metavar="FILE", help="Sign commitment.json with this secp256k1 key (a file holding 64 hex digits)."),
]
Previous = Annotated[
    Optional[Path],
    typer.Option(metavar="DIR", help="The previous period's publication folder: link this commitment to it."),
]
Contact = Annotated[
    Optional[str],
    typer.Option(
        metavar="TEXT",
        help="Where customers reach the exchange "
        "(e-mail, web address or phone), shown on verify.html when "
        "a check fails.",
    ),
]
Dask = Annotated[
    Optional[str],
    typer.Option(
        metavar="ADDRESS",
        help="Build on a Dask cluster: scheduler address (tcp://HOST:8786), or `local` for worker processes here.",
    ),
]
Workers = Annotated[
    Optional[int], typer.Option(metavar="N", help="Worker processes for `--dask local` (default: one per CPU).", min=1)
]
Jobs = Annotated[
    Optional[int],
    typer.Option(
        "--jobs",
        metavar="N",
        help="Processes building the tree here (default: one per CPU; the tree is the same for any N).",
        min=1,
        show_default=False,
    ),
]
MaxMemory = Annotated[
    Optional[float],
    typer.Option(
        "--max-memory",
        metavar="GIB",
        help="Peak memory to stay under (default 8): a larger book is built on disk, in sorted runs "
        "(each account's rows together in the file); the publication is the same.",
        show_default=False,
    ),
]
AnchorChain = Annotated[
    Optional[str],
    typer.Option(
        "--anchor",
        metavar="CHAIN",
        help="Then record the commitment's digest on this chain of --config (EVM: its anchor_registry, "
        "sent by --sign-key; Bitcoin: an OP_RETURN from its anchor_address, sent by --anchor-key) "
        "and write anchor.json.",
    ),
]


@dataclass(frozen=True)
class PublishOptions:
    """What `por publish` was asked, checked, handed from the command to the steps that do the work."""

    customers: Path
    out: Path
    exchange: str
    snapshot_id: str
    snapshot_time: Optional[str]
    assets: Optional[Path]
    split: int
    force: bool
    sign_key: Optional[Path]
    previous: Optional[Path]
    contact: Optional[str]
    dask: Optional[str]
    workers: Optional[int]
    jobs: Optional[int]
    quiet: bool
    max_memory: Optional[float] = None


def publish(
    customers: Customers,
    out: PublishOut,
    exchange: PublishExchange,
    snapshot_id: SnapshotId = None,
    snapshot_time: SnapshotTime = None,
    assets: Assets = None,
    split: Split = 1,
    force: Force = False,
    sign_key: SignKey = None,
    previous: Previous = None,
    contact: Contact = None,
    dask: Dask = None,
    workers: Workers = None,
    jobs: Jobs = None,
    max_memory: MaxMemory = None,
    anchor: AnchorChain = None,
    config: AnchorConfig = None,
    anchor_key: AnchorKey = None,
    anchor_key_env: AnchorKeyEnv = None,
    quiet: Quiet = False,
) -> int:
    """Commit to every customer balance: writes commitment.json, tree.bin, verify.html and private/secrets.jsonl."""
    from por.atomic import claim_folder
    from por.cli.anchor import AnchorKeys, check_publish_options, record_anchor
    from por.liabilities.folder import not_a_publication

    snapshot_id, snapshot_time = _check_publish_values(snapshot_id, snapshot_time, exchange, split, jobs, dask)
    keys = AnchorKeys(sign_key, anchor_key, anchor_key_env)
    anchor_config = check_publish_options(anchor, config, keys)
    replace = not_a_publication if force else False
    options = PublishOptions(
        customers,
        out,
        exchange,
        snapshot_id,
        snapshot_time,
        assets,
        split,
        force,
        sign_key,
        previous,
        contact,
        dask,
        workers,
        jobs,
        quiet,
        max_memory,
    )
    _check_publish_paths(options, replace, anchor_key, config)
    with claim_folder(out, replace=replace):
        code = _publish(options)
        if anchor is not None and config is not None:
            record_anchor(out, anchor, config, keys, quiet=quiet, chains=anchor_config)
        return code


def _check_publish_values(
    snapshot_id: Optional[str],
    snapshot_time: Optional[str],
    exchange: str,
    split: int,
    jobs: Optional[int],
    dask: Optional[str],
) -> tuple[str, Optional[str]]:
    """The labels, the time and the numbers of `por publish`, checked before any work; returns the snapshot id
    (default: today, UTC) and the snapshot time in its one spelling."""
    from datetime import datetime

    from por.text import utc_time

    snapshot_id = snapshot_id or datetime.now(UTC).strftime("%Y-%m-%d")
    _check_label(snapshot_id, "snapshot-id")
    _check_label(exchange, "exchange")
    if snapshot_time is not None:
        snapshot_time = utc_time(snapshot_time, "--snapshot-time")
    if split < 1 or split > 64:
        raise InputError("must be between 1 and 64", field="--split")
    if jobs is not None and dask:
        raise InputError(
            "--jobs is for processes here; with --dask the workers build the tree (--workers)", field="--jobs"
        )
    return snapshot_id, snapshot_time


def _check_publish_paths(options: PublishOptions, replace, anchor_key: Optional[Path], config: Optional[Path]) -> None:
    """The output folder is new (or replaceable) and holds none of the inputs, before any work."""
    from por.atomic import check_not_inside, check_output_folder

    check_output_folder(options.out, replaceable=replace or None)
    inputs = {
        "CUSTOMERS": options.customers,
        "--assets": options.assets,
        "--sign-key": options.sign_key,
        "--anchor-key": anchor_key,
        "--previous": options.previous,
        "--config": config,
    }
    check_not_inside(options.out, inputs)


def _publish(options: PublishOptions) -> int:
    import contextlib
    import time

    from por.amounts import AssetTable
    from por.cli.output import progress_bar, progress_shown
    from por.liabilities.external import SpilledBook
    from por.liabilities.ingest import row_count
    from por.liabilities.publish import publish as do_publish
    from por.publication.attestation import publication_extras

    started = time.perf_counter()
    extras = publication_extras(
        previous=options.previous,
        sign_key=options.sign_key,
        snapshot_id=options.snapshot_id,
        snapshot_time=options.snapshot_time,
        exchange=options.exchange,
        contact=options.contact,
    )
    table = AssetTable()
    if options.assets:
        table.extend_from_file(options.assets)
    stack = contextlib.ExitStack()
    rows = row_count(options.customers) if progress_shown(options.quiet) else None
    with progress_bar("reading customers", rows, quiet=options.quiet, unit="rows") as advance:
        liabilities = _read_book(options.customers, table, options.out, options.max_memory, advance, stack)
    loaded = time.perf_counter()
    with stack, progress_bar("building tree", None, quiet=options.quiet, unit="records") as advance:
        commitment = do_publish(
            liabilities,
            options.out,
            exchange=options.exchange,
            snapshot_id=options.snapshot_id,
            snapshot_time=options.snapshot_time,
            max_pieces=options.split,
            force=options.force,
            progress=advance,
            expect=advance.expect,
            extra_files=extras,
            finish_files=extras.finish,
            dask=options.dask,
            dask_workers=options.workers,
            jobs=options.jobs,
        )
    done = time.perf_counter()
    if not options.quiet:
        print(
            f"published {len(liabilities)} accounts in {commitment.leaf_count} leaves (height {commitment.height}) "
            f"to {options.out}"
        )
        print(
            f"wall time {done - started:.1f} s (read customers {loaded - started:.1f} s, "
            f"tree and files {done - loaded:.1f} s{', on Dask' if options.dask else ''}"
            f"{', on disk in sorted runs' if isinstance(liabilities, SpilledBook) else ''})"
        )
        _print_published(commitment, extras, liabilities.warnings, options.out)
    return 0


def _read_book(customers: Path, table, out: Path, max_memory: float | None, progress, stack):
    """The book in memory, or, when it would not fit in `max_memory` GiB, spilled to disk beside `out`
    (por/liabilities/external.py; `stack` removes the spill when the publication is written)."""
    from por.liabilities import external
    from por.liabilities.ingest import load_customers

    if max_memory is not None and max_memory <= 0:
        raise InputError("must be a positive number of GiB", field="--max-memory")
    memory = int((max_memory or 8) * external.GIB)
    if not external.wants_disk_build(customers, memory):
        return load_customers(customers, table, progress=progress)
    return stack.enter_context(external.spilled(customers, table, out, memory, progress))


def _print_published(commitment, extras, warnings: list[str], out: Path) -> None:
    """The root and totals, the link and signer, the manifest: what the exchange publishes next."""
    from por.cli.output import Column, print_table, print_wrapped

    print(f"root {commitment.root.hex()}")
    print_table(
        [Column("asset", "atom"), Column("total", "amount")],
        [[asset.symbol, total] for asset, total in zip(commitment.assets, commitment.to_json()["totals"].values())],
    )
    if extras.link:
        link = extras.link
        print_wrapped(f"linked to previous snapshot {link['snapshot_id']} (sha256 {link['sha256']})", first="")
    if extras.signer:
        print_wrapped(f"signed by {extras.signer}: publish this address where customers can pin it", first="")
    print_wrapped(
        "the root is the fingerprint customers compare on verify.html: publish it on your site and in the "
        "auditor's report",
        first="",
    )
    if extras.manifest:
        print("manifest.json (SHA-256 of every public file; publish it beside them):")
        for entry in extras.manifest["files"]:
            print(f"  {entry['sha256']}  {entry['file']}")
    _print_warnings(warnings)
    print(f"keep {terminal_text(out, markup=False)}/private/ secret: it holds every customer's nonce")


def _print_warnings(warnings: list[str], shown: int = 20) -> None:
    """What publish accepted but a person should look at (ids that mix scripts): listed, never refused."""
    for warning in warnings[:shown]:
        print(f"warning: {terminal_text(warning, markup=False)}")
    if len(warnings) > shown:
        print(f"warning: ... and {len(warnings) - shown} more account ids that mix scripts")


def _check_label(value: str, option: str) -> None:
    if not re.fullmatch(r"[\w.:@+-][\w .:@+/-]{0,199}", value):
        raise InputError(
            f"{value[:40]!r} must be 1-200 letters, digits or . : @ + - / _ and spaces", field=f"--{option}"
        )


Folder = Annotated[Path, typer.Argument(metavar="DIR", help="Publication folder written by `por publish`.")]
AccountIds = Annotated[
    Optional[list[str]],
    typer.Argument(
        metavar="ACCOUNT_ID...",
        help="The customers' account ids (one: a JSON document; several: one compact proof per line).",
        show_default=False,
    ),
]
ProofOut = Annotated[
    Optional[Path], typer.Option("--out", "-o", metavar="FILE", help="Write the proof(s) here (default: stdout).")
]
Every = Annotated[bool, typer.Option("--all", help="Every customer's proof, in one streaming pass (with --out-dir).")]
OutDir = Annotated[
    Optional[Path],
    typer.Option(
        "--out-dir",
        metavar="DIR",
        help="With --all: a new folder "
        "of JSONL shards proofs-XX.jsonl (XX: first byte of "
        "sha256 of the account id); `-`: every line to stdout.",
    ),
]
Sample = Annotated[
    Optional[int],
    typer.Option(
        "--sample",
        metavar="N",
        help="With --all: only N accounts drawn at random (to measure, or to hand an auditor).",
    ),
]

ProveJobs = Annotated[
    Optional[int],
    typer.Option(
        "--jobs",
        metavar="N",
        help="With --all: processes cutting proofs (default: one per CPU; the files are the same for any N).",
        min=1,
        show_default=False,
    ),
]


def keep_freed_pages() -> None:
    """pyarrow's allocator (mimalloc) gives freed pages back to the kernel after every batch, and
    the kernel zeroes them again for the next one: `prove --all` spent a quarter of its system
    time there (benchmarks/PROVE_ALL.md). mimalloc reads this once, when pyarrow loads, so `prove`
    sets it before anything imports pyarrow (publish's memory bound at 100M was measured without
    it), never over a value the user set."""
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")


def prove(
    folder: Folder,
    account_ids: AccountIds = None,
    out: ProofOut = None,
    every: Every = False,
    out_dir: OutDir = None,
    sample: Sample = None,
    jobs: ProveJobs = None,
    quiet: Quiet = False,
) -> int:
    """Cut customers' inclusion proofs (id, nonce, balances, path with sums, root)."""
    keep_freed_pages()
    account_ids = account_ids or []
    if every:
        if account_ids or out:
            raise InputError("--all cuts every proof: give no ACCOUNT_ID and --out-dir, not --out", field="--all")
        if out_dir is None:
            raise InputError("--all needs --out-dir DIR (a new folder), or --out-dir - for stdout", field="--out-dir")
        return _prove_all(folder, out_dir, sample, quiet, jobs)
    if out_dir is not None or sample is not None or jobs is not None:
        raise InputError(
            "--out-dir, --sample and --jobs go with --all",
            field="--out-dir" if out_dir else "--sample" if sample is not None else "--jobs",
        )
    if not account_ids:
        raise UsageError("missing argument ACCOUNT_ID: give one or more, or --all --out-dir DIR", "por prove")
    from por.cli.lean import prove_accounts

    return prove_accounts(folder, account_ids, str(out) if out is not None else None, quiet)


def _prove_all(folder: Path, out_dir: Path, sample: Optional[int], quiet: bool, jobs: Optional[int]) -> int:
    import sys
    import time

    from por.atomic import check_output_folder
    from por.cli.output import progress_bar
    from por.liabilities.allproofs import ShardWriter, choose_sample, count_accounts, cut_every_proof, write_shards
    from por.liabilities.folder import SECRETS_FILE
    from por.liabilities.parallel import jobs_wanted
    from por.liabilities.prove import open_publication

    to_stdout = str(out_dir) == "-"
    if not to_stdout:
        check_output_folder(out_dir, option="--out-dir")
    started = time.perf_counter()
    commitment, tree = open_publication(folder)
    secrets = folder / SECRETS_FILE
    with tree:
        try:
            accounts = count_accounts(secrets)
        except OSError as exc:
            raise InputError(f"cannot read secrets: {exc.strerror}", file=str(secrets)) from None
        chosen = choose_sample(accounts, sample)
        total = accounts if chosen is None else len(chosen)
        with progress_bar("cutting proofs", total, quiet=quiet, unit="proofs") as advance:
            if to_stdout:
                writer = ShardWriter(None, sys.stdout.buffer)
                cut = cut_every_proof(commitment, tree, secrets, writer, sample=chosen, progress=advance)
                sys.stdout.buffer.flush()
            else:
                jobs = jobs_wanted(jobs, total)
                cut = write_shards(commitment, tree, secrets, out_dir, sample=chosen, progress=advance, jobs=jobs)
    seconds = time.perf_counter() - started
    if not quiet and not to_stdout:
        print(
            f"wrote {cut.proofs:,} inclusion proofs ({cut.bytes / 2**20:,.1f} MiB, "
            f"{cut.bytes / max(cut.proofs, 1):,.0f} bytes each) to {out_dir} in {seconds:.1f} s "
            f"({cut.proofs / max(seconds, 1e-9):,.0f} proofs/s)"
        )
        print(f"keep {terminal_text(out_dir, markup=False)} private: every proof holds a customer's nonce")
    elif not quiet:
        print(f"wrote {cut.proofs:,} inclusion proofs ({cut.bytes:,} bytes) in {seconds:.1f} s", file=sys.stderr)
    return 0


def _pinned_root(commitment_path: Optional[Path], root_hex: Optional[str]):
    from por.liabilities.pins import pinned_reference

    return pinned_reference(commitment_path, root_hex)


def _published_totals(path: Optional[Path]):
    from por.liabilities.pins import read_totals

    return read_totals(path) if path else None


Proofs = Annotated[
    Optional[list[Path]],
    typer.Argument(
        metavar="PROOF",
        help="An inclusion proof: por JSON, "
        "OKX, Bybit, Bitget, MEXC, CoinEx, Binance/Gate.io/HTX "
        "zk, a BitMEX or merkletreejs full tree; several: one "
        "customer's periods.",
        show_default=False,
    ),
]
Batch = Annotated[
    Optional[Path],
    typer.Option(
        "--batch",
        metavar="FILE_OR_DIR",
        help="Many customers' proofs "
        "(auditors): a .json proof, a .jsonl file of proofs (one per "
        "line, as `prove --all` writes), or a folder of them; prints a "
        "summary, exit 1 if any fails.",
    ),
]
Commitments = Annotated[
    Optional[list[Path]],
    typer.Option(metavar="FILE", help="The published commitment.json to check against (repeat for several periods)."),
]
PublishedRoot = Annotated[Optional[str], typer.Option(metavar="HEX", help="The published root hash to check against.")]
ProofFormatOption = Annotated[
    ProofFormat, typer.Option("--format", metavar=_choices(ProofFormat), help="Proof format.")
]
ProofTree = Annotated[
    Optional[Path],
    typer.Option(
        metavar="FILE",
        help="Full tree: check the proof's leaves are in it (zk formats: the audit's proof table, proof.csv).",
    ),
]
Account = Annotated[
    Optional[str],
    typer.Option(
        "--account",
        metavar="ID",
        help="Your own account id: the "
        "proof must be for it; a full-tree file (BitMEX, "
        "merkletreejs) is searched for your leaves.",
    ),
]
Nonce = Annotated[
    Optional[str],
    typer.Option(
        "--nonce",
        metavar="HEX",
        help="Your nonce, for a full-tree file (BitMEX: the proof nonce or the account nonce).",
    ),
]
Balances = Annotated[
    Optional[list[str]],
    typer.Option(
        "--balance",
        metavar="ASSET=AMOUNT",
        help="One of your balances, for a merkletreejs file (repeat for each asset).",
    ),
]
InclusionConfig = Annotated[
    Optional[Path],
    typer.Option(
        "--config",
        metavar="FILE",
        help="The audit's asset list "
        "(zk formats: cex_config.json or config.json, with "
        "CexAssetsInfo); with --anchor: chains.toml.",
    ),
]
CheckAnchor = Annotated[
    bool,
    typer.Option(
        "--anchor",
        help="Check on chain that the commitment is the one "
        "anchored for its period, and the only one (needs --commitment and "
        "--config chains.toml).",
    ),
]


def verify_inclusion(
    proofs: Proofs = None,
    batch: Batch = None,
    commitment: Commitments = None,
    root: PublishedRoot = None,
    signer: PinnedSigner = None,
    format: ProofFormatOption = ProofFormat.auto,
    tree: ProofTree = None,
    totals: PublishedTotals = None,
    account: Account = None,
    nonce: Nonce = None,
    balance: Balances = None,
    config: InclusionConfig = None,
    anchor: CheckAnchor = False,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> int:
    """Check that a customer's balance is included in the committed liabilities."""
    from por.cli.history import verify_periods
    from por.liabilities.check import pinned_account

    commitments = commitment or []
    if batch is not None:
        if proofs or len(commitments) > 1 or totals or signer or tree or account or nonce or balance or config:
            raise InputError(
                "--batch checks many customers' proofs against one --commitment (or --root): "
                "give no PROOF, --totals, --signer, --tree or customer options",
                field="--batch",
            )
        return _verify_batch(batch, commitments[0] if commitments else None, root, format, json_out, quiet)
    if not proofs:
        raise UsageError("missing argument PROOF: give a proof file, or --batch FILE_OR_DIR", "por verify-inclusion")
    periods = len(proofs) > 1 or len(commitments) > 1
    if totals and periods:
        raise InputError("--totals pins one period: verify each proof on its own", field="--totals")
    account = pinned_account(account)
    customer = _customer(account, nonce, balance or [])
    if (customer.nonce is not None or customer.balances or config) and periods:
        raise InputError(
            "--nonce, --balance and --config check one file: verify each on its own",
            field="--config" if config else "--nonce",
        )
    chains_toml, config = _anchor_config(anchor, config, proofs, commitments)
    options = InclusionOptions(
        commitments, root, signer, format.value, tree, totals, customer, account, config, chains_toml, json_out, quiet
    )
    if periods:
        return verify_periods(proofs, options)
    return _verify_one(proofs[0], options)


def _anchor_config(
    anchor: bool, config: Optional[Path], proofs: list[Path], commitments: list[Path]
) -> tuple[Optional[Path], Optional[Path]]:
    """--config is chains.toml with --anchor, else the audit's asset list: (chains.toml, asset list)."""
    chains_toml, config = (config, None) if anchor else (None, config)
    if anchor and (len(proofs) > 1 or len(commitments) != 1):
        raise InputError("--anchor checks one period: one proof and its --commitment", field="--anchor")
    if anchor and chains_toml is None:
        raise InputError("--anchor needs --config chains.toml (providers and anchor_registry)", field="--config")
    return chains_toml, config


def _verify_one(proof: Path, options: InclusionOptions) -> int:
    """One proof against what is pinned: the commitment (its signature, its anchor) or a root."""
    from por.cli.history import pinned_signer
    from por.cli.lean import finish_inclusion
    from por.cli.output import emit_verdict
    from por.liabilities.check import read_document, verify_proof_document
    from por.liabilities.foreign import detect

    commitment = options.commitments[0] if options.commitments else None
    pinned_key = pinned_signer(commitment, options.signer)
    raw = read_document(proof)
    pinned, root_bytes, doc = _pinned_root(commitment, options.root)
    kind = options.kind_option if options.kind_option != "auto" else detect.proof_format(raw, str(proof))
    verdict = verify_proof_document(
        kind,
        raw,
        proof,
        pinned,
        root_bytes,
        options.tree,
        _published_totals(options.totals),
        options.customer,
        options.config,
    )
    finish_inclusion(verdict, kind, options.account, commitment, doc, pinned_key, options.chains_toml)
    return emit_verdict(verdict, as_json=options.json_out, title=f"inclusion of {proof}", quiet=options.quiet)


def _verify_batch(
    target: Path, commitment: Optional[Path], root: Optional[str], format: ProofFormat, json_out: bool, quiet: bool
) -> int:
    """Every proof under `target`, one verdict each; a summary table, or every verdict with --json."""
    from por.cli.output import progress_bar, write_json
    from por.liabilities.batch import proof_files, verify_batch
    from por.liabilities.foreign import detect
    from por.liabilities.pins import check_usage

    pinned, root_bytes, doc = _pinned_root(commitment, root)
    pins = check_usage(pinned, root_bytes, None, doc)
    files, skipped = proof_files(target)
    if not files:
        raise InputError("no proofs here (*.json or *.jsonl files)", file=str(target), field="--batch")
    kind_of = (lambda raw, source: format.value) if format != ProofFormat.auto else detect.proof_format
    tally = _BatchTally(keep_records=json_out)
    with progress_bar("verifying proofs", None, quiet=quiet or json_out, unit="proofs") as advance:
        for checked in verify_batch(files, pins, kind_of):
            tally.add(checked.source, checked.verdict)
            advance(1)
    ok = tally.ok
    if json_out:
        write_json(
            {
                "verified": ok,
                "proofs": tally.total,
                "counts": dict(tally.states),
                "skipped": [str(p) for p in skipped],
                "not_checked": dict(tally.unchecked),
                "results": tally.records,
            }
        )
    elif not (quiet and ok):
        tally.print(target, skipped)
    return 0 if ok else 1


class _BatchTally:
    """The verdicts of a batch counted as they come: by state, and by reason with the first proof that gave it."""

    def __init__(self, *, keep_records: bool):
        from collections import Counter

        self.keep_records = keep_records  # --json lists every proof's verdict
        self.states: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.example: dict[str, str] = {}
        self.unchecked: Counter[str] = Counter()  # what was not checked, as `verify-inclusion PROOF` says it
        self.records: list[dict[str, Any]] = []

    def add(self, source: str, verdict) -> None:
        self.states[verdict.state] += 1
        for reason in verdict.reasons:
            key = reason.removeprefix(source + ": ").removeprefix(source.split(":")[0] + ": ")
            self.reasons[key] += 1
            self.example.setdefault(key, source)
        self.unchecked.update(verdict.facts.get("not_checked", ()))
        if self.keep_records:
            self.records.append(
                {
                    "source": source,
                    "verified": verdict.verified,
                    "state": verdict.state,
                    "account_id": verdict.facts.get("account_id"),
                    "reasons": verdict.reasons,
                    "not_checked": verdict.facts.get("not_checked", []),
                }
            )

    @property
    def total(self) -> int:
        return sum(self.states.values())

    @property
    def ok(self) -> bool:
        return self.states["verified"] == self.total and self.total > 0

    def print(self, target: Path, skipped: list[Path]) -> None:
        from por.cli.output import Column, console, print_table

        out = console()
        total, states, reasons = self.total, self.states, self.reasons
        head = "[bold green]VERIFIED[/]" if self.ok else "[bold red]NOT VERIFIED[/]"
        out.print(
            f"{head} {total:,} proofs from {terminal_text(target)}: {states['verified']:,} verified, "
            f"{total - states['verified']:,} not"
        )
        print_table(
            [Column("result", "atom"), Column("proofs", "amount")],
            [[state, str(states[state])] for state in ("verified", "self-consistent", "failed")],
            out=out,
        )
        if reasons:
            print_table(
                [Column("reason", "text"), Column("proofs", "amount"), Column("first", "text")],
                [
                    [terminal_text(r, markup=False), str(n), terminal_text(self.example[r], markup=False)]
                    for r, n in reasons.most_common(20)
                ],
                out=out,
            )
            if len(reasons) > 20:
                out.print(f"  ... and {len(reasons) - 20} more reasons (--json lists every proof's)")
        for what, count in self.unchecked.most_common():
            out.print(f"  not checked: {terminal_text(what)} ({count:,} proofs)")
        _print_skipped(out, skipped)


def _print_skipped(out, skipped: list[Path]) -> None:
    """The files a batch did not read: por's own documents by name and format, the rest counted."""
    from por.liabilities.batch import por_document

    named = [(path, kind) for path in skipped if (kind := por_document(path))]
    if named:
        shown = ", ".join(f"{terminal_text(str(p))} ({k})" for p, k in named[:10])
        more = f" and {len(named) - 10} more (--json lists them)" if len(named) > 10 else ""
        out.print(f"  skipped {len(named)} of por's own files that are not proofs: {shown}{more}")
    if len(skipped) > len(named):
        out.print(f"  skipped {len(skipped) - len(named)} files that are not .json or .jsonl proofs")


def _customer(account: Optional[str], nonce: Optional[str], balances: list[str]):
    """The customer's own details (`--account`, `--nonce`, `--balance ASSET=AMOUNT`)."""
    from por.liabilities.foreign.common import Customer

    pairs = []
    for item in balances:
        asset, sep, amount = item.partition("=")
        if not sep or not asset.strip() or not amount.strip():
            raise InputError(f"{item[:40]!r}: expected ASSET=AMOUNT, e.g. btc=0.5", field="--balance")
        pairs.append((asset.strip(), amount.strip()))
    return Customer(account=account, nonce=nonce, balances=tuple(pairs))


TreeArgument = Annotated[
    Path, typer.Argument(metavar="TREE", help="Full liabilities tree: por tree.bin or OKX V2 full-tree text.")
]
TreeFormatOption = Annotated[TreeFormat, typer.Option("--format", metavar=_choices(TreeFormat), help="Tree format.")]
TreeCommitment = Annotated[
    Optional[Path], typer.Option(metavar="FILE", help="commitment.json: root and totals must match.")
]
TreeRoot = Annotated[Optional[str], typer.Option(metavar="HEX", help="Root hash the tree must have.")]
TreeConfig = Annotated[
    Optional[Path],
    typer.Option(
        "--config",
        metavar="FILE",
        help="The audit's asset list (zk proof tables: cex_config.json or config.json, with CexAssetsInfo).",
    ),
]


def verify_tree(
    tree: TreeArgument,
    format: TreeFormatOption = TreeFormat.auto,
    commitment: TreeCommitment = None,
    root: TreeRoot = None,
    signer: PinnedSigner = None,
    totals: PublishedTotals = None,
    config: TreeConfig = None,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> int:
    """Recompute every node of a full liabilities tree (hashes and sums), streaming."""
    from por.cli.history import pinned_signer
    from por.cli.output import emit_verdict, progress_bar, progress_shown
    from por.liabilities.check import read_head, verify_tree_document
    from por.liabilities.foreign import detect
    from por.liabilities.treefile import nodes_to_check
    from por.publication.verify import signature_facts

    pinned_key = pinned_signer(commitment, signer)
    head = read_head(tree)
    pinned, root_bytes, doc = _pinned_root(commitment, root)
    kind = format.value if format != TreeFormat.auto else detect.tree_format(head, str(tree))
    shown = progress_shown(quiet or json_out)
    total = nodes_to_check(tree) if shown and kind == "por" else None
    with progress_bar("verifying tree", total, quiet=not shown, unit="nodes") as advance:
        verdict = verify_tree_document(
            kind, tree, pinned, root_bytes, totals=_published_totals(totals), progress=advance, config=config
        )
    signature_facts(verdict, commitment, pinned_key, doc=doc)
    if verdict.anchor is None:
        verdict.facts.setdefault("notes", []).append(
            "pin what the exchange published, from a source you trust: --commitment commitment.json"
        )
    return emit_verdict(verdict, as_json=json_out, title=f"tree {tree}", quiet=quiet)
