"""Moving job data between S3 and a job's dirs never reaches outside them (a fake S3 client)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from localcloud.runtime.s3_staging import (
    S3StagingError,
    contained_files,
    download_prefix,
    upload_dir,
)


class FakeS3:
    """list_objects_v2 (one page), get_object and put_object over a dict of keys."""

    def __init__(self, objects: dict[str, bytes] | None = None) -> None:
        self.objects = dict(objects or {})
        self.reads: list[str] = []

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_objects_v2"
        objects = self.objects

        class Paginator:
            def paginate(self, Bucket: str, Prefix: str) -> list[dict[str, Any]]:
                keys = sorted(k for k in objects if k.startswith(Prefix))
                return [{"Contents": [{"Key": k} for k in keys]}]

        return Paginator()

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.reads.append(Key)
        return {"Body": io.BytesIO(self.objects[Key])}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **extra: Any) -> None:
        self.objects[Key] = Body


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_keys_keep_their_path_below_the_prefix(tmp_path: Path) -> None:
    s3 = FakeS3({"in/a.csv": b"a", "in/sub/b.csv": b"b", "in/dir/": b"", "other/c": b"c"})
    download_prefix(s3, "s3://bucket/in/", tmp_path / "dest")
    assert _tree(tmp_path / "dest") == {"a.csv", "sub/b.csv"}


def test_dot_dot_that_stays_inside_lands_where_it_resolves(tmp_path: Path) -> None:
    download_prefix(FakeS3({"in/x/../y.txt": b"y"}), "s3://bucket/in/", tmp_path / "dest")
    assert (tmp_path / "dest" / "y.txt").read_bytes() == b"y"


@pytest.mark.parametrize(
    "key",
    [
        "in/../escaped.txt",
        "in/a/../../escaped.txt",
        "in/" + "../" * 20 + "tmp/escaped.txt",
        "in/..",
    ],
)
def test_a_key_that_leaves_the_destination_fails_before_anything_is_written(
    tmp_path: Path, key: str
) -> None:
    dest = tmp_path / "job" / "dest"
    s3 = FakeS3({"in/first.txt": b"1", key: b"outside"})
    with pytest.raises(S3StagingError) as info:
        download_prefix(s3, "s3://bucket/in/", dest)
    assert f"s3://bucket/{key}" in str(info.value)
    assert "leads outside the local directory" in str(info.value)
    assert s3.reads == []  # refused before the first read
    assert _tree(tmp_path) == set()


def test_a_uri_naming_one_object_whose_base_name_is_dot_dot_is_refused(tmp_path: Path) -> None:
    with pytest.raises(S3StagingError):
        download_prefix(FakeS3({"in/..": b"x"}), "s3://bucket/in/..", tmp_path / "dest")


def test_a_symlinked_destination_parent_cannot_redirect_writes(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "sub").symlink_to(outside)
    with pytest.raises(S3StagingError):
        download_prefix(FakeS3({"in/sub/x.txt": b"x"}), "s3://bucket/in/", dest)
    assert not (outside / "x.txt").exists()


def test_upload_follows_links_inside_and_refuses_links_outside(tmp_path: Path) -> None:
    source = tmp_path / "out"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "model.bin").write_bytes(b"m")
    (source / "alias.bin").symlink_to(source / "sub" / "model.bin")
    (source / "loop").symlink_to(source)  # walked once, not forever
    s3 = FakeS3()
    upload_dir(s3, source, "s3://bucket/prefix/", None)
    assert set(s3.objects) == {"prefix/sub/model.bin", "prefix/alias.bin"}

    secret = tmp_path / "secret.txt"
    secret.write_text("host")
    (source / "sub" / "leak").symlink_to(secret)
    s3 = FakeS3()
    with pytest.raises(S3StagingError) as info:
        upload_dir(s3, source, "s3://bucket/prefix/", None)
    assert "'sub/leak' is a symbolic link to a path outside" in str(info.value)
    assert str(secret) not in str(info.value)
    assert s3.objects == {}


def test_a_link_to_a_directory_outside_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "out"
    source.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f").write_text("x")
    (source / "dir").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(S3StagingError):
        contained_files(source)


def test_containment_can_be_checked_against_a_wider_root(tmp_path: Path) -> None:
    job = tmp_path / "job"
    (job / "input").mkdir(parents=True)
    (job / "input" / "data.csv").write_text("1")
    output = job / "output"
    output.mkdir()
    (output / "copy.csv").symlink_to(job / "input" / "data.csv")
    assert contained_files(output, job) == [output / "copy.csv"]
    with pytest.raises(S3StagingError):
        contained_files(output)  # against the output dir alone the link leaves it
    replaced = job / "replaced"
    replaced.symlink_to(tmp_path)
    with pytest.raises(S3StagingError) as info:
        contained_files(replaced, job, "output result")
    assert str(info.value) == (
        "ClientError: output result is a symbolic link to a path outside the job's directory"
    )


def test_missing_source_uploads_nothing(tmp_path: Path) -> None:
    assert upload_dir(FakeS3(), tmp_path / "none", "s3://bucket/p", None) == []
    assert os.listdir(tmp_path) == []
