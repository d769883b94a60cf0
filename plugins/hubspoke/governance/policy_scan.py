"""Static scan of every policy document in the World for grants that are too wide.

Behavioural invariants prove what the layers allow together; this scan holds each layer to
least privilege on its own, so a widened resource policy is caught even while an SCP still
hides it. Findings (Allow statements only; SCPs are guardrails, not grants), one invariant
per group:

* ``Action: "*"`` or ``NotAction`` in any policy;
* a wildcard action that is not read-only (``sagemaker:*``, ``s3:*Object``, ``iam:Pass*``):
  only ``Get*``/``List*``/``Describe*``/... patterns may use ``*``;
* in identity policies, any action on ``Resource: "*"`` (or with ``NotResource``) unless listed
  in :data:`ANY_RESOURCE_ALLOWED` with the reason it cannot be scoped;
* in resource and trust policies, ``Principal: "*"`` without a condition that confines it to
  the organization, an account or a source, and a service principal without
  ``aws:SourceAccount``/``aws:SourceArn`` (the confused-deputy guard);
* in hub resource policies, anything but reads (and ``sagemaker:CreateModel``,
  ``kms:Decrypt``) granted to another account.

:data:`ALLOWED_WILDCARDS` lists the justified exceptions: a KMS key policy giving its own
account ``kms:*`` (the statement AWS's default key policy contains; it delegates the key to
that account's IAM policies, which this scan and the invariants then check), and the two KMS
families of AWS's standard key-user statement (``kms:ReEncrypt*``, ``kms:GenerateDataKey*``),
which expand to cryptographic use of the key only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from hubspoke.governance.check_support import Collector
from hubspoke.governance.results import Counterexample, InvariantResult
from hubspoke.governance.scenario import Scenario

READ_VERBS = ("get", "list", "describe", "search", "batchget", "batchdescribe", "query", "view")

ANY_RESOURCE_ALLOWED: dict[str, str] = {
    "sts:getcalleridentity": "takes no resource and needs no permission",
    "cloudwatch:putmetricdata": "takes no resource ARN; scope with cloudwatch:namespace",
    "ecr:getauthorizationtoken": "takes no resource ARN; image pulls are scoped separately",
    "sagemaker:listmodelpackagegroups": "SageMaker List calls take no resource ARN",
    "sagemaker:listmodelpackages": "SageMaker List calls take no resource ARN",
    "sagemaker:listendpoints": "SageMaker List calls take no resource ARN",
    "sagemaker:listendpointconfigs": "SageMaker List calls take no resource ARN",
    "sagemaker:listmodels": "SageMaker List calls take no resource ARN",
    "sagemaker:listpipelines": "SageMaker List calls take no resource ARN",
    "sagemaker:search": "SageMaker Search takes no resource ARN",
}
ALLOWED_WILDCARDS = {
    "kms:*": "a KMS key policy granting its own account root (AWS's default key statement)",
    "kms:reencrypt*": "ReEncryptFrom/ReEncryptTo only: use of the key, no administration",
    "kms:generatedatakey*": "the GenerateDataKey family only: use of the key, no administration",
}
# Wildcards allowed only in a key policy whose principal is the key's own account root.
OWN_ACCOUNT_ONLY = frozenset({"kms:*"})
SOURCE_KEYS = ("aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths")
# Cross-account uses of a shared hub resource that are not reads by name but change nothing.
CROSS_ACCOUNT_USE = {
    "sagemaker:createmodel": "CreateModel from a shared package version reads the package",
    "kms:decrypt": "reading encrypted artifacts",
}
CONFINING_KEYS = (
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceorgid",
    "aws:sourcevpce",
)

# (holder, policy label, kind, document); kind: "identity", "resource" or "trust".
Document = tuple[str, str, str, dict[str, Any]]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def documents(world_dict: dict[str, Any]) -> Iterator[Document]:
    for arn, principal in world_dict.get("principals", {}).items():
        for name, doc in (principal.get("policies") or {}).items():
            yield arn, name, "identity", doc
        if principal.get("trust_policy"):
            yield arn, f"{arn} trust policy", "trust", principal["trust_policy"]
    for arn, entry in world_dict.get("resources", {}).items():
        yield arn, str(entry.get("name") or arn), "resource", entry["policy"]


def _is_read_only(action: str) -> bool:
    verb = action.split(":", 1)[-1].lower()
    return verb.startswith(READ_VERBS)


def _own_account_root(holder: str, statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    if not isinstance(principal, dict):
        return False
    accounts = {str(p) for p in _as_list(principal.get("AWS"))}
    own = holder.split(":")[4] if holder.count(":") >= 5 else ""
    return bool(own) and accounts <= {own, f"arn:aws:iam::{own}:root"}


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    return {
        key.lower()
        for operator in (statement.get("Condition") or {}).values()
        if isinstance(operator, dict)
        for key in operator
    }


def _aws_principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict):
        return [str(p) for p in _as_list(principal.get("AWS"))]
    return []


def _services(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        return [str(p) for p in _as_list(principal.get("Service"))]
    return []


def _actions(statement: dict[str, Any]) -> list[str]:
    return [str(a) for a in _as_list(statement.get("Action"))]


def _resources(statement: dict[str, Any]) -> str:
    return ", ".join(str(r) for r in _as_list(statement.get("Resource"))) or "(NotResource)"


Finding = tuple[str, str, str]  # (rule, action, resource)


def wildcard_findings(holder: str, kind: str, statement: dict[str, Any]) -> Iterator[Finding]:
    """Over-wide actions or resources in one Allow statement."""
    shown = _resources(statement)
    if statement.get("NotAction") is not None:
        yield "NotAction in an Allow grants every other action", "NotAction", shown
    any_resource = "*" in _as_list(statement.get("Resource")) or "NotResource" in statement
    for action in _actions(statement):
        lowered = action.lower()
        if lowered in ("*", "*:*"):
            yield "grants every action", action, shown
        elif "*" in action or "?" in action:
            verb = lowered.split(":", 1)[-1].split("*", 1)[0].split("?", 1)[0]
            allowed = lowered in ALLOWED_WILDCARDS and (
                lowered not in OWN_ACCOUNT_ONLY
                or (kind == "resource" and _own_account_root(holder, statement))
            )
            if not verb.startswith(READ_VERBS) and not allowed:
                yield "wildcard over write actions", action, shown
        if kind == "identity" and any_resource and lowered not in ANY_RESOURCE_ALLOWED:
            yield "action on every resource", action, shown


def confinement_findings(holder: str, kind: str, statement: dict[str, Any]) -> Iterator[Finding]:
    """Resource and trust policies open to everyone, or to a service on anyone's behalf."""
    if kind == "identity":
        return
    keys = _condition_keys(statement)
    actions = ",".join(_actions(statement)) or "NotAction"
    if "*" in _aws_principals(statement) and not keys & set(CONFINING_KEYS):
        yield "Principal * without an organization, account or source condition", actions, "*"
    for service in _services(statement):
        if not keys & set(SOURCE_KEYS):
            yield (
                f"service principal {service} without aws:SourceAccount/aws:SourceArn "
                "(confused deputy)",
                actions,
                _resources(statement),
            )


