"""The S3 path against a real server speaking S3's API (moto in server mode on loopback, started
here): an upload is stored in the bucket without its metadata, the task worker makes the
renditions there, and the URLs pages use are served by the object store with immutable
caching."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pressroom.lib import outbound
from pressroom.media import services
from pressroom.media.rendering import picture_html
from pressroom.media.tests.conftest import run_worker
from pressroom.media.tests.images import has_location_or_device, jpeg_with_gps
from tests.ports import free_port

pytestmark = pytest.mark.django_db(transaction=True)

MOTO_SERVER = Path(sys.executable).with_name("moto_server")
BUCKET = "newsroom-media"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    if not MOTO_SERVER.exists() and not shutil.which("moto_server"):
        pytest.skip("moto[server] is a development dependency")
    port = free_port()
    process = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("moto_server did not start")
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_storage(settings, s3_endpoint, monkeypatch):
    import boto3

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    # Readers fetch media straight from the bucket: public reads by bucket policy (docs/media.md).
    client.put_bucket_policy(
        Bucket=BUCKET,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{BUCKET}/*",
                    }
                ],
            }
        ),
    )
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "location": "media",
                "querystring_auth": False,
                "file_overwrite": False,
                "default_acl": None,
                "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
            },
        },
    }
    yield client
    objects = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    for entry in objects:
        client.delete_object(Bucket=BUCKET, Key=entry["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_upload_renditions_and_urls_through_an_s3_server(s3_storage, s3_endpoint):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(1200, 900), "protest.jpg")
    assert item.url.startswith(f"{s3_endpoint}/{BUCKET}/media/originals/{item.key}/")
    stored = s3_storage.get_object(Bucket=BUCKET, Key=f"media/{item.file.name}")["Body"].read()
    assert has_location_or_device(stored) == []

    run_worker()  # the worker reads the original from the bucket and writes renditions there
    keys = {entry["Key"] for entry in s3_storage.list_objects_v2(Bucket=BUCKET)["Contents"]}
    renditions = list(item.renditions.all())
    assert len(renditions) > 10
    assert {f"media/{rendition.file.name}" for rendition in renditions} <= keys

    webp = item.renditions.get(preset="w640", format="webp")
    response = outbound.fetch(webp.url)
    assert response.status == 200
    assert response.content[8:12] == b"WEBP"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert has_location_or_device(response.content) == []
    assert webp.url in picture_html(item, "lead")

    # Deleting the unused item empties its folders in the bucket.
    services.delete_item(item)
    left = s3_storage.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    assert [entry["Key"] for entry in left if item.key in entry["Key"]] == []


def test_replacing_a_file_removes_the_old_original_and_renditions_from_the_bucket(
    s3_storage, s3_endpoint
):
    """A photo replaced because it exposed a source must not stay readable in the bucket."""
    item, _ = services.add_item_from_bytes(jpeg_with_gps(1200, 900, seed=3), "source.jpg")
    run_worker()
    old_urls = [item.url, *(rendition.url for rendition in item.renditions.all())]
    assert outbound.fetch(old_urls[1]).status == 200

    services.replace_item_file(item, jpeg_with_gps(1000, 750, seed=4), "blurred.jpg")
    for url in old_urls:
        assert outbound.fetch(url, retries=0).status in (403, 404), url
    run_worker()
    item.refresh_from_db()
    current = item.renditions.get(preset="w640", format="webp")
    assert outbound.fetch(current.url).status == 200
    assert outbound.fetch(item.url).status == 200
    keys = {entry["Key"] for entry in s3_storage.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {f"media/{item.file.name}"} | {
        f"media/{rendition.file.name}" for rendition in item.renditions.all()
    }
