"""Shared test set-ups and the suite's own pytest plugins. Nothing here is a test module: test modules
import from here (or get a fixture from ``tests/conftest.py``), never from one another."""
