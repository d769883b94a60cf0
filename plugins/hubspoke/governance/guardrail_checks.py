"""SCP guardrails: requests that an SCP must deny for every principal of a spoke account.

Each case is asked as every declared role of the spoke and as the account root (which holds
every identity permission), so only an SCP can deny it: the check demands an explicit SCP
deny, not merely a missing identity permission.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from hubspoke.config.accounts import SPOKES
from hubspoke.governance.access_checks import PACKAGE_WRITES, SERVING, registry, scenario_kms
from hubspoke.governance.check_support import Collector

if TYPE_CHECKING:
    from hubspoke.governance.results import InvariantResult
    from hubspoke.governance.scenario import Scenario

# (action, resource, extra context) built for one spoke account.
Case = tuple[str, str, dict[str, Any]]
CaseMaker = Callable[["Scenario", str], Iterable[Case]]


def _guardrail(
    scenario: Scenario,
    name: str,
    description: str,
    spokes: Iterable[str],
    cases: CaseMaker,
    *,
    who: Callable[[Scenario, str], list[str]] | None = None,
) -> InvariantResult:
    c = Collector(scenario, name, description)
    for spoke in spokes:
        principals = who(scenario, spoke) if who else scenario.starts_in(spoke)
        for principal in principals:
            for action, resource, extra in cases(scenario, spoke):
                c.require_scp_deny(principal, action, resource, extra)
    return c.result()


def _arn(scenario: Scenario, spoke: str, service: str, resource: str, region: str = "") -> str:
    return f"arn:aws:{service}:{region or scenario.region}:{scenario.account(spoke)}:{resource}"


def no_leaving_or_blinding(scenario: Scenario) -> InvariantResult:
    def cases(s: Scenario, spoke: str) -> Iterable[Case]:
        yield ("organizations:LeaveOrganization", "*", {})
        yield ("cloudtrail:StopLogging", _arn(s, spoke, "cloudtrail", "trail/organization"), {})

    return _guardrail(
        scenario,
        "scp-denies-leaving-org-and-stopping-cloudtrail",
        "an SCP denies organizations:LeaveOrganization and cloudtrail:StopLogging to every "
        "principal of every spoke",
        SPOKES,
        cases,
    )


def other_regions_denied(scenario: Scenario) -> InvariantResult:
    def cases(s: Scenario, spoke: str) -> Iterable[Case]:
        region = {"aws:RequestedRegion": s.other_region}
        kms = scenario_kms(s, spoke)
        yield (
            "sagemaker:CreateModel",
            _arn(s, spoke, "sagemaker", "model/x", s.other_region),
            region,
        )
        yield (
            "sagemaker:CreateTrainingJob",
            _arn(s, spoke, "sagemaker", "training-job/x", s.other_region),
            {**region, **kms},
        )
        yield ("s3:CreateBucket", "arn:aws:s3:::hubspoke-elsewhere", region)

    return _guardrail(
        scenario,
        "scp-denies-other-regions",
        f"an SCP denies requests to regions outside allowed_regions "
        f"({', '.join(scenario.model.config.accounts.allowed_regions)}) in every spoke",
        SPOKES,
        cases,
    )


def training_needs_kms(scenario: Scenario) -> InvariantResult:
    def cases(s: Scenario, spoke: str) -> Iterable[Case]:
        yield ("sagemaker:CreateTrainingJob", _arn(s, spoke, "sagemaker", "training-job/x"), {})

    return _guardrail(
        scenario,
        "scp-requires-kms-for-training",
        "an SCP denies sagemaker:CreateTrainingJob without a KMS volume key in every spoke",
        SPOKES,
        cases,
    )


def endpoint_configs_need_kms(scenario: Scenario) -> InvariantResult:
    def cases(s: Scenario, spoke: str) -> Iterable[Case]:
        yield (
            "sagemaker:CreateEndpointConfig",
            _arn(s, spoke, "sagemaker", "endpoint-config/x"),
            {},
        )

    return _guardrail(
        scenario,
        "scp-requires-kms-for-endpoint-configs",
        "an SCP denies sagemaker:CreateEndpointConfig without a KMS key in staging and prod, "
        "to every principal there, the deployer included",
        SERVING,
        cases,
    )


def only_deployer_creates_endpoints(scenario: Scenario) -> InvariantResult:
    def cases(s: Scenario, spoke: str) -> Iterable[Case]:
        yield ("sagemaker:CreateEndpoint", _arn(s, spoke, "sagemaker", "endpoint/x"), {})

    def non_deployers(s: Scenario, spoke: str) -> list[str]:
        deployer = s.role(spoke, "spoke_deployer")
        return [p for p in s.starts_in(spoke) if p != deployer]

    return _guardrail(
        scenario,
        "scp-only-deployer-creates-endpoints",
        "an SCP denies sagemaker:CreateEndpoint in staging and prod to every principal but "
        "the spoke deployer",
        SERVING,
        cases,
        who=non_deployers,
    )


def spoke_registry_writes_denied(scenario: Scenario) -> InvariantResult:
    def cases(s: Scenario, spoke: str) -> Iterable[Case]:
        for _, package in registry(s):
            for action in PACKAGE_WRITES:
                yield (action, package, {})

    return _guardrail(
        scenario,
        "scp-denies-spoke-registry-writes",
        "an SCP denies creating, updating (approving) and deleting hub model packages to every "
        "spoke principal, whatever the registry's resource policy says",
        SPOKES,
        cases,
    )
