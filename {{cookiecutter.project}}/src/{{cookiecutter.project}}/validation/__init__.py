"""The validation gate: Great Expectations 1.x on each staged partition."""

from .gate import ValidationFailed, validate, validate_features

__all__ = ["ValidationFailed", "validate", "validate_features"]
