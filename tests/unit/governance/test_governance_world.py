"""Assembling the World from small templates: organization tree, principals, resources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hubspoke.config import load_config
from hubspoke.governance import TemplateError, build_model, world_to_json
from hubspoke.governance.world import organization_ids

CONFIG = load_config()
IDS = {n: CONFIG.accounts.account_id(n) for n in ("management", "hub", "dev", "staging", "prod")}

ORGANIZATION = """
Parameters:
  OrganizationRootId: {Type: String}
  ProdAccountId: {Type: String}
Resources:
  Hub: {Type: AWS::Organizations::OrganizationalUnit, Properties: {Name: ml-hub, ParentId: !Ref OrganizationRootId}}
  Work: {Type: AWS::Organizations::OrganizationalUnit, Properties: {Name: ml-workloads, ParentId: !Ref OrganizationRootId}}
  Dev: {Type: AWS::Organizations::OrganizationalUnit, Properties: {Name: dev, ParentId: !GetAtt Work.Id}}
  Staging: {Type: AWS::Organizations::OrganizationalUnit, Properties: {Name: staging, ParentId: !Ref Work}}
  Prod: {Type: AWS::Organizations::OrganizationalUnit, Properties: {Name: prod, ParentId: !Ref Work}}
  Guard:
    Type: AWS::Organizations::Policy
    Properties:
      Name: guard
      Type: SERVICE_CONTROL_POLICY
      TargetIds: [!Ref OrganizationRootId, !Ref Work, !Ref ProdAccountId]
      Content: '{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}]}'
  Tags:
    Type: AWS::Organizations::Policy
    Properties: {Name: tags, Type: TAG_POLICY, TargetIds: [!Ref Work], Content: {}}
"""  # noqa: E501

HUB = """
Parameters:
  StagingAccountId: {Type: String}
Resources:
  Boundary:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      ManagedPolicyName: boundary
      PolicyDocument: {Version: 2012-10-17, Statement: [{Effect: Allow, Action: "s3:*", Resource: "*"}]}
  Shared:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: {Version: 2012-10-17, Statement: [{Sid: Shared, Effect: Allow, Action: s3:ListBucket, Resource: !GetAtt Bucket.Arn}]}
  Orchestrator:
    Type: AWS::IAM::Role
    Properties:
      RoleName: hubspoke-orchestrator
      AssumeRolePolicyDocument: {Version: 2012-10-17, Statement: [{Effect: Allow, Principal: {Service: airflow.amazonaws.com}, Action: sts:AssumeRole}]}
      ManagedPolicyArns: [!Ref Shared]
      PermissionsBoundary: !Ref Boundary
      Policies:
        - PolicyName: inline
          PolicyDocument: {Version: 2012-10-17, Statement: [{Effect: Allow, Action: s3:GetObject, Resource: !Sub "${Bucket.Arn}/*", Condition: {Bool: {aws:SecureTransport: true}}}]}
      Tags: [{Key: team, Value: ml}]
  Extra:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: extra
      Roles: [!Ref Orchestrator]
      PolicyDocument: {Version: 2012-10-17, Statement: [{Effect: Allow, Action: sqs:ReceiveMessage, Resource: !GetAtt Queue.Arn}]}
  Key:
    Type: AWS::KMS::Key
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub hubspoke-artifacts-${AWS::AccountId}
      BucketEncryption:
        ServerSideEncryptionConfiguration: [{ServerSideEncryptionByDefault: {SSEAlgorithm: aws:kms, KMSMasterKeyID: !GetAtt Key.Arn}}]
  BucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Bucket
      PolicyDocument: {Version: 2012-10-17, Statement: [{Effect: Allow, Principal: {AWS: !Ref StagingAccountId}, Action: s3:GetObject, Resource: !Sub "${Bucket.Arn}/models/*"}]}
  Queue:
    Type: AWS::SQS::Queue
    Properties: {QueueName: events}
  QueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Queue]
      PolicyDocument: {Version: 2012-10-17, Statement: [{Effect: Allow, Principal: {Service: events.amazonaws.com}, Action: sqs:SendMessage, Resource: !GetAtt Queue.Arn}]}
  Group:
    Type: AWS::SageMaker::ModelPackageGroup
    Properties:
      ModelPackageGroupName: breast-cancer
      ModelPackageGroupPolicy: {Version: 2012-10-17, Statement: [{Effect: Allow, Principal: {AWS: !Ref StagingAccountId}, Action: sagemaker:DescribeModelPackage, Resource: "*"}]}
Outputs:
  ArtifactsKeyArn: {Value: !GetAtt Key.Arn}
"""  # noqa: E501

SPOKE = """
Parameters:
  Environment: {Type: String, AllowedValues: [dev, staging, prod]}
  HubKeyArn: {Type: String}
  ArtifactsKeyArn: {Type: String}
Resources:
  Execution:
    Type: AWS::IAM::Role
    Properties:
      RoleName: hubspoke-sagemaker-execution
      AssumeRolePolicyDocument: {Version: 2012-10-17, Statement: [{Effect: Allow, Principal: {Service: sagemaker.amazonaws.com}, Action: sts:AssumeRole}]}
      Policies:
        - PolicyName: decrypt
          PolicyDocument: {Version: 2012-10-17, Statement: [{Sid: Hub, Effect: Allow, Action: kms:Decrypt, Resource: [!Ref HubKeyArn, !Ref ArtifactsKeyArn]}]}
