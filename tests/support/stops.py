"""What a source recorded when a vendor's terminal answer stopped it (sources/common/partial.py)."""

from __future__ import annotations

from sources.common.errors import VendorError
from sources.common.partial import STOPS


def stopped_with(source: str, kind: type[VendorError]) -> VendorError:
    """The one error `source` stopped on, which must be a `kind`; fails the test otherwise."""
    errors = STOPS.take(source)
    assert len(errors) >= 1, f"{source} did not stop on a terminal vendor answer"
    assert all(isinstance(e, kind) for e in errors), errors
    return errors[0]