def share_findings(hub: str) -> Callable[[str, str, dict[str, Any]], Iterator[Finding]]:
    """Write actions that a hub resource policy grants to another account."""

    def findings(holder: str, kind: str, statement: dict[str, Any]) -> Iterator[Finding]:
        if kind != "resource" or _holder_account(holder) != hub:
            return
        foreign = [p for p in _aws_principals(statement) if _principal_account(p) != hub]
        if not foreign:
            return
        if statement.get("NotAction") is not None:
            yield "NotAction granted to another account", "NotAction", _resources(statement)
        for action in _actions(statement):
            lowered = action.lower()
            verb = lowered.split(":", 1)[-1]
            if lowered in CROSS_ACCOUNT_USE or (
                verb.startswith(READ_VERBS) and "*" not in verb.rstrip("*")
            ):
                continue
            yield f"{action} granted to {', '.join(foreign)}", action, _resources(statement)

    return findings


def _principal_account(principal: str) -> str:
    if principal == "*":
        return "*"
    if principal.isdigit():
        return principal
    parts = principal.split(":")
    return parts[4] if len(parts) > 4 else principal


def _holder_account(holder: str) -> str:
    parts = holder.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else ""


Rule = Callable[[str, str, dict[str, Any]], Iterator[Finding]]


def _scan(scenario: Scenario, name: str, description: str, rule: Rule) -> InvariantResult:
    c = Collector(scenario, name, description)
    resources = scenario.model.world_dict.get("resources", {})
    for holder, label, kind, doc in documents(scenario.model.world_dict):
        # S3 ARNs carry no account: use the entry's.
        located = holder
        if holder.startswith("arn:aws:s3:::") and holder in resources:
            located = f"arn:aws:s3::{resources[holder].get('account', '')}:{holder[13:]}"
        for statement in _as_list(doc.get("Statement")):
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                continue
            c.extra_checked += 1
            for problem, action, resource in rule(located, kind, statement):
                c.violation(
                    Counterexample(
                        principal=holder,
                        action=action,
                        resource=resource,
                        outcome="finding",
                        policy=label,
                        sid=statement.get("Sid"),
                        message=f"{problem} ({kind} policy {label})",
                    )
                )
    return c.result()


def no_wildcard_grants(scenario: Scenario) -> InvariantResult:
    return _scan(
        scenario,
        "no-wildcard-grants",
        'no policy allows "Action": "*", NotAction, a wildcard over write actions, or (identity '
        'policies) an action on "Resource": "*" outside the justified allowlist',
        wildcard_findings,
    )


def resource_policies_confined(scenario: Scenario) -> InvariantResult:
    return _scan(
        scenario,
        "resource-policies-confined",
        'no resource or trust policy allows Principal "*" without confining it to the '
        "organization, an account or a source, nor a service principal without "
        "aws:SourceAccount/aws:SourceArn",
        confinement_findings,
    )


def hub_shares_are_read_only(scenario: Scenario) -> InvariantResult:
    return _scan(
        scenario,
        "hub-shares-are-read-only",
        "what hub resource policies (registry groups, artifacts bucket, keys, queue) grant to "
        "other accounts is read-only (plus CreateModel from a package and kms:Decrypt), "
        "whatever the SCPs add on top",
        share_findings(scenario.account("hub")),
    )
