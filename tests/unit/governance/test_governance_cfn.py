"""The CloudFormation resolver on small inline templates."""

from __future__ import annotations

from typing import Any

import pytest

from hubspoke.governance.cfn import ResolvedStack, StackEnv, resolve_stack
from hubspoke.governance.cfn_errors import TemplateError
from hubspoke.governance.cfn_yaml import parse_template

ENV = StackEnv("stk", "111111111111", "us-east-1")


def resolve(text: str, parameters: dict[str, Any] | None = None, **kwargs: Any) -> ResolvedStack:
    return resolve_stack(parse_template(text, "t.yaml"), ENV, parameters, source="t.yaml", **kwargs)


def bucket_named(expression: str, head: str = "") -> str:
    """A template whose one bucket ``R`` has ``BucketName: <expression>``."""
    bucket = "  R:\n    Type: AWS::S3::Bucket\n    Properties:\n"
    return f"{head}Resources:\n{bucket}      BucketName: {expression}\n"


def props(stack: ResolvedStack, logical_id: str) -> dict[str, Any]:
    return stack.resources[logical_id].properties


# --- YAML ---


def test_short_tags_become_long_form() -> None:
    doc = parse_template(
        "Resources:\n"
        "  A:\n"
        "    Type: X\n"
        "    Properties:\n"
        "      a: !GetAtt Role.Arn\n"
        "      b: !Ref P\n"
        "      c: !If [Cond, 1, 2]\n"
        "      d: !Condition C\n"
        "      e: !Sub ['${x}', {x: !Ref P}]\n"
        "      f: !Select [0, !Split [',', 'a,b']]\n"
    )
    p = doc["Resources"]["A"]["Properties"]
    assert p["a"] == {"Fn::GetAtt": ["Role", "Arn"]}
    assert p["b"] == {"Ref": "P"}
    assert p["c"] == {"Fn::If": ["Cond", 1, 2]}
    assert p["d"] == {"Condition": "C"}
    assert p["e"] == {"Fn::Sub": ["${x}", {"x": {"Ref": "P"}}]}
    assert p["f"] == {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}


def test_policy_version_stays_a_string() -> None:
    doc = parse_template("Resources:\n  A:\n    Type: X\n    Properties: {Version: 2012-10-17}\n")
    assert doc["Resources"]["A"]["Properties"]["Version"] == "2012-10-17"


def test_duplicate_keys_are_an_error_with_line() -> None:
    with pytest.raises(TemplateError, match=r"t.yaml: line 4.*duplicate key 'A'"):
        parse_template("Resources:\n  A:\n    Type: X\n  A:\n    Type: Y\n", "t.yaml")


def test_template_without_resources_is_an_error() -> None:
    with pytest.raises(TemplateError, match="needs a Resources mapping"):
        parse_template("Parameters: {}\n", "t.yaml")


# --- intrinsics ---

SUB = """
Parameters:
  Env: {Type: String}
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "data-${Env}-${AWS::AccountId}"
      Tags:
        - Key: literal
          Value: !Sub "${!NotReplaced} ${AWS::Region}/${AWS::Partition}/${AWS::StackName}"
        - Key: map
          Value: !Sub
            - "${Name}:${Bucket.Arn}:${Bucket}"
            - Name: !Join ["-", [a, !Ref Env]]
"""


def test_sub_with_parameters_pseudo_parameters_and_variables_map() -> None:
    stack = resolve(SUB, {"Env": "dev"})
    p = props(stack, "Bucket")
    assert p["BucketName"] == "data-dev-111111111111"
    assert p["Tags"][0]["Value"] == "${NotReplaced} us-east-1/aws/stk"
    assert p["Tags"][1]["Value"] == (
        "a-dev:arn:aws:s3:::data-dev-111111111111:data-dev-111111111111"
    )


def test_sub_of_an_unknown_name_names_template_resource_and_path() -> None:
    text = bucket_named("!Sub '${Nope}'")
    with pytest.raises(TemplateError) as error:
        resolve(text)
    assert str(error.value) == (
        "t.yaml: Resources.R.Properties.BucketName.Fn::Sub: ${Nope} names no variable, "
        "parameter, pseudo-parameter or resource"
    )


