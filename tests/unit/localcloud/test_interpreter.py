"""Pipeline definition expressions, evaluated as SageMaker Pipelines evaluates them."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.runtime.executions import typed_parameters
from localcloud.runtime.interpreter import (
    ExpressionError,
    PropertyFileRef,
    Scope,
    evaluate_condition,
    property_path,
    resolve,
    step_references,
)

REPORT = {"binary_classification_metrics": {"roc_auc": {"value": 0.97}}, "scores": [1, 2]}
AUC = {
    "Std:JsonGet": {
        "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
        "Path": "binary_classification_metrics.roc_auc.value",
    }
}


def _scope() -> Scope:
    def read(ref: PropertyFileRef) -> Any:
        assert ref == PropertyFileRef("Evaluate", "EvaluationReport")
        return REPORT

    return Scope(
        parameters={"Threshold": 0.9, "Name": "bc", "Count": 3},
        execution={"PipelineExecutionId": "abc123"},
        steps={
            "Preprocess": {
                "ProcessingOutputConfig": {
                    "Outputs": [
                        {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}},
                        {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/test"}},
                    ]
                }
            },
            "Train": {"ModelArtifacts": {"S3ModelArtifacts": "s3://b/model.tar.gz"}},
            "Evaluate": {},
        },
        read_property_file=read,
        read_json=lambda uri: {"uri": uri},
    )


def test_get_parameters_execution_and_step_properties() -> None:
    scope = _scope()
    assert resolve({"Get": "Parameters.Threshold"}, scope) == 0.9
    assert resolve({"Get": "Execution.PipelineExecutionId"}, scope) == "abc123"
    uri = "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
    assert resolve({"Get": uri}, scope) == "s3://b/test"
    assert resolve({"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}, scope).endswith(".gz")
    assert (
        resolve({"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs[0].OutputName"}, scope)
        == "train"
    )


def test_join_and_nested_structures() -> None:
    value = {
        "S3Uri": {
            "Std:Join": {
                "On": "/",
                "Values": ["s3:/", "b", {"Get": "Execution.PipelineExecutionId"}],
            }
        },
        "Args": ["--n", {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.Count"}]}}],
        "Flag": {"Std:Join": {"On": ",", "Values": [True, None, 1.5]}},
    }
    assert resolve(value, _scope()) == {
        "S3Uri": "s3://b/abc123",
        "Args": ["--n", "3"],
        "Flag": "true,null,1.5",
    }


def test_json_get_reads_the_property_file_and_s3() -> None:
    assert resolve(AUC, _scope()) == 0.97
    by_uri = {"Std:JsonGet": {"S3Uri": "s3://b/x.json", "Path": "uri"}}
    assert resolve(by_uri, _scope()) == "s3://b/x.json"
    first = {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
            "Path": "scores[1]",
        }
    }
    assert resolve(first, _scope()) == 2


@pytest.mark.parametrize(
    ("kind", "right", "expected"),
    [
        ("GreaterThanOrEqualTo", 0.97, True),
        ("GreaterThanOrEqualTo", 0.99, False),
        ("GreaterThan", 0.97, False),
        ("LessThan", 0.99, True),
        ("LessThanOrEqualTo", 0.96, False),
        ("Equals", 0.97, True),
        ("Equals", "0.97", True),  # a parameter given as text still compares as a number
    ],
)
def test_comparisons(kind: str, right: Any, expected: bool) -> None:
    condition = {"Type": kind, "LeftValue": AUC, "RightValue": right}
    assert evaluate_condition(condition, _scope()) is expected


def test_in_not_or() -> None:
    scope = _scope()
    is_bc = {"Type": "In", "QueryValue": {"Get": "Parameters.Name"}, "Values": ["x", "bc"]}
    low = {"Type": "LessThan", "LeftValue": AUC, "RightValue": {"Get": "Parameters.Threshold"}}
    assert evaluate_condition(is_bc, scope)
    assert evaluate_condition({"Type": "Not", "Condition": low}, scope)
    assert evaluate_condition({"Type": "Or", "Conditions": [low, is_bc]}, scope)
    assert not evaluate_condition({"Type": "Or", "Conditions": [low]}, scope)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Get": "Parameters.Missing"}, "no parameter 'Missing'"),
        ({"Get": "Steps.Later.ModelArtifacts"}, "step 'Later' has not run"),
        ({"Get": "Steps.Train.Nope"}, "no property 'Nope'"),
        ({"Get": "Execution.Unknown"}, "unknown execution variable"),
        ({"Std:Select": {"Values": []}}, "unsupported function Std:Select"),
        ({"Std:JsonGet": {"Path": "a"}}, "needs a PropertyFile or an S3Uri"),
    ],
)
def test_unknown_expressions_raise(value: Any, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        resolve(value, _scope())


def test_unknown_condition_type_raises() -> None:
    with pytest.raises(ExpressionError, match="unsupported condition type 'And'"):
        evaluate_condition({"Type": "And", "Conditions": []}, _scope())


def test_step_references_and_paths() -> None:
    arguments = {
        "Inputs": [{"S3Uri": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}}],
        "Cond": AUC,
        "Other": {"Get": "Parameters.Threshold"},
    }
    assert step_references(arguments) == {"Train", "Evaluate"}
    assert property_path("A.B['c'][0].D") == ["A", "B", "c", 0, "D"]


def test_parameters_take_defaults_and_typed_overrides() -> None:
    declared = [
        {"Name": "N", "Type": "Integer", "DefaultValue": 200},
        {"Name": "T", "Type": "Float", "DefaultValue": 0.9},
        {"Name": "S", "Type": "String", "DefaultValue": "x"},
    ]
    values = typed_parameters(declared, [{"Name": "T", "Value": "0.99999"}])
    assert values == {"N": 200, "T": 0.99999, "S": "x"}
    with pytest.raises(ValueError, match="not defined"):
        typed_parameters(declared, [{"Name": "Nope", "Value": "1"}])
    with pytest.raises(ValueError, match="must be of type Integer"):
        typed_parameters(declared, [{"Name": "N", "Value": "many"}])