"""  # noqa: E501


def write_infra(
    tmp_path: Path, hub: str = HUB, spoke: str = SPOKE, org: str = ORGANIZATION
) -> Path:
    infra = tmp_path / "infra"
    infra.mkdir()
    for name, text in (("organization.yaml", org), ("hub.yaml", hub), ("spoke.yaml", spoke)):
        (infra / name).write_text(text, encoding="utf-8")
    return infra


def test_organization_tree_places_accounts_and_attaches_scps(tmp_path: Path) -> None:
    model = build_model(write_infra(tmp_path), CONFIG)
    org = model.world_dict["organization"]
    org_id, root_id = organization_ids(CONFIG.accounts.organization_name, IDS["management"])
    assert (org["id"], org["root"]["id"]) == (org_id, root_id)
    root = org["root"]
    assert root["policies"] == ["FullAWSAccess", "guard"]
    assert root["accounts"] == [IDS["management"]]
    by_name = {child["name"]: child for child in root["children"]}
    assert by_name["ml-hub"]["accounts"] == [IDS["hub"]]
    workloads = by_name["ml-workloads"]
    assert workloads["policies"] == ["FullAWSAccess", "guard"]  # the TAG_POLICY is not an SCP
    assert {c["name"]: c["accounts"] for c in workloads["children"]} == {
        "dev": [IDS["dev"]],
        "staging": [IDS["staging"]],
        "prod": [IDS["prod"]],
    }
    assert org["account_policies"] == {IDS["prod"]: ["FullAWSAccess", "guard"]}
    assert list(model.world_dict["scps"]) == ["guard"]
    assert model.world.ou_path(IDS["dev"]).startswith(f"{org_id}/{root_id}/ou-")


def test_roles_become_principals_with_every_attached_policy(tmp_path: Path) -> None:
    world = build_model(write_infra(tmp_path), CONFIG).world_dict
    orchestrator = world["principals"][f"arn:aws:iam::{IDS['hub']}:role/hubspoke-orchestrator"]
    names = sorted(orchestrator["policies"])
    assert names[0] == "extra" and names[2] == "inline"
    assert names[1].startswith("hubspoke-hub-Shared-")  # the generated managed policy name
    assert orchestrator["policies"][names[1]]["Statement"][0]["Sid"] == "Shared"
    inline = orchestrator["policies"]["inline"]["Statement"][0]
    assert inline["Resource"] == f"arn:aws:s3:::hubspoke-artifacts-{IDS['hub']}/*"
    assert inline["Condition"] == {"Bool": {"aws:SecureTransport": "true"}}  # normalised
    assert orchestrator["permissions_boundary"]["Statement"][0]["Action"] == "s3:*"
    assert orchestrator["trust_policy"]["Statement"][0]["Principal"] == {
        "Service": "airflow.amazonaws.com"
    }
    assert orchestrator["tags"] == {"team": "ml"}
    spokes = [a for a in world["principals"] if "sagemaker-execution" in a]
    assert len(spokes) == 3


def test_resource_policies_with_accounts_and_hub_key_for_spokes(tmp_path: Path) -> None:
    model = build_model(write_infra(tmp_path), CONFIG)
    resources = model.world_dict["resources"]
    hub = IDS["hub"]
    bucket = resources[f"arn:aws:s3:::hubspoke-artifacts-{hub}"]
    assert (bucket["account"], bucket["name"]) == (hub, "hub/BucketPolicy")
    key_arn = model.artifact_key_arns[0]
    assert resources[key_arn]["policy"]["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{hub}:root"
    }  # AWS's default key policy for a key declared without one
    assert f"arn:aws:sqs:{CONFIG.accounts.region}:{hub}:events" in resources
    group = f"arn:aws:sagemaker:{CONFIG.accounts.region}:{hub}:model-package-group/breast-cancer"
    assert resources[group]["account"] == hub
    execution = model.world_dict["principals"][
        f"arn:aws:iam::{IDS['prod']}:role/hubspoke-sagemaker-execution"
    ]
    # HubKeyArn comes from the resolved hub key, ArtifactsKeyArn from the hub output.
    assert execution["policies"]["decrypt"]["Statement"][0]["Resource"] == [key_arn, key_arn]
    assert json.loads(world_to_json(model)) == model.world_dict
    assert model.world.resource_policy_for(f"arn:aws:s3:::hubspoke-artifacts-{hub}/models/x")


def test_aws_managed_policies_are_refused(tmp_path: Path) -> None:
    hub = HUB.replace(
        "ManagedPolicyArns: [!Ref Shared]",
        "ManagedPolicyArns: [arn:aws:iam::aws:policy/AmazonSageMakerFullAccess]",
    )
    with pytest.raises(TemplateError) as error:
        build_model(write_infra(tmp_path, hub=hub), CONFIG)
    message = str(error.value)
    assert "hub.yaml: Resources.Orchestrator.Properties.ManagedPolicyArns[0]" in message
    assert "AWS-managed policy" in message


def test_policy_attached_to_an_undeclared_role(tmp_path: Path) -> None:
    hub = HUB.replace("Roles: [!Ref Orchestrator]", "Roles: [someone-else]")
    with pytest.raises(TemplateError, match=r"Resources.Extra.Properties.Roles\[0\].*someone-else"):
        build_model(write_infra(tmp_path, hub=hub), CONFIG)


def test_account_in_an_ou_the_template_lacks(tmp_path: Path) -> None:
    org = ORGANIZATION.replace("Name: staging", "Name: qa")
    with pytest.raises(TemplateError, match=r"places account 333333333333 in OU 'ml-workloads/st"):
        build_model(write_infra(tmp_path, org=org), CONFIG)


def test_missing_template(tmp_path: Path) -> None:
    infra = write_infra(tmp_path)
    (infra / "spoke.yaml").unlink()
    with pytest.raises(TemplateError, match=r"spoke.yaml: template not found"):
        build_model(infra, CONFIG)
