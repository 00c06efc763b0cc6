"""Run every benchmark and rewrite docs/BENCHMARKS.md with the figures of this run.

    python -m bench.run [--quick] [--training-sizes 1000,10000,100000]

Every figure is a median over repeated runs, next to its reference measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.asgi import asgi_breakdown
from bench.corpus import TICKETS
from bench.inprocess import batch_throughput, one_core, single_ticket
from bench.service import service_benchmark
from bench.training import reference_run, training_run
from model.data import load_tickets
from model.predictor import TriageModel
from model.registry import save_model
from model.train import train

REFERENCE_TRAINING_SIZE = 10_000  # the plain procedure takes minutes beyond this
DOC = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), 0)
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_mib": mem, "python": platform.python_version(),
        **{name: metadata.version(name) for name in ("numpy", "scipy", "scikit-learn", "fastapi", "uvicorn")},
        "load_average_at_start": os.getloadavg(),
    }


def _reference_line(results: dict[str, Any]) -> str:
    ref = results["training_reference"]
    ours = next((r for r in results["training"] if r["size"] == ref["size"]), None)
    ratio = f": {ref['total_s'] / ours['total_s']:.1f}x our time" if ours else ""
    return (f"Reference, same run: the same procedure done the plain way (scikit-learn's vectorizers fitted on every fold, "
            f"the regressions one after another, `CalibratedClassifierCV` cross-validating again for the temperature) "
            f"takes {ref['total_s']:.1f} s for {ref['size']:,} tickets{ratio}.")


def _growth(runs: list[dict[str, Any]], i: int) -> str:
    if i == 0:
        return "-"
    before, now = runs[i - 1], runs[i]
    return f"{now['total_s'] / before['total_s']:.1f}x time for {now['size'] / before['size']:.0f}x tickets"


def write_doc(results: dict[str, Any]) -> None:
    m, s60, s600, b, svc, a = (results[k] for k in ("machine", "single_60", "single_600", "batch", "service", "asgi"))
    lines = [
        "# Benchmarks",
        "",
        f"Written by `python -m bench.run` on {results['date']}. Medians; the reference of each figure was measured in the same run.",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_mib']} MiB; Python {m['python']}, numpy {m['numpy']}, "
        f"scikit-learn {m['scikit-learn']}; load average at start {', '.join(f'{x:.1f}' for x in m['load_average_at_start'])} "
        "(a shared machine: figures move by tens of percent between runs).",
        "",
        "## 1. One ticket, in process (pinned to one core)",
        "",
        "`TriageModel.predict` (cleaning, fast path, route) against `pipeline.predict_proba` of the same saved model.",
        "",
        "| ticket | ours p50 | ours p99 | with explanation p50 | plain scikit-learn p50 | p99 | speed-up (p50) | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in (s60, s600):
        target = "p50 <= 300 us and >= 8x" if r["words"] == 60 else "-"
        lines.append(f"| {r['words']} words | {r['ours_p50_us']:.0f} us | {r['ours_p99_us']:.0f} us | {r['ours_explained_p50_us']:.0f} us | "
                     f"{r['plain_p50_us']:.0f} us | {r['plain_p99_us']:.0f} us | {r['speedup_p50']:.1f}x | {target} |")
    lines += [
        "",
        "## 2. Batches, in process (one core)",
        "",
        f"{b['batch']} tickets of {b['words']} words per call: ours {b['ours_per_s']:.0f} tickets/s "
        f"(runs {b['ours_spread'][0]:.0f}-{b['ours_spread'][1]:.0f}), plain pipeline {b['plain_per_s']:.0f}/s "
        f"(runs {b['plain_spread'][0]:.0f}-{b['plain_spread'][1]:.0f}): {b['ratio']:.1f}x. Target: 20,000/s. "
        f"Per ticket, cleaning takes {b['cleaning_us_per_ticket']:.0f} us and the model on cleaned text (counting, scoring, "
        f"routing) {b['model_us_per_ticket']:.0f} us.",
        "",
        "## 3. The service under load (server pinned to core 0, load from a second process on core 1)",
        "",
        f"`triage serve` with the default model, SQLite review queue, {svc['concurrency']} keep-alive connections, "
        f"{svc['duration_s']:.0f} s per endpoint; ready {svc['ready_s']:.1f} s after start.",
        "",
        "| endpoint | requests/s | p50 | p99 | errors |",
        "|---|---|---|---|---|",
    ]
    for name in ("healthz", "predict"):
        r = svc[name]
        lines.append(f"| {'GET /healthz' if name == 'healthz' else 'POST /v1/predict (60-word tickets)'} | {r['per_s']:.0f} | "
                     f"{r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['errors']} |")
    bt = svc["batch"]
    lines += [
        f"| POST /v1/predict/batch ({bt['batch_size']} tickets, 2 connections) | {bt['per_s']:.1f} ({bt['tickets_per_s']:.0f} tickets/s) | "
        f"{bt['p50_ms']:.0f} ms | {bt['p99_ms']:.0f} ms | {bt['errors']} |",
        "",
        f"Predict throughput is {svc['predict_vs_healthz']:.0%} of /healthz's (median of {len(svc['predict_vs_healthz_rounds'])} rounds in which "
        f"the two took turns: {', '.join(f'{x:.0%}' for x in svc['predict_vs_healthz_rounds'])}; target: at least 60%).",
        "",
        "Inside the server (`bench/asgi.py`: the same app called in process, without HTTP, one core; medians per request):",
        "",
        "| | us |",
        "|---|---|",
        f"| GET /healthz | {a['healthz_us']:.0f} |",
        f"| POST /v1/predict, default explanation (6 terms per label) | {a['predict_us']:.0f} |",
        f"| POST /v1/predict, no explanation (`TRIAGE_EXPLAIN_TERMS=0`) | {a['predict_unexplained_us']:.0f} |",
        f"| of the former: cleaning | {a['cleaning_us']:.0f} |",
        f"| model, explanation, language and response model (`classify`) | {a['classify_us']:.0f} |",
        f"| of which the model alone, with its explanation / without | {a['model_explained_us']:.0f} / {a['model_us']:.0f} |",
        f"| of which language detection | {a['language_us']:.0f} |",
        f"| serialising the response | {a['serialise_us']:.0f} |",
        f"| review-queue writes ({a['review_share']:.0%} of these tickets go to review) | {a['review_share'] * a['review_write_us']:.0f} |",
        f"| the rest: FastAPI's handling of a JSON POST (routing, middleware, body, validation, API-key dependency) | {a['fastapi_us']:.0f} |",
        "",
        "uvicorn's HTTP handling adds to each request what separates the loopback figures above from these.",
        "",
        f"Blind audits were off for these figures. At the default `TRIAGE_AUDIT_RATE` (0.05) {a['audit_share']:.1%} of these tickets "
        f"are picked, and each of those requests also writes an audit to the review queue: {a['audit_write_us'] / 1000:.1f} ms "
        f"(a committed SQLite write), {a['audit_share'] * a['audit_write_us']:.0f} us per request on average.",
        "",
        "## 4. Training",
        "",
        f"Tickets resampled from the shipped ones with word-level perturbations (timing only); on all {m['cores']} cores, a fresh process per size, "
        "loading the CSV (`load_tickets`) and training (`train`) as `triage train` does. Memory: the peak of the proportional "
        "set size summed over the training process and its worker processes (sampled every 0.1 s); beside it the largest "
        "single process. Growth: time per size against the size before it.",
        "",
        "| tickets | load + train | of which load | cross-validated on | peak memory (all processes) | largest process | time growth |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r['size']:,} | {r['total_s']:.1f} s | {r['load_s']:.1f} s | {r['cv_tickets']:,} | {r['peak_pss_mib']:.0f} MiB | "
          f"{r['largest_process_rss_mib']:.0f} MiB | {_growth(results['training'], i)} |" for i, r in enumerate(results["training"])],
        "",
        "Target: 100,000 tickets in at most 60 s under 4 GiB.",
        "",
        _reference_line(results),
        "",
        "## 5. Service memory",
        "",
        f"Resident memory {svc['rss_start_mib']:.0f} MiB after start, {svc['rss_after_load_mib']:.0f} MiB after the load phases, "
        f"{svc['rss_after_mib']:.0f} MiB after {svc['predictions_served']:,} predictions.",
        "",
        "## Raw figures",
        "",
        "```json",
        json.dumps(results, indent=1, default=str),
        "```",
        "",
    ]
    DOC.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short phases (a smoke run, not for the document's figures)")
    parser.add_argument("--training-sizes", default="1000,10000,100000")
    args = parser.parse_args()
    results: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        save_model(train(load_tickets([TICKETS])), model_dir, [TICKETS])
        results["service"] = service_benchmark(model_dir, duration=5 if args.quick else 20)
        with one_core():
            results["asgi"] = asgi_breakdown(model_dir)
            model = TriageModel.load(model_dir)
            results["single_60"] = single_ticket(model, 60)
            results["single_600"] = single_ticket(model, 600)
            results["batch"] = batch_throughput(model, 60)
    # Training uses every core (its cross-validation runs in one worker process per core).
    results["training"] = [training_run(int(n)) for n in args.training_sizes.split(",") if n]
    results["training_reference"] = reference_run(REFERENCE_TRAINING_SIZE)
    write_doc(results)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
