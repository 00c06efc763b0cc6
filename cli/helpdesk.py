"""`triage helpdesk-worker`, `triage import-freshdesk` and `triage import-zendesk`: the helpdesk
connectors from the command line (settings: TRIAGE_HELPDESK_FILE, see docs/HELPDESK.md).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any


def _since(text: str) -> datetime:
    """A date (2026-01-31) or an ISO time (2026-01-31T08:00:00Z); a time without a zone is UTC."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"write a date such as 2026-01-31 or a time such as 2026-01-31T08:00:00Z (got {text!r})") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_helpdesk_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("helpdesk-worker", help="run the helpdesk worker on its own (it also runs inside `triage serve`)")
    p.add_argument("--database", metavar="URL", help="the service's database (env TRIAGE_DATABASE_URL)")
    p.add_argument("--model", metavar="DIR", help="model directory (env TRIAGE_MODEL; default: the registry's current version)")
    p.add_argument("--registry", metavar="DIR", help="model registry folder (env TRIAGE_REGISTRY, default ./models)")
    p.add_argument("--helpdesk-file", metavar="FILE", help="helpdesk settings (env TRIAGE_HELPDESK_FILE)")
    p.add_argument("--metrics-port", type=int, metavar="PORT", help="serve Prometheus metrics on this port (on TRIAGE_HOST)")
    for name in ("freshdesk", "zendesk"):
        p = sub.add_parser(f"import-{name}", help=f"write {name.title()} tickets as a labelled training file")
        p.add_argument("--since", required=True, type=_since, metavar="DATE", help="tickets updated on or after this date (or ISO time)")
        p.add_argument("--out", required=True, metavar="FILE", help="CSV to write (ticket format: train with --data FILE)")
        p.add_argument("--label-map", metavar="TYPE=LABEL,...", help="ticket type to label, e.g. 'Support=support,Leveransuppgift=delivery' "
                                                                    "(default: the types in the helpdesk settings)")
        p.add_argument("--helpdesk-file", metavar="FILE", help="helpdesk settings (env TRIAGE_HELPDESK_FILE)")


def helpdesk_worker(args: argparse.Namespace) -> int:
    from model.registry import ModelError, verify_model
    from service.app import EXIT_BAD_SETTINGS
    from service.config import ConfigError, load_settings
    from service.helpdesk.runtime import check_helpdesk, check_worker_settings, run_worker_process
    from service.helpdesk.settings import load_helpdesk_settings
    from service.logs import configure_logging
    from service.startup import model_to_serve

    overrides: dict[str, Any] = {k: v for k, v in {"database_url": args.database, "model": args.model, "registry": args.registry,
                                                   "helpdesk_file": args.helpdesk_file}.items() if v is not None}
    try:
        settings = load_settings(overrides)
        configure_logging(settings.log_level)
        helpdesk = load_helpdesk_settings(settings.helpdesk_file)
        check_worker_settings(helpdesk)  # before the model: a worker with nothing to do says so first
        model_dir = model_to_serve(settings, train_if_missing=False)
        check_helpdesk(helpdesk, settings.key_ring, verify_model(model_dir)["labels"])
        return run_worker_process(settings, helpdesk, args.metrics_port)
    except (ConfigError, ModelError, ValueError) as e:
        print(f"triage helpdesk-worker: error: {e}", file=sys.stderr)
        return EXIT_BAD_SETTINGS


def import_tickets(args: argparse.Namespace) -> int:
    from service.config import ConfigError
    from service.helpdesk.base import HelpdeskError
    from service.helpdesk.importer import default_label_map, import_tickets, parse_label_map
    from service.helpdesk.runtime import make_connectors
    from service.helpdesk.settings import FILE_VARIABLE, load_helpdesk_settings

    name = args.command.removeprefix("import-")
    file = Path(args.helpdesk_file) if args.helpdesk_file else None
    if file is None:
        from os import environ

        file = Path(environ[FILE_VARIABLE]) if environ.get(FILE_VARIABLE) else None
    try:
        settings = load_helpdesk_settings(file)
    except ConfigError as e:
        raise ValueError(str(e)) from None
    section = getattr(settings, name)
    if section is None:
        raise ValueError(f"{name} is not configured: give --helpdesk-file (or TRIAGE_HELPDESK_FILE) with a [{name}] section; see docs/HELPDESK.md")
    label_map = parse_label_map(args.label_map) if args.label_map else default_label_map(section)
    connector = make_connectors(settings)[name]
    try:
        summary = import_tickets(connector, args.since, Path(args.out), label_map)
    except HelpdeskError as e:
        print(f"triage {args.command}: error: {name} failed ({e.code}); nothing was written to {args.out}", file=sys.stderr)
        return 1
    finally:
        connector.close_client()
    print(summary.describe())
    print(f"train with it: triage train --data data/tickets.csv --data {args.out} --out DIR")
    return 0