IF_NOVALUE = """
Parameters:
  Env: {Type: String, AllowedValues: [dev, prod]}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsProd, !Condition IsDev]
  Either: !Or [!Condition IsProd, !Condition IsDev]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: r
      Description: !If [IsProd, !Ref AWS::NoValue, only-in-dev]
      Policies:
        - !If [IsProd, {PolicyName: prod}, !Ref AWS::NoValue]
        - PolicyName: always
  ProdOnly:
    Type: AWS::S3::Bucket
    Condition: IsProd
"""


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_if_and_no_value_drop_properties_and_list_items(env: str) -> None:
    stack = resolve(IF_NOVALUE, {"Env": env})
    p = props(stack, "Role")
    if env == "prod":
        assert "Description" not in p
        assert p["Policies"] == [{"PolicyName": "prod"}, {"PolicyName": "always"}]
        assert "ProdOnly" in stack.resources
    else:
        assert p["Description"] == "only-in-dev"
        assert p["Policies"] == [{"PolicyName": "always"}]
        assert "ProdOnly" not in stack.resources
    assert stack.conditions == {
        "IsProd": env == "prod",
        "IsDev": env == "dev",
        "Both": False,
        "Either": True,
    }


def test_allowed_values_are_enforced() -> None:
    with pytest.raises(TemplateError, match=r"Parameters.Env: value 'qa' is not one of dev, prod"):
        resolve(IF_NOVALUE, {"Env": "qa"})


def test_missing_parameter_without_default() -> None:
    with pytest.raises(TemplateError, match=r"Parameters.Env: no value was given"):
        resolve(IF_NOVALUE)


def test_ref_to_a_resource_whose_condition_is_false() -> None:
    text = (
        IF_NOVALUE
        + "  Uses:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Ref ProdOnly\n"
    )
    with pytest.raises(TemplateError, match=r"Resources.Uses.Properties.BucketName.Ref: refers to"):
        resolve(text, {"Env": "dev"})


def test_circular_condition() -> None:
    text = bucket_named("x", head="Conditions:\n  A: !Condition B\n  B: !Not [!Condition A]\n")
    with pytest.raises(TemplateError, match="circular condition"):
        resolve(text)


GETATT = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties: {RoleName: worker, Path: /service-role/}
  Generated:
    Type: AWS::IAM::Role
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {BucketName: b1}
  Key:
    Type: AWS::KMS::Key
  Queue:
    Type: AWS::SQS::Queue
    Properties: {QueueName: q1}
  Group:
    Type: AWS::SageMaker::ModelPackageGroup
    Properties: {ModelPackageGroupName: churn}
  Rule:
    Type: AWS::Events::Rule
    Properties: {Name: r1, EventBusName: default}
  Managed:
    Type: AWS::IAM::ManagedPolicy
    Properties: {ManagedPolicyName: mp}
  Out:
    Type: AWS::S3::Bucket
    Properties:
      Tags:
        - {Key: role, Value: !GetAtt Role.Arn}
        - {Key: generated, Value: !GetAtt Generated.Arn}
        - {Key: bucket, Value: !GetAtt Bucket.Arn}
        - {Key: key, Value: !GetAtt Key.Arn}
        - {Key: keyid, Value: !Ref Key}
        - {Key: queue, Value: !GetAtt Queue.Arn}
        - {Key: queueurl, Value: !Ref Queue}
        - {Key: group, Value: !GetAtt Group.ModelPackageGroupArn}
        - {Key: groupref, Value: !Ref Group}
        - {Key: rule, Value: !GetAtt Rule.Arn}
        - {Key: managed, Value: !Ref Managed}
