"""Seeded case generator for the principalmapper differential test.

Each case is one request plus every policy that bears on it. While generating, the
generator records *features*: constructs for which principalmapper is known to depart from
AWS's documented evaluation logic (the classes are described in
test_differential_principalmapper.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from hubspoke.iam import Request, World, evaluate

ORG_ID = "o-difftest"
NO_STATEMENTS: dict[str, Any] = {"Version": "2012-10-17", "Statement": []}
MGMT = "123456789012"
ACCOUNTS = ("111111111111", "222222222222", "333333333333")
REGION = "us-east-1"
SERVICE_ACTIONS = {
    "s3": ("s3:GetObject", "s3:PutObject", "s3:ListBucket"),
    "sagemaker": ("sagemaker:DescribeModelPackage", "sagemaker:CreateModel"),
    "kms": ("kms:Decrypt", "kms:Encrypt"),
    "sqs": ("sqs:SendMessage",),
    "iam": ("sts:AssumeRole",),
}
ACTION_PATTERNS = (
    "s3:*", "s3:Get*", "s3:?utObject", "S3:GETOBJECT", "sagemaker:Describe*", "sagemaker:*",
    "kms:*", "kms:Decrypt", "sqs:Send*", "sts:AssumeRole", "sts:*", "*",
)  # fmt: skip
CONTEXT_VALUES: dict[str, tuple[Any, ...]] = {
    "hs:team": ("ml", "data", "ML"),
    "hs:env": ("dev", "prod-1", "prod-2"),
    "hs:count": ("1", "5", "20"),
    "aws:SourceIp": ("10.0.0.5", "192.168.1.9"),
    "hs:tags": (["a"], ["a", "b"], ["c"], []),
    "hs:when": ("2024-01-01T00:00:00Z", "2026-06-01T00:00:00Z"),
}


@dataclass
class Case:
    """One generated request with everything both engines need."""

    account: str
    principal_arn: str
    request_principal: str
    action: str
    resource: str
    resource_account: str
    identity: list[dict[str, Any]]
    boundary: dict[str, Any] | None
    session: dict[str, Any] | None
    resource_policy: dict[str, Any] | None
    scp_levels: list[list[tuple[str, dict[str, Any]]]] | None
    context: dict[str, Any]
    features: set[str] = field(default_factory=set)

    @property
    def resource_service(self) -> str:
        return self.resource.split(":")[2]


class Generator:
    """Seeded generator of cases; records features that make principalmapper deviate."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, items: Any) -> Any:
        return self.rng.choice(list(items))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def resources(self, service: str, account: str) -> list[str]:
        bucket = f"arn:aws:s3:::hs-data-{account}"
        return {
            "s3": [f"{bucket}/models/a", f"{bucket}/data/b", bucket],
            "sagemaker": [
                f"arn:aws:sagemaker:{REGION}:{account}:model-package/churn/1",
                f"arn:aws:sagemaker:{REGION}:{account}:model/m1",
            ],
            "kms": [f"arn:aws:kms:{REGION}:{account}:key/k1"],
            "sqs": [f"arn:aws:sqs:{REGION}:{account}:q1"],
            "iam": [f"arn:aws:iam::{account}:role/target"],
        }[service]

    def resource_pattern(self, case: Case) -> str:
        r = case.resource
        options = [r, "*", "*", f"arn:aws:{r.split(':')[2]}:*"]
        if r.startswith("arn:aws:s3:::"):
            bucket = r.split("/")[0]
            options += [f"{bucket}/*", "arn:aws:s3:::hs-data-*/models/*", f"{bucket}",
                        "arn:aws:s3:::hs-data-${aws:PrincipalAccount}/*"]  # fmt: skip
        elif ":sagemaker:" in r:
            options += [
                f"arn:aws:sagemaker:{REGION}:*:model-package/*",
                f"arn:aws:sagemaker:*:{case.resource_account}:*",
            ]
        elif ":kms:" in r:
            options += [f"arn:aws:kms:*:{case.resource_account}:key/*"]
        choice = self.pick(options)
        if choice == r and self.chance(0.3):
            choice = r[:-1] + r[-1].swapcase()  # differs from the resource only in case
            if choice != r:
                case.features.add("resource-case")
        return choice

    def condition(self, case: Case) -> dict[str, Any]:
        acct = self.pick(ACCOUNTS)
        options: list[dict[str, Any]] = [
            {"StringEquals": {"hs:team": self.pick(["ml", ["ml", "data"]])}},
            {"StringNotEquals": {"hs:team": "ml"}},
            {"StringLike": {"hs:env": "prod*"}},
            {"StringNotLike": {"hs:env": "prod-?"}},
            {"StringEqualsIgnoreCase": {"hs:team": "ML"}},
            {"StringEqualsIfExists": {"hs:team": "ml"}},
            {"Bool": {"aws:SecureTransport": self.pick(["true", "false"])}},
            {"BoolIfExists": {"aws:SecureTransport": "true"}},
            {"NumericLessThan": {"hs:count": "10"}},
            {"NumericGreaterThanEquals": {"hs:count": "5"}},
            {"Null": {"hs:team": self.pick(["true", "false"])}},
            {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            {"ForAnyValue:StringEquals": {"hs:tags": ["a", "b"]}},
            {"ForAllValues:StringEquals": {"hs:tags": ["a", "b"]}},
            {"DateLessThan": {"hs:when": "2025-01-01T00:00:00Z"}},
            {"StringEquals": {"aws:PrincipalAccount": acct}},
            {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}},
            {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{acct}:role/*"}},
        ]
        chosen = self.pick(options)
        if "StringNotLike" in chosen and "hs:env" not in case.context:
            case.features.add("string-not-like-missing-key")
        return chosen

    def statement(self, case: Case, *, resource_based: bool, allow_p: float) -> dict[str, Any]:
        out: dict[str, Any] = {"Effect": "Allow" if self.chance(allow_p) else "Deny"}
        own = SERVICE_ACTIONS[case.resource_service]
        actions = [self.pick(own if self.chance(0.5) else ACTION_PATTERNS + own)
                   for _ in range(self.rng.randint(1, 2))]  # fmt: skip
        out["NotAction" if self.chance(0.12) else "Action"] = actions
        if not (resource_based and case.resource_service == "iam"):
            key = "NotResource" if self.chance(0.1) else "Resource"
            out[key] = [self.resource_pattern(case) for _ in range(self.rng.randint(1, 2))]
        if resource_based:
            self.principal(case, out)
        if self.chance(0.3):
            out["Condition"] = self.condition(case)
        return out

    def principal(self, case: Case, out: dict[str, Any]) -> None:
        other = self.pick([a for a in ACCOUNTS if a != case.account])
        root = f"arn:aws:iam::{case.account}:root"
        options: list[Any] = [
            {"AWS": case.principal_arn}, {"AWS": case.account}, {"AWS": root}, "*", {"AWS": "*"},
            {"AWS": f"arn:aws:iam::{other}:role/someone"}, {"AWS": other},
            {"Service": "sagemaker.amazonaws.com"}, {"AWS": [case.principal_arn, case.account]},
        ]  # fmt: skip
        if self.chance(0.12):
            mine = case.principal_arn
            listed = self.pick([[mine, root], [mine], [root], [f"arn:aws:iam::{other}:root"]])
            out["NotPrincipal"] = {"AWS": listed}
            every_level = mine in listed and root in listed and case.request_principal == mine
            if (mine in listed or root in listed) and not every_level:
                case.features.add("not-principal-levels")
            if out["Effect"] == "Deny" and case.boundary is not None:
                case.features.add("not-principal-deny-boundary")
            return
        out["Principal"] = self.pick(options)
        same_account = case.account == case.resource_account
        if out["Effect"] == "Allow" and same_account:
            limited = case.boundary is not None or case.session is not None
            if case.principal_arn in str(out["Principal"]) and limited:
                case.features.add("role-arn-grant-limited")
            if out["Principal"] == {"AWS": "*"}:
                case.features.add("aws-wildcard-principal")

    def document(
        self, case: Case, *, resource_based: bool = False, allow_p: float = 0.88
    ) -> dict[str, Any]:
        statements = [self.statement(case, resource_based=resource_based, allow_p=allow_p)
                      for _ in range(self.rng.randint(1, 3))]  # fmt: skip
        return {"Version": "2012-10-17", "Statement": statements}

    def case(self) -> Case:
        account = self.pick(ACCOUNTS)
        name = self.pick(["app", "svc"])
        principal = f"arn:aws:iam::{account}:role/{name}"
        request_principal = principal
        if self.chance(0.15):
            principal = request_principal = f"arn:aws:iam::{account}:user/{name}"
        elif self.chance(0.6):
            request_principal = f"arn:aws:sts::{account}:assumed-role/{name}/s"
        service = self.pick(SERVICE_ACTIONS)
        resource_account = account if self.chance(0.5) else self.pick(ACCOUNTS)
        context: dict[str, Any] = {"aws:SecureTransport": self.pick(["true", "false"])}
        for key, values in CONTEXT_VALUES.items():
            if self.chance(0.6):
                context[key] = self.pick(values)
        case = Case(
            account, principal, request_principal, self.pick(SERVICE_ACTIONS[service]),
            self.pick(self.resources(service, resource_account)), resource_account,
            [], None, None, None, None, context,
        )  # fmt: skip
        if self.chance(0.25):
            case.boundary = self.document(case, allow_p=0.9)
        if self.chance(0.2):
            case.session = self.document(case, allow_p=0.9)
        case.identity = [self.document(case) for _ in range(self.rng.randint(1, 3))]
        if service in ("kms", "iam") or self.chance(0.6):
            case.resource_policy = self.document(case, resource_based=True)
        if self.chance(0.5):
            scps = [
                (
                    "FullAWSAccess",
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                    },
                )
            ]
            case.scp_levels = [
                [self.pick([*scps, (f"L{level}P{i}", self.document(case, allow_p=0.85))])
                 for i in range(self.rng.randint(1, 2))]
                for level in range(self.rng.randint(2, 3))
            ]  # fmt: skip
        return case


def build_world(case: Case) -> World:
    """The same case as a World: the caller, the resource policy and the OU path."""
    principals: dict[str, Any] = {
        case.principal_arn: {
            "policies": {f"id{i}": d for i, d in enumerate(case.identity)},
            "permissions_boundary": case.boundary,
        }
    }
    resources: dict[str, Any] = {}
    if case.resource_service == "iam":
        if case.resource_policy is not None:
            principals[case.resource] = {"trust_policy": case.resource_policy}
    else:
        governing = case.resource
        if case.resource_service == "s3":
            governing = case.resource.split("/")[0]
        elif ":model-package/" in case.resource:
            governing = case.resource.replace("model-package/churn/1", "model-package-group/churn")
        # A bucket without a policy still has an owner: an empty policy records it.
        policy = case.resource_policy or NO_STATEMENTS
        resources[governing] = {"policy": policy, "account": case.resource_account}
    data: dict[str, Any] = {"principals": principals, "resources": resources}
    if case.scp_levels is not None:
        scps = {name: d for level in case.scp_levels for name, d in level}
        names = [[name for name, _ in level] for level in case.scp_levels]
        others = [a for a in ACCOUNTS if a != case.account]
        ou = {"id": "ou-x", "name": "ou", "policies": names[1], "accounts": [case.account]}
        org: dict[str, Any] = {
            "id": ORG_ID, "management_account": MGMT,
            "root": {"id": "r-x", "policies": names[0], "accounts": [MGMT, *others],
                     "children": [ou]},
        }  # fmt: skip
        if len(names) == 3:
            org["account_policies"] = {case.account: names[2]}
        data.update(organization=org, scps=scps)
    return World.from_dict(data)


def explicit_context(case: Case) -> dict[str, Any]:
    """Context given to both engines (principalmapper derives only some global keys)."""
    ctx = dict(case.context)
    ctx["aws:PrincipalArn"] = case.principal_arn
    ctx["aws:PrincipalAccount"] = case.account
    if case.scp_levels is not None:
        ctx["aws:PrincipalOrgID"] = ORG_ID
    return ctx


def hubspoke_decides(case: Case) -> bool:
    world = build_world(case)
    request = Request(
        case.request_principal, case.action, case.resource, explicit_context(case), case.session
    )
    return evaluate(world, request).allowed
