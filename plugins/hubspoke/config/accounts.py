"""``config/accounts.yaml``: the organization, its accounts, region and role names."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

AccountName = Literal["management", "hub", "dev", "staging", "prod"]
SpokeName = Literal["dev", "staging", "prod"]
SPOKES: tuple[SpokeName, ...] = ("dev", "staging", "prod")

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_OU_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Account(_Strict):
    """One AWS account. ``ou`` is the path below the organization root, e.g. ``ml-workloads/dev``;
    the management account sits at the root and has none."""

    id: str = Field(pattern=r"^\d{12}$", description="12-digit AWS account ID")
    ou: str | None = None
    email: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_string(cls, value: object) -> object:
        # YAML reads an unquoted 012345678901 as an int and drops the leading zero.
        if isinstance(value, int):
            raise ValueError("quote the account ID (YAML reads a bare number as an integer)")
        return value

    @field_validator("ou")
    @classmethod
    def _ou_path(cls, value: str | None) -> str | None:
        if value is not None and not _OU_PATH.match(value):
            raise ValueError("must be an OU path like 'ml-workloads/dev'")
        return value


class Accounts(_Strict):
    management: Account
    hub: Account
    dev: Account
    staging: Account
    prod: Account


class Roles(_Strict):
    """Role names, the same in every account that has the role."""

    orchestrator: str = "hubspoke-orchestrator"
    approver: str = "hubspoke-approver"
    spoke_deployer: str = "hubspoke-spoke-deployer"
    sagemaker_execution: str = "hubspoke-sagemaker-execution"

    @field_validator("*")
    @classmethod
    def _role_name(cls, value: str) -> str:
        if not _ROLE_NAME.match(value):
            raise ValueError("not a valid IAM role name (1-64 of letters, digits and +=,.@_-)")
        return value


class AccountsConfig(_Strict):
    """The whole of ``config/accounts.yaml``."""

    organization_name: str = "hubspoke"
    region: str = "us-east-1"
    allowed_regions: list[str] = Field(default_factory=lambda: ["us-east-1"])
    accounts: Accounts
    roles: Roles = Roles()

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError("not an AWS region name like 'us-east-1'")
        return value

    @field_validator("allowed_regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        bad = [r for r in value if not _REGION.match(r)]
        if bad:
            raise ValueError(f"not AWS region names: {', '.join(bad)}")
        if not value:
            raise ValueError("list at least the home region")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AccountsConfig:
        if self.region not in self.allowed_regions:
            raise ValueError(f"region {self.region!r} must be one of allowed_regions")
        ids: dict[str, str] = {}
        for name in ("management", "hub", *SPOKES):
            account: Account = getattr(self.accounts, name)
            if account.id in ids:
                raise ValueError(
                    f"accounts.{name} and accounts.{ids[account.id]} share ID {account.id}; "
                    "each account needs its own"
                )
            ids[account.id] = name
            if name == "management" and account.ou is not None:
                raise ValueError("accounts.management sits at the organization root: remove 'ou'")
            if name != "management" and account.ou is None:
                raise ValueError(f"accounts.{name}.ou is required (e.g. 'ml-workloads/{name}')")
        return self

    # --- derived names: declared once here, used by infra, DAGs and localcloud alike ---

    def account_id(self, name: AccountName) -> str:
        account: Account = getattr(self.accounts, name)
        return account.id

    def role_arn(self, account: AccountName, role: str) -> str:
        return f"arn:aws:iam::{self.account_id(account)}:role/{role}"

    @property
    def orchestrator_arn(self) -> str:
        return self.role_arn("hub", self.roles.orchestrator)

    @property
    def approver_arn(self) -> str:
        return self.role_arn("hub", self.roles.approver)

    def deployer_arn(self, spoke: SpokeName) -> str:
        return self.role_arn(spoke, self.roles.spoke_deployer)

    def execution_role_arn(self, spoke: SpokeName) -> str:
        return self.role_arn(spoke, self.roles.sagemaker_execution)

    @property
    def artifacts_bucket(self) -> str:
        return f"hubspoke-artifacts-{self.accounts.hub.id}"

    @property
    def dev_bucket(self) -> str:
        return f"hubspoke-dev-{self.accounts.dev.id}"

    def ou_paths(self) -> list[str]:
        """Every OU path the organization needs, parents before children."""
        paths: set[str] = set()
        for name in ("hub", *SPOKES):
            ou = getattr(self.accounts, name).ou
            parts = ou.split("/")
            paths.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return sorted(paths, key=lambda p: (p.count("/"), p))