"""


def test_getatt_arns_follow_the_documented_table() -> None:
    stack = resolve(GETATT)
    tags = {t["Key"]: t["Value"] for t in props(stack, "Out")["Tags"]}
    key_id = tags["keyid"]
    assert tags["role"] == "arn:aws:iam::111111111111:role/service-role/worker"
    assert tags["generated"].startswith("arn:aws:iam::111111111111:role/stk-Generated-")
    assert tags["bucket"] == "arn:aws:s3:::b1"
    assert tags["key"] == f"arn:aws:kms:us-east-1:111111111111:key/{key_id}"
    assert len(key_id) == 36
    assert tags["queue"] == "arn:aws:sqs:us-east-1:111111111111:q1"
    assert tags["queueurl"] == "https://sqs.us-east-1.amazonaws.com/111111111111/q1"
    group = "arn:aws:sagemaker:us-east-1:111111111111:model-package-group/churn"
    assert tags["group"] == tags["groupref"] == group
    assert tags["rule"] == "arn:aws:events:us-east-1:111111111111:rule/r1"
    assert tags["managed"] == "arn:aws:iam::111111111111:policy/mp"
    # Generated names are stable across resolutions.
    assert resolve(GETATT).resources["Out"].properties == props(stack, "Out")


def test_getatt_of_an_attribute_the_type_does_not_have() -> None:
    text = GETATT + "  Bad:\n    Type: AWS::S3::Bucket\n"
    text += "    Properties:\n      BucketName: !GetAtt Group.Arn\n"
    with pytest.raises(TemplateError) as error:
        resolve(text)
    message = str(error.value)
    assert "Resources.Bad.Properties.BucketName.Fn::GetAtt" in message
    assert "AWS::SageMaker::ModelPackageGroup has no attribute 'Arn'" in message
    assert "ModelPackageGroupArn" in message


def test_join_select_split_findinmap_and_lists() -> None:
    text = """
Parameters:
  Regions: {Type: CommaDelimitedList, Default: "us-east-1, eu-west-1"}
Mappings:
  Sizes: {prod: {Count: 2}}
Resources:
  R:
    Type: AWS::S3::Bucket
    Properties:
      Tags:
        - {Key: joined, Value: !Join [";", !Ref Regions]}
        - {Key: second, Value: !Select [1, !Ref Regions]}
        - {Key: split, Value: !Select ["2", !Split ["/", "a/b/c"]]}
        - {Key: count, Value: !FindInMap [Sizes, prod, Count]}
"""
    tags = {t["Key"]: t["Value"] for t in props(resolve(text), "R")["Tags"]}
    assert tags == {
        "joined": "us-east-1;eu-west-1",
        "second": "eu-west-1",
        "split": "c",
        "count": 2,
    }


def test_select_out_of_range() -> None:
    text = bucket_named("!Select [3, [a]]")
    with pytest.raises(TemplateError, match=r"Fn::Select index 3 is out of range"):
        resolve(text)


def test_unsupported_intrinsic_is_named() -> None:
    text = bucket_named("!Cidr [a, 1, 2]")
    with pytest.raises(TemplateError, match=r"BucketName.Fn::Cidr: Fn::Cidr is not supported"):
        resolve(text)


def test_for_each_expands_resources_and_outputs() -> None:
    text = """
Transform: AWS::LanguageExtensions
Parameters:
  Models: {Type: CommaDelimitedList}
Resources:
  Fn::ForEach::Groups:
    - Model
    - !Ref Models
    - Group&{Model}:
        Type: AWS::SageMaker::ModelPackageGroup
        Properties:
          ModelPackageGroupName: !Ref Model
          ModelPackageGroupDescription: !Sub "group ${Model} in ${AWS::Region}"
Outputs:
  Fn::ForEach::Arns:
    - Model
    - !Ref Models
    - Arn&{Model}:
        Value: !GetAtt "Group&{Model}.ModelPackageGroupArn"
        Export: {Name: !Sub "group-${Model}"}
"""
    stack = resolve(text, {"Models": ["breast-cancer", "churn"]})
    assert sorted(stack.resources) == ["Groupbreastcancer", "Groupchurn"]
    assert props(stack, "Groupbreastcancer") == {
        "ModelPackageGroupName": "breast-cancer",
        "ModelPackageGroupDescription": "group breast-cancer in us-east-1",
    }
    arn = "arn:aws:sagemaker:us-east-1:111111111111:model-package-group/churn"
    assert stack.outputs["Arnchurn"] == arn
    assert stack.exports["group-churn"] == arn


def test_for_each_output_key_must_vary() -> None:
    text = """
Resources:
  Fn::ForEach::Loop:
    - M
    - [a, b]
    - Same:
        Type: AWS::S3::Bucket
"""
    with pytest.raises(TemplateError, match="the output key 'Same' repeats"):
        resolve(text)


def test_import_value_uses_given_exports() -> None:
    text = bucket_named("!ImportValue shared")
    assert props(resolve(text, exports={"shared": "b9"}), "R")["BucketName"] == "b9"
    with pytest.raises(TemplateError, match="no stack resolved so far exports it"):
        resolve(text)
