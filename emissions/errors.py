"""Errors of the emissions methodology."""

from __future__ import annotations

__all__ = ["EmissionsError", "ProfileError", "UnknownProfileError"]


class EmissionsError(Exception):
    """Root of the ``emissions`` package's errors."""


class ProfileError(EmissionsError):
    """A methodology profile is inconsistent: a mode share outside [0, 1], shares that do
    not sum to 1, a mode without an emission factor, or a parameter outside its bounds."""


class UnknownProfileError(EmissionsError, KeyError):
    """A profile name that is not one of ``emissions.PROFILES``."""
