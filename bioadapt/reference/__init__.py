"""Grid-independent reference solutions of networks."""

from .event_driven import ReferenceResult, reference_run

__all__ = ["ReferenceResult", "reference_run"]
