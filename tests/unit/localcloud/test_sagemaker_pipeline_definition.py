"""The pipeline definition check names what is wrong, and accepts the real definition."""

from __future__ import annotations

import json

import pytest

from localcloud.sagemaker.pipelines_api import definition_problems

GOOD = {
    "Version": "2020-12-01",
    "Metadata": {},
    "Parameters": [{"Name": "InputData", "Type": "String", "DefaultValue": "s3://b/k"}],
    "Steps": [{"Name": "Preprocess", "Type": "Processing", "Arguments": {}}],
}


def test_a_definition_with_the_schema_shape_passes() -> None:
    assert definition_problems(json.dumps(GOOD)) == []


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        (json.dumps({**GOOD, "Version": 1}), "string member Version"),
        (json.dumps({"Version": "2020-12-01"}), "missing the member Steps"),
        (json.dumps({**GOOD, "Steps": {}}), "Steps must be a list"),
        (json.dumps({**GOOD, "Steps": ["Train"]}), "Steps[0] must be an object"),
        (
            json.dumps({**GOOD, "Steps": [{"Name": "A"}]}),
            "Steps[0] is missing the string member Type",
        ),
        (
            json.dumps({**GOOD, "Steps": [{"Name": "A", "Type": "Fail"}] * 2}),
            "step name A is used more than once",
        ),
        (json.dumps({**GOOD, "Parameters": [{"Type": "String"}]}), "Parameters[0] is missing"),
        (json.dumps({**GOOD, "Metadata": []}), "Metadata must be an object"),
    ],
)
def test_each_problem_is_named(definition: str, expected: str) -> None:
    problems = definition_problems(definition)
    assert any(expected in p for p in problems), problems
