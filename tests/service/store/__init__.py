"""Tests of service.store, the review-queue persistence."""
