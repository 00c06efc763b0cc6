"""Tests of service.review: the review store, the hook, the API, the agents' page and retention."""
