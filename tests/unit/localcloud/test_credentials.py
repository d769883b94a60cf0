"""The credential store drops keys long expired, so it does not grow with every issue."""

from __future__ import annotations

from datetime import timedelta

from localcloud.credentials import CredentialStore

ROLE = "arn:aws:iam::222222222222:role/hubspoke-sagemaker-execution"


def test_keys_expired_beyond_the_grace_are_purged_every_n_issues() -> None:
    store = CredentialStore(purge_every=4, expired_grace=timedelta(minutes=10))
    gone = store.issue_role_session(ROLE, "gone", duration=-timedelta(minutes=11))
    recent = store.issue_role_session(ROLE, "recent", duration=-timedelta(minutes=9))
    valid = store.issue_role_session(ROLE, "valid")
    assert len(store) == 3 and store.get(gone.access_key_id) is gone  # not yet due
    store.issue_role_session(ROLE, "fourth")  # the fourth issue purges
    assert store.get(gone.access_key_id) is None
    assert store.get(recent.access_key_id) is recent and recent.expired
    assert store.get(valid.access_key_id) is valid and not valid.expired
    assert len(store) == 3


def test_the_store_stays_bounded_under_a_stream_of_short_sessions() -> None:
    store = CredentialStore(purge_every=100, expired_grace=timedelta(0))
    root = store.issue_root("123456789012")
    for i in range(5000):
        store.issue_role_session(ROLE, f"s{i}", duration=-timedelta(seconds=1))
    assert len(store) <= 101
    assert store.get(root.access_key_id) is root  # the long-lived admin key stays


def test_purge_reports_how_many_keys_went() -> None:
    store = CredentialStore(purge_every=1000, expired_grace=timedelta(0))
    for i in range(3):
        store.issue_role_session(ROLE, f"s{i}", duration=-timedelta(seconds=1))
    store.issue_role_session(ROLE, "valid")
    assert store.purge() == 3
    assert store.purge() == 0
    assert len(store) == 1
