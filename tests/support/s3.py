"""Pytest fixtures for a real S3 protocol on loopback: moto's server behind an Airflow ``aws`` connection.

``s3_conn_id`` exports ``AIRFLOW_CONN_<ID>`` (JSON, extra ``endpoint_url``), so
``ObjectStoragePath("s3://<conn_id>@bucket/key")`` and ``S3Hook`` reach the moto server; ``s3_bucket`` gives a
fresh bucket per test with a boto3 client and a few helpers.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

S3_CONN_ID = "moto_s3"
S3_REGION = "us-east-1"
_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _forget_cached_store(conn_id: str) -> None:
    """ObjectStoragePath caches one filesystem per (protocol, conn id) for the process: drop ours."""
    try:
        from airflow.sdk.io import store
    except ImportError:  # Airflow 2.11
        from airflow.io import store

    for protocol in ("s3", "s3a", "s3n"):
        store._STORE_CACHE.pop(f"{protocol}-{conn_id}", None)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto S3 server on a free loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one INFO line per S3 request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_conn_id(moto_server: str) -> Iterator[str]:
    """An Airflow ``aws`` connection (env var) pointing at the moto server."""
    name = f"AIRFLOW_CONN_{S3_CONN_ID.upper()}"
    value = json.dumps(
        {
            "conn_type": "aws",
            "login": _KEYS["aws_access_key_id"],
            "password": _KEYS["aws_secret_access_key"],
            "extra": {"endpoint_url": moto_server, "region_name": S3_REGION},
        }
    )
    previous = os.environ.get(name)
    os.environ[name] = value
    _forget_cached_store(S3_CONN_ID)
    try:
        yield S3_CONN_ID
    finally:
        _forget_cached_store(S3_CONN_ID)
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@pytest.fixture(scope="session")
def s3_client(moto_server: str) -> Any:
    """A boto3 S3 client on the moto server, for arranging and checking buckets."""
    import boto3

    return boto3.client("s3", endpoint_url=moto_server, region_name=S3_REGION, **_KEYS)


@dataclass
class S3Bucket:
    """A fresh bucket on the moto server."""

    name: str
    client: Any
    conn_id: str

    def url(self, key: str) -> str:
        """``s3://<conn_id>@<bucket>/<key>``, an ObjectStoragePath URL."""
        return f"s3://{self.conn_id}@{self.name}/{key}"

    def keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)

    def pending_uploads(self) -> list[dict[str, Any]]:
        return self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", [])

    def empty(self) -> None:
        for upload in self.pending_uploads():
            self.client.abort_multipart_upload(Bucket=self.name, Key=upload["Key"], UploadId=upload["UploadId"])
        for key in self.keys():
            self.client.delete_object(Bucket=self.name, Key=key)


@pytest.fixture
def s3_bucket(s3_conn_id: str, s3_client: Any) -> Iterator[S3Bucket]:
    """A fresh, empty bucket (deleted afterwards) reachable through the ``s3_conn_id`` connection."""
    bucket = S3Bucket(f"test-{uuid.uuid4().hex[:16]}", s3_client, s3_conn_id)
    s3_client.create_bucket(Bucket=bucket.name)
    try:
        yield bucket
    finally:
        bucket.empty()
        s3_client.delete_bucket(Bucket=bucket.name)
