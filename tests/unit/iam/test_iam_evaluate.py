"""Evaluation logic: SCP levels, identity, resource, boundary and session policies, same-account
OR, cross-account AND, KMS key policies and role trust policies (AWS "Policy evaluation logic",
"Cross-account policy evaluation logic", "Permissions boundaries for IAM entities")."""

from __future__ import annotations

from typing import Any

import pytest
from iam_worlds import (
    BUCKET,
    DEV,
    HUB,
    HUB_KEY,
    MGMT,
    ORCHESTRATOR,
    ORCHESTRATOR_SESSION,
    PACKAGE,
    PROD,
    STAGING,
    allow,
    deny,
    deployer,
    deployer_session,
    doc,
    execution,
    hub_spoke,
    stmt,
)

from hubspoke.iam import Decision, Request, RequestError, World, evaluate

WORLD = World.from_dict(hub_spoke())
HUB_USER = f"arn:aws:iam::{HUB}:user/alice"


def check(world: World, principal: str, action: str, resource: str, **kw: Any) -> Decision:
    return evaluate(world, Request(principal, action, resource, **kw))


def edited(edit: Any) -> World:
    data = hub_spoke()
    edit(data)
    return World.from_dict(data)


def add_principal(data: dict[str, Any], arn: str, **entry: Any) -> None:
    data["principals"][arn] = entry


# -- SCPs --------------------------------------------------------------------------------------
def test_scp_explicit_deny_message_matches_aws() -> None:
    d = check(WORLD, deployer_session(STAGING), "sagemaker:UpdateModelPackage", PACKAGE)
    assert (d.allowed, d.kind, d.denied_by) == (False, "explicit_deny", "scp")
    assert (d.policy, d.sid) == ("SpokesCannotWriteRegistry", "NoRegistryWrites")
    assert d.message == (
        f"User: {deployer_session(STAGING)} is not authorized to perform: "
        f"sagemaker:UpdateModelPackage on resource: {PACKAGE} with an explicit deny in a "
        "service control policy"
    )
    # The hub OU carries no such SCP.
    assert check(WORLD, ORCHESTRATOR_SESSION, "sagemaker:UpdateModelPackage", PACKAGE).allowed


def test_every_scp_level_must_allow() -> None:
    def only_s3_in_staging(data: dict[str, Any]) -> None:
        data["scps"]["S3Only"] = allow("s3:*")
        data["organization"]["root"]["children"][1]["children"][1]["policies"] = ["S3Only"]

    world = edited(only_s3_in_staging)
    d = check(world, deployer_session(STAGING), "sagemaker:CreateModel", "*")
    assert (d.kind, d.denied_by) == ("implicit_deny", "scp")
    assert d.message.endswith(
        "because no service control policy allows the sagemaker:CreateModel action"
    )
    assert check(world, deployer_session(DEV), "sagemaker:CreateModel", "*").allowed


def test_account_level_scps_and_exemptions() -> None:
    def lock_down(data: dict[str, Any]) -> None:
        data["scps"]["DenyAll"] = deny("*")
        data["organization"]["account_policies"] = {
            DEV: ["FullAWSAccess", "DenyAll"],
            MGMT: ["DenyAll"],
        }
        data["organization"]["root"]["policies"] = ["FullAWSAccess", "DenyAll"]
        add_principal(data, f"arn:aws:iam::{MGMT}:role/admin", policies={"all": allow("*")})
        add_principal(
            data,
            f"arn:aws:iam::{DEV}:role/aws-service-role/sagemaker.amazonaws.com/"
            "AWSServiceRoleForAmazonSageMaker",
            policies={"all": allow("*")},
        )  # fmt: skip

    world = edited(lock_down)
    assert check(world, deployer_session(DEV), "sagemaker:CreateModel", "*").denied_by == "scp"
    # The management account and service-linked roles are not restricted by SCPs.
    assert check(world, f"arn:aws:sts::{MGMT}:assumed-role/admin/x", "s3:ListBucket", "*").allowed
    slr = f"arn:aws:sts::{DEV}:assumed-role/AWSServiceRoleForAmazonSageMaker/SageMaker"
    assert check(world, slr, "ec2:CreateNetworkInterface", "*").allowed


