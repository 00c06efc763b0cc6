"""`triage serve`: start the prediction service (FastAPI under uvicorn)."""

from __future__ import annotations

import argparse


def _threshold(text: str) -> tuple[str, float]:
    """Parse LABEL=VALUE, e.g. delivery=0.8."""
    label, sep, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not sep or not label.strip() or number != number:
        raise argparse.ArgumentTypeError(f"write LABEL=VALUE, e.g. delivery=0.8 (got '{text}')")
    return label.strip(), number


def add_serve_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="run the prediction service with its review page")
    p.add_argument("--host", help="address to listen on (env TRIAGE_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (env TRIAGE_PORT, default 8000)")
    p.add_argument("--model", metavar="DIR", help="model directory to serve (env TRIAGE_MODEL; default: current version in the registry)")
    p.add_argument("--registry", metavar="DIR", help="model registry folder (env TRIAGE_REGISTRY, default ./models)")
    p.add_argument("--database", metavar="URL", help="review-queue database URL (env TRIAGE_DATABASE_URL, default SQLite under ./var)")
    p.add_argument("--threshold", action="append", type=_threshold, metavar="LABEL=VALUE",
                   help="override one label's threshold, e.g. delivery=0.8 (repeatable; env TRIAGE_THRESHOLDS as JSON)")
    p.add_argument("--target-precision", type=float, metavar="P",
                   help="re-choose the thresholds for this precision (env TRIAGE_TARGET_PRECISION; default: the model's)")
    p.add_argument("--api-keys-file", metavar="FILE", help="API keys with roles (env TRIAGE_API_KEYS_FILE); see docs/SERVICE.md")
    p.add_argument("--helpdesk-file", metavar="FILE", help="helpdesk connector settings (env TRIAGE_HELPDESK_FILE); see docs/HELPDESK.md")
    p.add_argument("--train-if-missing", action="store_true",
                   help="train a model from the shipped data when the registry is empty (what `make run` does)")


def serve(args: argparse.Namespace) -> int:
    from service.app import run

    overrides = {k: v for k, v in {
        "host": args.host, "port": args.port, "model": args.model, "registry": args.registry,
        "database_url": args.database, "thresholds": dict(args.threshold) if args.threshold else None,
        "target_precision": args.target_precision, "api_keys_file": args.api_keys_file, "helpdesk_file": args.helpdesk_file,
    }.items() if v is not None}
    return run(overrides, train_if_missing=args.train_if_missing)
