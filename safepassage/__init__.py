"""SafePassage: safe, voluntary return and reintegration of victims of trafficking."""

__version__ = "0.1.0"
