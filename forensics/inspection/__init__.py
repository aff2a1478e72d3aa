"""Inspecting a data set before trusting a detector: the shortcut audit."""

from ._audit import PROPERTIES, AuditReport, ShortcutWarning, audit

__all__ = ["PROPERTIES", "AuditReport", "ShortcutWarning", "audit"]
