"""The validation gate: Great Expectations 1.x on each staged partition."""

from .gate import ValidationFailed, validate

__all__ = ["ValidationFailed", "validate"]
