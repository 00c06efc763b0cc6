"""Tests of service.db, the database every feature's tables live in."""
