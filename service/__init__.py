"""The prediction service: a FastAPI app that routes helpdesk tickets with the model in `model`.

`service` imports `model`, never the reverse. Start it with `triage serve` (see `service.app`).
Features live in packages: `predict` (the prediction endpoints) and `review` (everything an
agent touches). Beside them sit the shared parts: settings, keys, errors, logs, metrics,
middleware, the model in service (`model_holder`) with its next steps, the probes, the admin
endpoint and the database (`db`). A feature imports the shared parts, never another feature's
internals; `service.app` assembles the app from the features' routers.
"""
