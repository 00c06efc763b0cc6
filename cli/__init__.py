"""The `triage` command line: train, evaluate, predict, manage model versions, serve."""
