"""One real call per local service (see conftest.py for how they are started)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
import uuid

import boto3
from botocore.config import Config


def _aws_client(service: str, endpoint: str, env: dict):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or "testing",
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or "testing",
        # With an endpoint override no endpoint discovery must happen
        # (Timestream requires it against real AWS).
        config=Config(endpoint_discovery_enabled=False, retries={"max_attempts": 2}),
    )


def test_dynamodb_put_get(dynamodb_env):
    ddb = _aws_client("dynamodb", dynamodb_env["LGB_DYNAMODB_ENDPOINT"], dynamodb_env)
    table = f"lgb-test-{uuid.uuid4().hex[:12]}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        ddb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        item = {"pk": {"S": "key-1"}, "payload": {"S": "hello lgb"}, "n": {"N": "42"}}
        ddb.put_item(TableName=table, Item=item)
        got = ddb.get_item(TableName=table, Key={"pk": {"S": "key-1"}}, ConsistentRead=True)
        assert got["Item"] == item
        # ListTables pages at 100 names, and other tests leave tables on a shared server.
        names = [n for page in ddb.get_paginator("list_tables").paginate() for n in page["TableNames"]]
        assert table in names
    finally:
        ddb.delete_table(TableName=table)


def test_timestream_create_list(timestream_env):
    endpoint = timestream_env["LGB_TIMESTREAM_ENDPOINT"]
    tsw = _aws_client("timestream-write", endpoint, timestream_env)
    database = f"lgb_test_{uuid.uuid4().hex[:12]}"
    created = tsw.create_database(DatabaseName=database)["Database"]
    try:
        assert created["DatabaseName"] == database
        names = [db["DatabaseName"] for db in tsw.list_databases()["Databases"]]
        assert database in names
        tsw.create_table(DatabaseName=database, TableName="samples")
        tables = tsw.list_tables(DatabaseName=database)["Tables"]
        assert [t["TableName"] for t in tables] == ["samples"]
    finally:
        tsw.delete_table(DatabaseName=database, TableName="samples")
        tsw.delete_database(DatabaseName=database)


def test_immudb_login_set_get(immudb_env, immudb_probe):
    host, port = immudb_env["LGB_IMMUDB_ENDPOINT"].rsplit(":", 1)
    user = immudb_env.get("LGB_IMMUDB_USER", "immudb")
    password = immudb_env.get("LGB_SECRET_IMMUDB_PASSWORD", "immudb")
    database = immudb_env.get("LGB_IMMUDB_DATABASE", "defaultdb")
    key = f"lgb-test-{uuid.uuid4().hex}"
    value = f"value {uuid.uuid4()}"
    base = [immudb_probe, "-addr", host, "-port", port, "-user", user,
            "-password", password, "-database", database]

    def probe(*args: str) -> str:
        out = subprocess.run([*base, *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    # Two separate sessions (two logins): write, then read back.
    tx = probe("set", key, value)
    assert int(tx) > 0
    assert probe("get", key) == value + "\n"

    # A wrong password is refused: the login is real.
    bad = subprocess.run([*base[:-4], "-password", "not-the-password", "-database", database, "health"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0
    assert "invalid user name or password" in bad.stderr


def test_lambda_rie_invoke_echo(lambda_rie_env):
    url = lambda_rie_env["LGB_LAMBDA_RIE_ENDPOINT"].rstrip("/") + "/2015-03-31/functions/function/invocations"
    payload = {"id": str(uuid.uuid4()), "numbers": [1, 2, 3], "text": "héllo\nworld"}
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=60) as resp:
        assert resp.status == 200
        body = resp.read().decode()
    assert json.loads(body) == payload