# -- identity, boundary, session ---------------------------------------------------------------
def test_identity_implicit_and_explicit_deny() -> None:
    d = check(WORLD, deployer_session(STAGING), "s3:PutObject", f"arn:aws:s3:::bucket-{STAGING}/x")
    assert d.message.endswith("because no identity-based policy allows the s3:PutObject action")

    def deny_delete(data: dict[str, Any]) -> None:
        data["principals"][deployer(STAGING)]["policies"]["guard"] = deny("sagemaker:Delete*")

    d = check(edited(deny_delete), deployer_session(STAGING), "sagemaker:DeleteEndpoint", "*")
    assert (d.kind, d.denied_by, d.policy) == ("explicit_deny", "identity", "guard")
    assert d.message.endswith("with an explicit deny in an identity-based policy")


def test_permissions_boundary_limits_identity_policies() -> None:
    def bound(data: dict[str, Any]) -> None:
        entry = data["principals"][deployer(STAGING)]
        entry["permissions_boundary"] = doc(
            stmt("Allow", "sagemaker:*Endpoint*"), stmt("Deny", "sagemaker:DeleteEndpoint")
        )

    world = edited(bound)
    assert check(world, deployer_session(STAGING), "sagemaker:CreateEndpoint", "*").allowed
    d = check(world, deployer_session(STAGING), "sagemaker:CreateModel", "*")
    assert (d.kind, d.denied_by) == ("implicit_deny", "boundary")
    assert d.message.endswith(
        "because no permissions boundary allows the sagemaker:CreateModel action"
    )
    d = check(world, deployer_session(STAGING), "sagemaker:DeleteEndpoint", "*")
    assert (d.kind, d.denied_by) == ("explicit_deny", "boundary")


def test_session_policy_limits_the_session() -> None:
    session = allow("sagemaker:Describe*")
    who = deployer_session(STAGING)
    assert check(WORLD, who, "sagemaker:DescribeEndpoint", "*", session_policy=session).allowed
    d = check(WORLD, who, "sagemaker:CreateModel", "*", session_policy=session)
    assert (d.kind, d.denied_by) == ("implicit_deny", "session")
    assert d.message.endswith("because no session policy allows the sagemaker:CreateModel action")
    d = check(WORLD, who, "sagemaker:DescribeEndpoint", "*", session_policy=deny("*"))
    assert d.denied_by == "session" and d.kind == "explicit_deny"
    with pytest.raises(RequestError, match="session policy"):
        check(WORLD, who, "s3:GetObject", "*", session_policy={"Statement": "nope"})


# -- same account: identity OR resource policy -------------------------------------------------
def _bucket_naming(principal: dict[str, Any] | str) -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["resources"][BUCKET]["policy"] = doc(
            stmt("Allow", "s3:GetObject", f"{BUCKET}/*", Principal=principal, Sid="Grant")
        )
        entry = data["principals"][ORCHESTRATOR]
        entry["policies"] = {}
        entry["permissions_boundary"] = allow("sts:*")

    return edit


def test_same_account_resource_policy_naming_the_session_stands_alone() -> None:
    world = edited(_bucket_naming({"AWS": ORCHESTRATOR_SESSION}))
    d = check(world, ORCHESTRATOR_SESSION, "s3:GetObject", f"{BUCKET}/k")
    assert d.allowed and d.policy == "artifacts bucket policy" and d.sid == "Grant"


def test_same_account_role_arn_grant_needs_no_identity_policy_but_is_bounded() -> None:
    world = edited(_bucket_naming({"AWS": ORCHESTRATOR}))
    d = check(world, ORCHESTRATOR_SESSION, "s3:GetObject", f"{BUCKET}/k")
    assert (d.kind, d.denied_by) == ("implicit_deny", "boundary")

    def unbounded(data: dict[str, Any]) -> None:
        _bucket_naming({"AWS": ORCHESTRATOR})(data)
        data["principals"][ORCHESTRATOR]["permissions_boundary"] = None

    assert check(edited(unbounded), ORCHESTRATOR_SESSION, "s3:GetObject", f"{BUCKET}/k").allowed
    d = check(
        edited(unbounded),
        ORCHESTRATOR_SESSION,
        "s3:GetObject",
        f"{BUCKET}/k",
        session_policy=allow("sts:*"),
    )
    assert d.denied_by == "session"


def test_same_account_account_grant_delegates_to_identity_policies() -> None:
    world = edited(_bucket_naming({"AWS": HUB}))
    d = check(world, ORCHESTRATOR_SESSION, "s3:GetObject", f"{BUCKET}/k")
    assert (d.kind, d.denied_by) == ("implicit_deny", "identity")


def test_iam_user_grant_is_not_limited_by_its_boundary() -> None:
    def user(data: dict[str, Any]) -> None:
        _bucket_naming({"AWS": HUB_USER})(data)
        add_principal(data, HUB_USER, permissions_boundary=allow("sts:*"))

    assert check(edited(user), HUB_USER, "s3:GetObject", f"{BUCKET}/k").allowed


