"""hubspoke.iam: an AWS IAM policy evaluation engine.

Evaluates identity-based policies, resource-based policies (bucket, KMS key, model package
group, queue and role trust policies), SCPs along the organization's OU path, permissions
boundaries and session policies, following AWS's documented evaluation logic, including
the cross-account rule (identity AND resource policy must allow).

    world = World.from_json_file("world.json")
    decision = evaluate(world, Request(principal, "s3:GetObject", "arn:aws:s3:::bucket/key"))
    if not decision.allowed:
        print(decision.message)   # worded like AWS's AccessDenied message
"""

from __future__ import annotations

from hubspoke.iam.decision import Decision, DecisionKind, Layer
from hubspoke.iam.errors import PolicyValidationError, RequestError, WorldValidationError
from hubspoke.iam.evaluate import Request, evaluate
from hubspoke.iam.policy import Policy, parse_policy
from hubspoke.iam.world import PrincipalEntry, ResourcePolicy, World

__all__ = [
    "Decision",
    "DecisionKind",
    "Layer",
    "Policy",
    "PolicyValidationError",
    "PrincipalEntry",
    "Request",
    "RequestError",
    "ResourcePolicy",
    "World",
    "WorldValidationError",
    "evaluate",
    "parse_policy",
]
