"""Tests of service.predict, the prediction endpoints."""