def test_not_principal_deny_always_hits_a_principal_with_a_boundary() -> None:
    def guarded(data: dict[str, Any]) -> None:
        data["resources"][BUCKET]["policy"] = doc(
            stmt(
                "Deny",
                "s3:*",
                f"{BUCKET}/*",
                NotPrincipal={"AWS": [ORCHESTRATOR_SESSION, ORCHESTRATOR, HUB]},
            ),
            stmt("Allow", "s3:GetObject", f"{BUCKET}/*", Principal={"AWS": ORCHESTRATOR_SESSION}),
        )

    assert check(edited(guarded), ORCHESTRATOR_SESSION, "s3:GetObject", f"{BUCKET}/k").allowed

    def guarded_and_bounded(data: dict[str, Any]) -> None:
        guarded(data)
        data["principals"][ORCHESTRATOR]["permissions_boundary"] = allow("*")

    d = check(edited(guarded_and_bounded), ORCHESTRATOR_SESSION, "s3:GetObject", f"{BUCKET}/k")
    assert (d.kind, d.denied_by) == ("explicit_deny", "resource")


# -- cross account: identity AND resource policy -----------------------------------------------
def test_cross_account_needs_both_sides() -> None:
    stg_exec = f"arn:aws:sts::{STAGING}:assumed-role/hubspoke-sagemaker-execution/ep"
    assert check(WORLD, stg_exec, "s3:GetObject", f"{BUCKET}/models/churn/3/model.tar.gz").allowed
    # Dev's execution role has the identity policy, but the bucket does not name it.
    dev_exec = f"arn:aws:sts::{DEV}:assumed-role/hubspoke-sagemaker-execution/job"
    d = check(WORLD, dev_exec, "s3:GetObject", f"{BUCKET}/models/churn/3/model.tar.gz")
    assert d.message.endswith("because no resource-based policy allows the s3:GetObject action")
    # The staging deployer is named through its account, but has no identity-based S3 allow.
    d = check(WORLD, deployer_session(STAGING), "sagemaker:DescribeModelPackage", PACKAGE)
    assert d.allowed
    d = check(WORLD, deployer_session(STAGING), "s3:GetObject", f"{BUCKET}/models/x")
    assert d.denied_by == "identity"


def test_resource_policy_explicit_deny_and_missing_key() -> None:
    stg_exec = f"arn:aws:sts::{STAGING}:assumed-role/hubspoke-sagemaker-execution/ep"
    key = f"{BUCKET}/models/m"
    d = check(WORLD, stg_exec, "s3:GetObject", key, context={"aws:SecureTransport": False})
    assert (d.kind, d.denied_by, d.sid) == ("explicit_deny", "resource", "TlsOnly")
    assert d.message.endswith("with an explicit deny in a resource-based policy")
    assert check(
        WORLD, stg_exec, "s3:GetObject", key, context={"aws:securetransport": "true"}
    ).allowed


# -- KMS key policies --------------------------------------------------------------------------
def test_kms_key_policy_is_required_even_in_the_same_account() -> None:
    def hub_decrypt(data: dict[str, Any]) -> None:
        data["principals"][ORCHESTRATOR]["policies"]["kms"] = allow("kms:Decrypt", HUB_KEY)

    world = edited(hub_decrypt)
    assert check(world, ORCHESTRATOR_SESSION, "kms:Decrypt", HUB_KEY).allowed  # via the root grant
    d = check(WORLD, ORCHESTRATOR_SESSION, "kms:Decrypt", HUB_KEY)  # root grant, no identity allow
    assert d.denied_by == "identity"

    def no_root_statement(data: dict[str, Any]) -> None:
        hub_decrypt(data)
        data["resources"][HUB_KEY]["policy"]["Statement"].pop(0)

    d = check(edited(no_root_statement), ORCHESTRATOR_SESSION, "kms:Decrypt", HUB_KEY)
    assert (d.kind, d.denied_by) == ("implicit_deny", "resource")
    other_key = f"arn:aws:kms:us-east-1:{HUB}:key/no-policy-known"
    assert check(world, ORCHESTRATOR_SESSION, "kms:Decrypt", other_key).denied_by == "resource"
    stg_exec = f"arn:aws:sts::{STAGING}:assumed-role/hubspoke-sagemaker-execution/ep"
    assert check(WORLD, stg_exec, "kms:Decrypt", HUB_KEY).allowed


