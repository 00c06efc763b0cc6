"""`triage` command: one subcommand per job; bad input exits with status 2 and a message."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from model.data import EXPORT_FORMATS, ColumnMap, DataError
from model.decision import DEFAULT_TARGET_PRECISION
from model.registry import ModelError
from service.db.errors import StoreError

EXIT_BAD_INPUT = 2


def _add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", dest="export_format", choices=sorted(EXPORT_FORMATS),
                   help="column names of a helpdesk export (Freshdesk or Zendesk CSV)")
    p.add_argument("--columns", metavar="FIELD=COLUMN,...",
                   help="map your columns onto the fields id, subject, body, text, label, language, e.g. 'body=Description,label=Category'")
    p.add_argument("--encoding", default="utf-8", help="text encoding of the input files (default utf-8)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="triage", description="Helpdesk ticket triage: support or delivery task, or review.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model and write it as a new model directory")
    p.add_argument("--data", action="append", required=True, metavar="FILE", help="CSV or JSON Lines ticket file (repeatable)")
    p.add_argument("--out", required=True, metavar="DIR", help="new model directory to write")
    p.add_argument("--target-precision", type=float, default=DEFAULT_TARGET_PRECISION, metavar="P",
                   help=f"precision auto-routed tickets must reach (default {DEFAULT_TARGET_PRECISION})")
    p.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    _add_input_options(p)

    p = sub.add_parser("evaluate", help="score a model on labelled tickets")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--data", action="append", required=True, metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_input_options(p)

    p = sub.add_parser("predict", help="route every ticket of a file; writes CSV (or JSON Lines for .jsonl)")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--input", required=True, metavar="FILE")
    p.add_argument("--output", required=True, metavar="FILE")
    _add_input_options(p)

    p = sub.add_parser("publish", help="copy a model directory into the registry and make it current")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--registry", default="models", metavar="DIR", help="model registry folder (default ./models)")

    p = sub.add_parser("sign", help="sign model directories made before models were signed, after checking their files")
    p.add_argument("--model", required=True, action="append", metavar="DIR", help="model directory (repeatable, e.g. each version in the registry)")

    p = sub.add_parser("rollback", help="make an earlier registry version current")
    p.add_argument("--registry", default="models", metavar="DIR")
    p.add_argument("--to", metavar="VERSION", help="version to serve (default: the one before the current)")

    p = sub.add_parser("versions", help="list the versions in the registry")
    p.add_argument("--registry", default="models", metavar="DIR")

    p = sub.add_parser("export-reviews", help="write the agents' decided reviews as a training file")
    p.add_argument("--database", required=True, metavar="URL", help="review database, e.g. sqlite:///var/triage.db")
    p.add_argument("--out", required=True, metavar="FILE", help="CSV to write (ticket format: train with --data FILE)")

    p = sub.add_parser("purge-reviews", help="delete decided review items older than the retention period")
    p.add_argument("--database", required=True, metavar="URL")
    p.add_argument("--older-than-days", type=int, required=True, metavar="N")

    from cli.helpdesk import add_helpdesk_parsers
    from cli.serve import add_serve_parser

    add_serve_parser(sub)
    add_helpdesk_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(_run(args) or 0)
    except (DataError, ModelError, ValueError, StoreError) as e:
        print(f"triage {args.command}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:  # a file that cannot be read or written: a full disk, a read-only folder, a folder for a file
        print(f"triage {args.command}: error: {describe_os_error(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT


def describe_os_error(error: OSError) -> str:
    """'PATH: reason' for a file-system error, without the traceback."""
    reason = error.strerror or type(error).__name__
    return f"{error.filename}: {reason}" if error.filename else f"{reason} ({error})"


def _run(args: argparse.Namespace) -> int | None:
    from cli import commands

    if args.command == "serve":
        from cli.serve import serve

        return serve(args)
    if args.command == "helpdesk-worker":
        from cli.helpdesk import helpdesk_worker

        return helpdesk_worker(args)
    if args.command in ("import-freshdesk", "import-zendesk"):
        from cli.helpdesk import import_tickets

        return import_tickets(args)
    columns = ColumnMap.parse(getattr(args, "export_format", None), getattr(args, "columns", None))
    if args.command == "train":
        return commands.train(args.data, Path(args.out), args.target_precision, columns, args.encoding, args.json)
    if args.command == "evaluate":
        return commands.evaluate(Path(args.model), args.data, columns, args.encoding, args.json)
    if args.command == "predict":
        return commands.predict(Path(args.model), args.input, Path(args.output), columns, args.encoding)
    if args.command == "publish":
        return commands.publish(Path(args.model), Path(args.registry))
    if args.command == "sign":
        return commands.sign([Path(m) for m in args.model])
    if args.command == "rollback":
        return commands.rollback(Path(args.registry), args.to)
    if args.command == "versions":
        return commands.versions(Path(args.registry))
    if args.command == "export-reviews":
        return commands.export_reviews(args.database, Path(args.out))
    if args.command == "purge-reviews":
        return commands.purge_reviews(args.database, args.older_than_days)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
