"""Invariants about who can reach what: the registry, the buckets, the keys, the roles."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from hubspoke.config.accounts import SPOKES
from hubspoke.governance.check_support import (
    NO_CONTEXT,
    Ask,
    Collector,
    counterexample,
    finding,
)
from hubspoke.governance.scenario import OTHER_ORG_ID

if TYPE_CHECKING:
    from hubspoke.governance.results import InvariantResult
    from hubspoke.governance.scenario import Scenario

GROUP_WRITES = (
    "sagemaker:CreateModelPackageGroup",
    "sagemaker:DeleteModelPackageGroup",
    "sagemaker:PutModelPackageGroupPolicy",
    "sagemaker:DeleteModelPackageGroupPolicy",
)
PACKAGE_WRITES = (
    "sagemaker:CreateModelPackage",
    "sagemaker:UpdateModelPackage",
    "sagemaker:DeleteModelPackage",
)
SERVING = ("staging", "prod")
# Registration and approval calls carry the requested status (sagemaker:ModelApprovalStatus);
# a policy may allow only some of them, so each is asked, as is a request without one.
_STATUS = "sagemaker:ModelApprovalStatus"
APPROVAL_CONTEXTS: tuple[dict[str, str], ...] = (
    {},
    {_STATUS: "Approved"},
    {_STATUS: "Rejected"},
    {_STATUS: "PendingManualApproval"},
)
_WITH_STATUS = ("sagemaker:CreateModelPackage", "sagemaker:UpdateModelPackage")


def _variants(action: str, resource: str) -> list[Ask]:
    contexts = APPROVAL_CONTEXTS if action in _WITH_STATUS else ({},)
    return [(action, resource, context) for context in contexts]


def registry(scenario: Scenario) -> list[tuple[str, str]]:
    """(group ARN, version-1 package ARN) for every hub group, declared or configured."""
    hub = scenario.account("hub")
    groups = set(scenario.model.hub_group_arns)
    for model in scenario.model.config.models.models:
        groups.add(f"arn:aws:sagemaker:{scenario.region}:{hub}:model-package-group/{model.name}")
    return [
        (group, group.replace(":model-package-group/", ":model-package/", 1) + "/1")
        for group in sorted(groups)
    ]


def _bucket(scenario: Scenario, collector: Collector, name: str, owner: str) -> str | None:
    arn = f"arn:aws:s3:::{name}"
    if arn not in scenario.world.resources:
        collector.violation(
            finding(arn, "-", arn, f"bucket is not declared by the {owner} stack in infra/")
        )
        return None
    return arn


def spokes_cannot_write_registry(scenario: Scenario) -> InvariantResult:
    c = Collector(
        scenario,
        "spokes-cannot-write-registry",
        "no spoke principal, directly or through any role it can reach, can create, update or "
        "delete hub model packages or groups, or change a group's policy",
    )
    asks: list[Ask] = []
    for group, package in registry(scenario):
        asks += [(a, group, NO_CONTEXT) for a in GROUP_WRITES]
        for action in PACKAGE_WRITES:
            asks += _variants(action, package) + _variants(action, group)
    c.forbid(scenario.spoke_starts(), lambda acting: asks)
    return c.result()


def only_approver_approves(scenario: Scenario) -> InvariantResult:
    c = Collector(
        scenario,
        "only-approver-approves",
        "hubspoke-approver can UpdateModelPackage (approval status) in the hub and no other "
        "principal can, the orchestrator included; nobody registers a package already "
        "Approved (the hub account's own root excepted)",
    )
    approver = scenario.role("hub", "approver")
    packages = [package for _, package in registry(scenario)]
    for package in packages:
        for status in ("Approved", "Rejected"):
            c.require(approver, "sagemaker:UpdateModelPackage", package, {_STATUS: status})
    hub_root = scenario.root(scenario.account("hub"))
    orchestrator = scenario.role("hub", "orchestrator")
    starts = [orchestrator, *[p for p in scenario.all_starts() if p != orchestrator]]
    asks = [a for p in packages for a in _variants("sagemaker:UpdateModelPackage", p)]
    # Registering a version as Approved would skip the approval step altogether.
    approved = {_STATUS: "Approved"}
    asks += [("sagemaker:CreateModelPackage", p, approved) for p in packages]
    c.forbid(starts, lambda acting: asks, exempt=lambda acting: acting in (approver, hub_root))
    return c.result()


def no_assume_path_out_of_spokes(scenario: Scenario) -> InvariantResult:
    c = Collector(
        scenario,
        "no-assume-path-out-of-spokes",
        "no spoke principal can reach (by AssumeRole, transitively) a hub role or a role of "
        "another spoke",
    )
    for start in scenario.spoke_starts():
        home = scenario.account_of(start)
        for hops in scenario.reachable(start).values():
            c.extra_checked += 1
            for index, hop in enumerate(hops):
                if scenario.account_of(hop.target) != home:
                    c.violation(
                        counterexample(
                            start, hops[: index + 1], "sts:AssumeRole", hop.target, hop.decision
                        )
                    )
                    break
    return c.result()


def only_orchestrator_assumes_deployers(scenario: Scenario) -> InvariantResult:
    c = Collector(
        scenario,
        "only-orchestrator-assumes-deployers",
        "each spoke deployer can be assumed by the hub orchestrator from inside the "
        "organization, not with another aws:PrincipalOrgID, and by no other principal",
    )
    orchestrator = scenario.role("hub", "orchestrator")
    others = [p for p in scenario.all_starts() if p != orchestrator]
    for spoke in SPOKES:
        deployer = scenario.role(spoke, "spoke_deployer")
        if not c.present(deployer):
            continue
        c.require(orchestrator, "sts:AssumeRole", deployer, note="inside the organization")
        c.forbid(
            [orchestrator],
            lambda acting, d=deployer: [
                ("sts:AssumeRole", d, {"aws:PrincipalOrgID": OTHER_ORG_ID})
            ],
            transitive=False,
        )
        c.forbid(
            others, lambda acting, d=deployer: [("sts:AssumeRole", d, NO_CONTEXT)], transitive=False
        )
    return c.result()


def serving_spokes_cannot_read_dev_bucket(scenario: Scenario) -> InvariantResult:
    c = Collector(
        scenario,
        "serving-spokes-cannot-read-dev-bucket",
        "no staging or prod principal (or role it can reach) can list or read the dev bucket",
    )
    bucket = _bucket(scenario, c, scenario.model.config.accounts.dev_bucket, "dev")
    if bucket is not None:
        asks: list[Ask] = [
            ("s3:GetObject", f"{bucket}/pipelines/x", NO_CONTEXT),
            ("s3:GetObject", f"{bucket}/any/key", NO_CONTEXT),
            ("s3:ListBucket", bucket, NO_CONTEXT),
        ]
        c.forbid(scenario.spoke_starts(SERVING), lambda acting: asks)
    return c.result()


def spokes_cannot_write_hub_bucket(scenario: Scenario) -> InvariantResult:
    c = Collector(
        scenario,
        "spokes-cannot-write-hub-bucket-or-read-ledger",
        "no spoke principal can write or delete objects in the hub artifacts bucket, change "
        "its policy, or read the ledger/ prefix",
    )
    bucket = _bucket(scenario, c, scenario.model.config.accounts.artifacts_bucket, "hub")
    if bucket is not None:
        asks: list[Ask] = [
            (action, f"{bucket}/{key}", NO_CONTEXT)
            for action in ("s3:PutObject", "s3:DeleteObject")
            for key in ("models/x", "ledger/x", "x")
        ]
        asks += [
            ("s3:PutBucketPolicy", bucket, NO_CONTEXT),
            ("s3:DeleteBucketPolicy", bucket, NO_CONTEXT),
            ("s3:GetObject", f"{bucket}/ledger/x", NO_CONTEXT),
        ]
        c.forbid(scenario.spoke_starts(), lambda acting: asks)
    return c.result()


def serving_execution_can_load_models(scenario: Scenario) -> InvariantResult:
    c = Collector(
        scenario,
        "serving-execution-can-load-hub-models",
        "staging and prod execution roles can read models/ in the hub bucket and decrypt "
        "with the hub key (the deploy path works)",
    )
    bucket = _bucket(scenario, c, scenario.model.config.accounts.artifacts_bucket, "hub")
    keys = scenario.model.artifact_key_arns
    if not keys:
        c.violation(finding("-", "kms:Decrypt", "-", "the hub stack declares no KMS key"))
    for spoke in SERVING:
        execution = scenario.role(spoke, "sagemaker_execution")
        if bucket is not None:
            c.require(execution, "s3:GetObject", f"{bucket}/models/x")
        via_s3 = {
            "kms:ViaService": f"s3.{scenario.region}.amazonaws.com",
            "kms:CallerAccount": scenario.account(spoke),
        }
        for key in keys:
            c.require(execution, "kms:Decrypt", key, via_s3)
    return c.result()


def orchestrator_can_orchestrate(scenario: Scenario) -> InvariantResult:
    c = Collector(
        scenario,
        "orchestrator-can-orchestrate",
        "the hub orchestrator can assume every spoke deployer, register model packages in the "
        "hub groups, write ledger/ and read dev's bucket",
    )
    orchestrator = scenario.role("hub", "orchestrator")
    if not c.present(orchestrator):
        return c.result()
    for spoke in SPOKES:
        c.require(orchestrator, "sts:AssumeRole", scenario.role(spoke, "spoke_deployer"))
    for _, package in registry(scenario):
        c.require(
            orchestrator,
            "sagemaker:CreateModelPackage",
            package,
            {_STATUS: "PendingManualApproval"},
        )
    hub_bucket = f"arn:aws:s3:::{scenario.model.config.accounts.artifacts_bucket}"
    c.require(orchestrator, "s3:PutObject", f"{hub_bucket}/ledger/x")
    dev_bucket = f"arn:aws:s3:::{scenario.model.config.accounts.dev_bucket}"
    c.require(orchestrator, "s3:GetObject", f"{dev_bucket}/pipelines/x")
    return c.result()


def spoke_deployers_can_deploy(scenario: Scenario) -> InvariantResult:
    c = Collector(
        scenario,
        "serving-deployers-can-deploy",
        "staging and prod deployers can read the hub package, create a model, a KMS-encrypted "
        "endpoint config and an endpoint, and pass the execution role to SageMaker",
    )
    for spoke in SERVING:
        deployer = scenario.role(spoke, "spoke_deployer")
        if not c.present(deployer):
            continue
        prefix = f"arn:aws:sagemaker:{scenario.region}:{scenario.account(spoke)}"
        kms = scenario_kms(scenario, spoke)
        for _, package in registry(scenario):
            c.require(deployer, "sagemaker:DescribeModelPackage", package)
        c.require(deployer, "sagemaker:CreateModel", f"{prefix}:model/x")
        c.require(deployer, "sagemaker:CreateEndpointConfig", f"{prefix}:endpoint-config/x", kms)
        c.require(deployer, "sagemaker:CreateEndpoint", f"{prefix}:endpoint/x")
        c.require(deployer, "sagemaker:UpdateEndpoint", f"{prefix}:endpoint/x")
        c.require(
            deployer,
            "iam:PassRole",
            scenario.role(spoke, "sagemaker_execution"),
            {"iam:PassedToService": "sagemaker.amazonaws.com"},
        )
    return c.result()


def scenario_kms(scenario: Scenario, spoke: str) -> dict[str, str]:
    """SageMaker KMS condition keys as a call that sets a volume and output key sends them."""
    account = scenario.account(spoke)
    declared = scenario.model.arns_of_type(spoke, "AWS::KMS::Key")
    key = declared[0] if declared else f"arn:aws:kms:{scenario.region}:{account}:key/example"
    return {"sagemaker:VolumeKmsKey": key, "sagemaker:OutputKmsKey": key}


def _probe(arn: str) -> Iterable[Ask]:
    if arn.startswith("arn:aws:s3:::"):
        yield from (
            ("s3:GetObject", f"{arn}/models/x", NO_CONTEXT),
            ("s3:PutObject", f"{arn}/ledger/x", NO_CONTEXT),
            ("s3:ListBucket", arn, NO_CONTEXT),
        )
    elif ":kms:" in arn:
        yield from (("kms:Decrypt", arn, NO_CONTEXT), ("kms:Encrypt", arn, NO_CONTEXT))
    elif ":model-package-group/" in arn:
        package = arn.replace(":model-package-group/", ":model-package/", 1) + "/1"
        yield from (
            ("sagemaker:DescribeModelPackage", package, NO_CONTEXT),
            ("sagemaker:CreateModelPackage", package, NO_CONTEXT),
        )
    elif ":sqs:" in arn:
        yield from (("sqs:SendMessage", arn, NO_CONTEXT), ("sqs:ReceiveMessage", arn, NO_CONTEXT))
    elif ":sns:" in arn:
        yield ("sns:Publish", arn, NO_CONTEXT)


def outside_org_has_no_access(scenario: Scenario) -> InvariantResult:
    c = Collector(
        scenario,
        "outside-org-has-no-access",
        "a principal outside the organization (or claiming another aws:PrincipalOrgID) can "
        "assume no role and use no bucket, key, model package group or queue",
    )
    asks: list[Ask] = [("sts:AssumeRole", role, NO_CONTEXT) for role in scenario.world.principals]
    for arn in scenario.world.resources:
        asks.extend(_probe(arn))
    other_org = [(a, r, {**x, "aws:PrincipalOrgID": OTHER_ORG_ID}) for a, r, x in asks]
    c.forbid([scenario.outsider], lambda acting: [*asks, *other_org], transitive=False)
    return c.result()


def every_model_has_a_hub_group(scenario: Scenario) -> InvariantResult:
    c = Collector(
        scenario,
        "every-model-has-a-hub-group",
        "every model in config/models.yaml has a model package group in the hub stack",
    )
    declared = set(scenario.model.hub_group_arns)
    for group, _ in registry(scenario):
        c.extra_checked += 1
        if group not in declared:
            c.violation(finding(group, "-", group, "no AWS::SageMaker::ModelPackageGroup in hub"))
    return c.result()
