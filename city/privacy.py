"""What the service publishes of riders: k-anonymity for everyone but the operator.

As MDS does for the cities it serves, a count of distinct riders below
:data:`K_ANONYMITY` (10) is published as null: a small count, with a narrow window and a known
vehicle, can point at a person. Only the operator token (``POGO_API_OPERATOR_TOKEN``) sees
exact small counts, and only it sees rider pseudonyms.

References
----------
Open Mobility Foundation, MDS 2.0 Provider API, "Reports": counts below k are redacted.
"""

from __future__ import annotations

from typing import Final

from city.auth import Access

__all__ = ["K_ANONYMITY", "K_ANONYMITY_NOTE", "published_riders", "sees_riders"]

K_ANONYMITY: Final = 10
K_ANONYMITY_NOTE: Final = (
    f"Distinct rider counts below {K_ANONYMITY} are published as null (k-anonymity, "
    f"k = {K_ANONYMITY}, as MDS does for cities); only the operator token sees them."
)


def sees_riders(access: Access) -> bool:
    """Whether ``access`` sees rider pseudonyms and exact small rider counts."""
    return access == "operator"


def published_riders(count: int, exact: bool) -> int | None:
    """``count`` as published: itself when ``exact`` or at least :data:`K_ANONYMITY`, else None."""
    return count if exact or count >= K_ANONYMITY else None
