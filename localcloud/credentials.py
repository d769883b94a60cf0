"""Credentials localcloud issues, and who they belong to.

Every request must be signed with a key issued here: by ``sts:AssumeRole`` (checked against
the role's trust policy), by ``hubspoke localcloud creds`` (a session of a role as if the
service its trust policy names had assumed it), or the management account's admin key.
"""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

_KEY_ALPHABET = string.ascii_uppercase + string.digits
DEFAULT_DURATION = timedelta(hours=1)
# An expired key is kept this long, so its holder still hears ExpiredToken (and refreshes)
# rather than that the key is unknown; then it is forgotten.
EXPIRED_GRACE = timedelta(minutes=15)
# Expired keys are looked for once every this many issued keys.
PURGE_EVERY = 256


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class Session:
    """One issued credential and the principal it stands for."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None
    account: str
    # The IAM identity policies are looked up by: a role ARN, or the account root.
    principal_arn: str
    # What AWS shows as the caller: arn:aws:sts::A:assumed-role/R/S or the root ARN.
    caller_arn: str
    expiration: datetime = field(default_factory=lambda: datetime.now(UTC) + DEFAULT_DURATION)
    # The principal that assumed this session (role chaining, source identity).
    source_arn: str | None = None

    @property
    def is_root(self) -> bool:
        return self.principal_arn.endswith(":root")

    @property
    def expired(self) -> bool:
        return datetime.now(UTC) >= self.expiration

    def as_env(self, region: str, endpoint_url: str | None) -> dict[str, str]:
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
        }
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        if endpoint_url:
            env["AWS_ENDPOINT_URL"] = endpoint_url
        return env


def role_session_arn(role_arn: str, session_name: str) -> str:
    """``arn:aws:iam::A:role/path/R`` → ``arn:aws:sts::A:assumed-role/R/session``."""
    account = role_arn.split(":")[4]
    role_name = role_arn.rsplit("/", 1)[-1]
    return f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"


class CredentialStore:
    """Thread-safe table of issued keys.

    Every AssumeRole, job and model fetch issues a key; so that a long-running localcloud does
    not keep them all, keys expired for longer than ``expired_grace`` are dropped, looked for
    once every ``purge_every`` issues (a pass over the table, amortized to nothing per issue).
    """

    def __init__(
        self, *, purge_every: int = PURGE_EVERY, expired_grace: timedelta = EXPIRED_GRACE
    ) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.purge_every = purge_every
        self.expired_grace = expired_grace
        self._issued_since_purge = 0

    def __len__(self) -> int:
        """How many keys are held: valid ones and those expired within the grace period
        (older ones may remain until the next purge)."""
        with self._lock:
            return len(self._sessions)

    def purge(self) -> int:
        """Forget keys expired for longer than ``expired_grace``; how many were dropped."""
        cutoff = datetime.now(UTC) - self.expired_grace
        with self._lock:
            stale = [key for key, s in self._sessions.items() if s.expiration <= cutoff]
            for key in stale:
                del self._sessions[key]
            self._issued_since_purge = 0
        return len(stale)

    def issue_role_session(
        self,
        role_arn: str,
        session_name: str,
        *,
        duration: timedelta = DEFAULT_DURATION,
        source_arn: str | None = None,
    ) -> Session:
        account = role_arn.split(":")[4]
        session = Session(
            access_key_id="ASIA" + _random(_KEY_ALPHABET, 16),
            secret_access_key=_random(string.ascii_letters + string.digits + "+/", 40),
            session_token=_random(string.ascii_letters + string.digits, 120),
            account=account,
            principal_arn=role_arn,
            caller_arn=role_session_arn(role_arn, session_name),
            expiration=datetime.now(UTC) + duration,
            source_arn=source_arn,
        )
        self._add(session)
        return session

    def issue_root(self, account: str) -> Session:
        """A long-lived key of the account root (used for the management admin)."""
        root = f"arn:aws:iam::{account}:root"
        session = Session(
            access_key_id="AKIA" + _random(_KEY_ALPHABET, 16),
            secret_access_key=_random(string.ascii_letters + string.digits + "+/", 40),
            session_token=None,
            account=account,
            principal_arn=root,
            caller_arn=root,
            expiration=datetime.now(UTC) + timedelta(days=3650),
        )
        self._add(session)
        return session

    def _add(self, session: Session) -> None:
        with self._lock:
            self._sessions[session.access_key_id] = session
            self._issued_since_purge += 1
            due = self._issued_since_purge >= self.purge_every
        if due:
            self.purge()

    def get(self, access_key_id: str) -> Session | None:
        with self._lock:
            return self._sessions.get(access_key_id)
