"""Failures that a retry cannot fix, whichever stage raises them.

A bad batch, a corrupt model, no champion: retrying reads the same data or the same
file. Each such exception derives from PermanentFailure, so pipeline.py fails the
task at once without importing the stage that raised it.
"""


class PermanentFailure(Exception):
    """Raised by a stage for a failure a retry would only repeat."""
