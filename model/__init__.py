"""Training and prediction: text cleaning, data, pipeline, thresholds, registry. Never imports `service`."""
