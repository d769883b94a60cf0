"""The SageMaker names hubspoke derives from a model's name, and how long they may get.

Every serving spoke gets, per model version, a SageMaker model ``<model>-v<version>``, an
endpoint config ``<model>-v<version>-<environment>-<digest>`` and the endpoint
``<model>-<environment>``; the hub's model package group is ``<model>``. SageMaker allows at
most 63 characters in each, so the configuration refuses a model name whose longest derived
name (the endpoint config of the longest environment name at the highest version budgeted
for) would not fit, instead of a deployment failing halfway.
"""

from __future__ import annotations

from collections.abc import Iterable

# ModelName, EndpointConfigName, EndpointName, ModelPackageGroupName: at most 63 characters.
SAGEMAKER_NAME_LIMIT = 63
# Versions a model's names are budgeted for (5 digits: years of hourly retraining).
MAX_VERSION = 99_999
# Hex characters of the settings digest in an endpoint config name.
DIGEST_LENGTH = 8


def endpoint_name(model: str, environment: str) -> str:
    return f"{model}-{environment}"


def model_name(model: str, version: int) -> str:
    return f"{model}-v{version}"


def endpoint_config_name(model: str, version: int, environment: str, digest: str) -> str:
    return f"{model_name(model, version)}-{environment}-{digest}"


def derived_names(model: str, environments: Iterable[str], version: int) -> list[str]:
    """Every SageMaker name hubspoke makes from ``model`` for ``version``."""
    names = [model, model_name(model, version)]
    for environment in environments:
        names.append(endpoint_name(model, environment))
        names.append(endpoint_config_name(model, version, environment, "0" * DIGEST_LENGTH))
    return names


def longest_derived_name(model: str, environments: Iterable[str]) -> str:
    """The longest name derived from ``model`` at :data:`MAX_VERSION`."""
    return max(derived_names(model, environments, MAX_VERSION), key=len)


def max_model_name_length(environments: Iterable[str]) -> int:
    """How long a model name may be so that everything derived from it fits."""
    overhead = len(longest_derived_name("", environments))
    return SAGEMAKER_NAME_LIMIT - overhead


def name_too_long(model: str, environments: Iterable[str]) -> str | None:
    """Why ``model`` is too long to derive SageMaker names from, or None when it fits."""
    environments = list(environments)
    longest = longest_derived_name(model, environments)
    if len(longest) <= SAGEMAKER_NAME_LIMIT:
        return None
    pattern = max(
        (
            endpoint_config_name("<model>", MAX_VERSION, env, f"<{DIGEST_LENGTH} hex>")
            for env in environments
        ),
        key=len,
    )
    return (
        f"{len(model)} characters is too long: hubspoke derives SageMaker names from it, "
        f"the longest {len(longest)} characters ({pattern} for versions up to {MAX_VERSION}), "
        f"and SageMaker allows at most {SAGEMAKER_NAME_LIMIT}; use a name of at most "
        f"{max_model_name_length(environments)} characters"
    )
