"""StudySmart: an adaptive study planner."""

__version__ = "0.1.0"
