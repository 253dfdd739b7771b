"""Tests of the pure planner (planning.engine)."""
