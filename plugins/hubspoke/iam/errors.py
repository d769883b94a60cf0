"""Errors raised for bad input. Each message is one sentence naming what is wrong."""

from __future__ import annotations

__all__ = ["PolicyValidationError", "RequestError", "WorldValidationError"]


class PolicyValidationError(ValueError):
    """A policy document does not follow the IAM policy grammar.

    ``where`` locates the problem (``Statement[1].Condition.StringEquals``) so that the
    world loader can prefix it with the policy's own location.
    """

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}" if where else problem)


class WorldValidationError(ValueError):
    """The world description is malformed; the message names the offending key."""


class RequestError(ValueError):
    """An evaluation request cannot be evaluated (for example the principal is not an ARN)."""
