"""The prediction service: a FastAPI app that routes helpdesk tickets with the model in `model`.

`service` imports `model`, never the reverse. Start it with `triage serve` (see `service.main`).
"""