# -- role trust policies -----------------------------------------------------------------------
def test_orchestrator_assumes_spoke_deployers() -> None:
    d = check(WORLD, ORCHESTRATOR_SESSION, "sts:AssumeRole", deployer(PROD))
    assert d.allowed and d.policy == "AssumeRolePolicyDocument"
    # Spokes are trusted by nobody but the orchestrator.
    d = check(WORLD, deployer_session(DEV), "sts:AssumeRole", deployer(PROD))
    assert d.denied_by in ("identity", "resource")
    # The aws:PrincipalOrgID condition fails outside the organization.
    no_org = World.from_dict({k: v for k, v in hub_spoke().items() if k != "organization"})
    d = check(no_org, ORCHESTRATOR_SESSION, "sts:AssumeRole", deployer(PROD))
    assert d.message.endswith("because no resource-based policy allows the sts:AssumeRole action")


def test_cross_account_assume_role_needs_the_callers_identity_policy() -> None:
    def no_assume(data: dict[str, Any]) -> None:
        del data["principals"][ORCHESTRATOR]["policies"]["assume-deployers"]

    d = check(edited(no_assume), ORCHESTRATOR_SESSION, "sts:AssumeRole", deployer(PROD))
    assert d.denied_by == "identity"


def test_service_principal_assumes_its_role() -> None:
    assert check(WORLD, "sagemaker.amazonaws.com", "sts:AssumeRole", execution(PROD)).allowed
    d = check(WORLD, "ec2.amazonaws.com", "sts:AssumeRole", execution(PROD))
    assert d.denied_by == "resource"
    d = check(
        WORLD, "sagemaker.amazonaws.com", "sts:AssumeRole", f"arn:aws:iam::{PROD}:role/missing"
    )
    assert d.denied_by == "resource"


def test_same_account_trust_naming_the_account_needs_an_identity_allow() -> None:
    approver = f"arn:aws:iam::{HUB}:role/hubspoke-approver"

    def user(data: dict[str, Any]) -> None:
        add_principal(data, HUB_USER, policies={"assume": allow("sts:AssumeRole", approver)})

    assert check(edited(user), HUB_USER, "sts:AssumeRole", approver).allowed
    assert check(WORLD, HUB_USER, "sts:AssumeRole", approver).denied_by == "identity"


# -- context keys and principals ---------------------------------------------------------------
def test_derived_context_keys() -> None:
    cond = {
        "ArnEquals": {"aws:PrincipalArn": deployer(STAGING)},
        "StringEquals": {"aws:PrincipalAccount": STAGING, "aws:ResourceAccount": HUB,
                         "aws:PrincipalType": "AssumedRole"},
        "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-abc123example/r-root/ou-wl/*"},
    }  # fmt: skip

    def conditional(data: dict[str, Any]) -> None:
        data["principals"][deployer(STAGING)]["policies"] = {
            "c": allow("sagemaker:*", "*", Condition=cond)
        }

    world = edited(conditional)
    assert check(
        world, deployer_session(STAGING), "sagemaker:DescribeModelPackage", PACKAGE
    ).allowed
    # Explicit context wins over derived keys.
    d = check(world, deployer_session(STAGING), "sagemaker:DescribeModelPackage", PACKAGE,
              context={"aws:PrincipalAccount": DEV})  # fmt: skip
    assert d.denied_by == "identity"


def test_principal_tags_and_usernames() -> None:
    def tagged(data: dict[str, Any]) -> None:
        add_principal(
            data, HUB_USER, tags={"team": "ml"},
            policies={"p": allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*",
                                 Condition={"StringEquals": {"aws:PrincipalTag/team": "ml"}})},
        )  # fmt: skip

    world = edited(tagged)
    assert check(world, HUB_USER, "s3:GetObject", "arn:aws:s3:::home/alice/a").allowed
    assert not check(world, HUB_USER, "s3:GetObject", "arn:aws:s3:::home/bob/a").allowed


def test_root_and_bad_principals() -> None:
    root = f"arn:aws:iam::{HUB}:root"
    assert check(WORLD, root, "sagemaker:CreateModel", "*").allowed
    assert (
        check(WORLD, f"arn:aws:iam::{STAGING}:root", "s3:GetObject", f"{BUCKET}/data/x").denied_by
        == "resource"
    )
    with pytest.raises(RequestError, match="not an IAM role, user"):
        check(WORLD, "hubspoke-orchestrator", "s3:GetObject", "*")


def test_actions_match_case_insensitively_and_messages_keep_the_request_text() -> None:
    d = check(WORLD, deployer_session(STAGING), "SageMaker:createmodel", "*")
    assert d.allowed and "SageMaker:createmodel" in d.message
