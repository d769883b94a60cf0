"""Enforcement: every request is evaluated with ``hubspoke.iam`` before moto sees it.

The caller's SCPs, identity policies, permissions boundary and, for another account's
resource, that resource's policy (bucket, KMS key, queue, model package group, role trust)
decide; a denial is worded as AWS words it, in the caller's protocol.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from moto.kms.models import kms_backends
from moto.s3.models import s3_backends

from hubspoke.iam import Request, World, evaluate
from localcloud.authz.snapshot import build_world_dict
from localcloud.authz.table import Target, checks_for
from localcloud.gateway import Denial
from localcloud.protocol import accepts, protocol_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from hubspoke.iam import Decision
    from localcloud.credentials import Session
    from localcloud.protocol import AwsRequest

log = logging.getLogger("localcloud.enforcer")

# Services whose writes change a policy the engine reads.
_POLICY_SERVICES = {"iam", "organizations", "s3", "kms", "sqs", "sagemaker"}
_READ_PREFIXES = ("Get", "List", "Describe", "Head")


def _is_write(request: AwsRequest) -> bool:
    if request.service == "s3":
        return request.method not in {"GET", "HEAD"}
    return not (request.operation or "").startswith(_READ_PREFIXES)


def denial_for(service: str, decision: Decision) -> Denial:
    """AWS's AccessDenied for ``service``'s protocol."""
    protocol = protocol_of(service)
    if service == "s3":
        return Denial("AccessDenied", decision.message, 403)
    if protocol == "query" or accepts(service, "query"):
        # A service that still accepts query (CloudWatch) answers as over query on any wire.
        return Denial("AccessDenied", decision.message, 403)
    if service == "sqs":
        return Denial("AccessDenied", decision.message, 400)
    return Denial("AccessDeniedException", decision.message, 400)


class Enforcer:
    """The default :class:`~localcloud.gateway.Authorizer` of localcloud."""

    def __init__(
        self,
        accounts: Callable[[], list[str]],
        management_account: str,
        extra_resource_policies: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._accounts = accounts
        self._management = management_account
        self._extra = extra_resource_policies or dict
        # One World per region: KMS keys and queues are regional, and a request signed for
        # another region must not evict (or replace) the World of the home region.
        self._worlds: dict[str, World] = {}
        self._lock = threading.Lock()
        self.evaluations = 0

    def invalidate(self) -> None:
        with self._lock:
            self._worlds.clear()

    def world(self, region: str) -> World:
        with self._lock:
            world = self._worlds.get(region)
            if world is None:
                data = build_world_dict(self._accounts(), self._management, region, self._extra())
                world = self._worlds[region] = World.from_dict(data)
            return world

    def authorize(self, session: Session, request: AwsRequest) -> Denial | None:
        target = Target(account=session.account, region=request.region)
        checks = checks_for(
            request, target, bucket_kms_key=_bucket_kms_key, key_arn_of=_key_arn(request.region)
        )
        if not checks:
            return None
        world = self.world(request.region)
        base_context: dict[str, Any] = {
            # localcloud listens on loopback HTTP; it stands for AWS's TLS endpoints, so
            # aws:SecureTransport is true (a documented difference).
            "aws:SecureTransport": True,
            "aws:RequestedRegion": request.region,
        }
        for check in checks:
            decision = evaluate(
                world,
                Request(
                    principal=session.caller_arn,
                    action=check.action,
                    resource=check.resource,
                    context={**base_context, **check.context},
                ),
            )
            self.evaluations += 1
            if not decision.allowed:
                log.info("denied: %s", decision.message)
                return denial_for(request.service, decision)
        return None

    def after(self, session: Session, request: AwsRequest) -> None:
        if request.service in _POLICY_SERVICES and _is_write(request):
            self.invalidate()


def _bucket_kms_key(bucket_name: str, key_name: str | None) -> str | None:
    """The KMS key that encrypts (or will encrypt) an object, if SSE-KMS applies."""
    owner = s3_backends.bucket_accounts.get(bucket_name)
    if owner is None:
        return None
    partition, account = owner
    bucket = s3_backends[account][partition].buckets.get(bucket_name)
    if bucket is None:
        return None
    if key_name:
        stored = bucket.keys.get(key_name)
        if stored is not None:
            return stored.kms_key_id if stored.encryption == "aws:kms" else None
    rules = (bucket.encryption or {}).get("Rule") or []
    for rule in rules if isinstance(rules, list) else [rules]:
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID"):
            return str(default["KMSMasterKeyID"])
    return None


def _key_arn(region: str) -> Callable[[str, str], str | None]:
    def resolve(key: str, account: str) -> str | None:
        backend = kms_backends[account][region]
        try:
            key_id = backend.any_id_to_key_id(key)
        except Exception:  # an unknown alias or id: evaluated as given
            return None
        stored = backend.keys.get(key_id)
        return stored.arn if stored is not None else None

    return resolve
