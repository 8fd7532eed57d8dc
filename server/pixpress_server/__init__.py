"""pixpress server: compress an image while maintaining its current format, over gRPC."""

__version__ = "0.1.0"
