"""Why bisect booted a build: the phase each ``run`` event of the journal names."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    """The part of a bisect a boot belongs to; its value is the journal's ``phase`` text."""

    ENDPOINT = "endpoint"  # deciding the good or the bad endpoint
    CANDIDATE = "candidate"  # a build between them, asked by the strategy
    VERIFY = "verify"  # the answer's last good and first bad builds booted again
    REVERT = "revert"  # the bad endpoint with the culprit reverted
