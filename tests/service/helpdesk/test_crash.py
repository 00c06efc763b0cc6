"""`triage serve` killed with SIGKILL between accepting an event and writing back, then restarted
on the same database (SQLite and PostgreSQL): the ticket is handled exactly once.

Two moments are hit on purpose, by holding a request in the Freshdesk stand-in: before anything
was written (the worker is fetching the ticket), and after the note was written but before the
service heard back (so its progress does not yet record the note).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.helpdesk.jobs import JobStore
from tests.server_process import free_port, start_serve, stop
from tests.service.helpdesk.conftest import WEBHOOK_KEY, keys_file, wait_for
from tests.service.helpdesk.freshdesk_standin import FreshdeskStandIn
from tests.service.helpdesk.test_writeback import DELIVERY_SV

START_SECONDS = 60
LEASE_SECONDS = 3  # a killed worker's job is taken over this long after its last step


class Server:
    """`triage serve` with Freshdesk at the stand-in, every ticket auto-routed."""

    def __init__(self, folder: Path, model_dir: Path, database_url: str, standin: FreshdeskStandIn):
        self.folder, self.model_dir, self.database_url, self.standin = folder, model_dir, database_url, standin
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        settings = folder / "helpdesk.toml"
        settings.write_text(f'mode = "suggest"\n\n[freshdesk]\nbase_url = "{standin.base_url}"\n\n'
                            f"[worker]\npoll_seconds = 0.1\nlease_seconds = {LEASE_SECONDS}\ntimeout_seconds = 30\n")
        self.env = {"TRIAGE_HELPDESK_FILE": str(settings), "TRIAGE_HELPDESK_FRESHDESK__API_KEY": standin.api_key,
                    "TRIAGE_THRESHOLDS": '{"delivery": 0.5, "support": 0.5}'}

    def start(self) -> None:
        args = ["--model", str(self.model_dir), "--api-keys-file", str(keys_file(self.folder)), "--database", self.database_url]
        self.process = start_serve(args, self.folder, self.env, self.port, START_SECONDS)

    def event(self, ticket: int) -> None:
        r = httpx.post(f"http://127.0.0.1:{self.port}/v1/helpdesk/freshdesk/events", json={"freshdesk_webhook": {"ticket_id": ticket}},
                       headers={"X-API-Key": WEBHOOK_KEY}, timeout=10)
        assert r.status_code == 202 and r.json()["status"] == "queued", f"the event is accepted: {r.status_code} {r.text}"

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(timeout=15) == -signal.SIGKILL, "the server dies by SIGKILL, with no chance to clean up"

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path, model_a: Path, freshdesk: FreshdeskStandIn) -> Iterator[Server]:
    url = f"sqlite:///{tmp_path / 'var' / 'triage.db'}" if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))
    running = Server(tmp_path, model_a, url, freshdesk)
    try:
        yield running
    finally:
        running.stop()


def _handled_once(server: Server, ticket: int) -> None:
    standin = server.standin
    wait_for(lambda: standin.calls_to("PUT", f"/api/v2/tickets/{ticket}"), seconds=60, what="the restarted service to finish the ticket")
    jobs = JobStore(server.database_url)
    try:
        wait_for(lambda: (job := jobs.find("freshdesk", "ticket", str(ticket))) is not None and job.state == "done", what="the job to be done")
    finally:
        jobs.close()
    assert len(standin.notes(ticket)) == 1, f"exactly one note after the crash and restart, got {len(standin.notes(ticket))}"
    assert standin.tickets[ticket]["tags"] == ["triage-delivery"], f"the tag is there once: {standin.tickets[ticket]['tags']}"
    assert len(standin.calls_to("PUT", f"/api/v2/tickets/{ticket}")) == 1, "the ticket is updated once"


def test_killed_before_writing_back(server: Server) -> None:
    ticket = server.standin.add_ticket(*DELIVERY_SV)
    hold = server.standin.hold("GET", f"/api/v2/tickets/{ticket}")
    server.start()
    server.event(ticket)
    assert hold.reached.wait(30), "the worker starts on the job"
    server.kill()
    hold.release.set()  # the held request now answers a dead connection
    assert not server.standin.notes(ticket), "nothing was written before the kill"
    server.start()
    _handled_once(server, ticket)


def test_killed_after_the_note_was_written_but_not_recorded(server: Server) -> None:
    ticket = server.standin.add_ticket(*DELIVERY_SV)
    hold = server.standin.hold("POST", f"/api/v2/tickets/{ticket}/notes", after=True)
    server.start()
    server.event(ticket)
    assert hold.reached.wait(30), "the worker writes the note"
    server.kill()
    hold.release.set()
    assert len(server.standin.notes(ticket)) == 1, "the note exists in Freshdesk though the service never heard back"
    server.start()
    _handled_once(server, ticket)
