"""Predictions: `POST /v1/predict`, `POST /v1/predict/batch` and `GET /v1/model`, with their schemas."""
