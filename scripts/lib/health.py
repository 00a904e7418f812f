"""Real health checks for the local services of scripts/services.

Run with the services venv's python (it needs boto3):

    health.py check NAME ENDPOINT [--probe PATH]            one attempt
    health.py wait NAME ENDPOINT [--timeout S] [--pid PID] [--probe PATH]

NAME is dynamodb, timestream, immudb, influxdb, lambda-rie or lambda. Each check is a real API
call: DynamoDB ListTables, Timestream ListDatabases, an immudb login (session)
plus a database health call through lgb-immudb-probe, and a Lambda invocation
through the Runtime Interface Emulator whose answer must equal the posted
payload (the echo bootstrap), and a signed ListFunctions to the local Lambda
control plane. Exit 0 when healthy; otherwise exit 1 and print
the last error on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid

LOCAL_CREDENTIALS = dict(
    region_name="us-east-1",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
)


def _boto_client(service: str, endpoint: str):
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=2,
        read_timeout=10,
        retries={"max_attempts": 1, "mode": "standard"},
        endpoint_discovery_enabled=False,
    )
    return boto3.client(service, endpoint_url=endpoint, config=config, **LOCAL_CREDENTIALS)


def check_dynamodb(endpoint: str, _args) -> str:
    tables = _boto_client("dynamodb", endpoint).list_tables()["TableNames"]
    return f"ListTables ok ({len(tables)} tables)"


def check_timestream(endpoint: str, _args) -> str:
    dbs = _boto_client("timestream-write", endpoint).list_databases()["Databases"]
    return f"ListDatabases ok ({len(dbs)} databases)"


def check_immudb(endpoint: str, args) -> str:
    host, _, port = endpoint.rpartition(":")
    if not args.probe:
        raise RuntimeError("--probe PATH (lgb-immudb-probe) is required for immudb")
    out = subprocess.run(
        [args.probe, "-addr", host, "-port", port, "-timeout", "5s", "health"],
        capture_output=True,
        text=True,
        timeout=15,
    )
    if out.returncode != 0:
        raise RuntimeError((out.stderr or out.stdout).strip() or f"probe exit {out.returncode}")
    return "login + health ok: " + out.stdout.strip()


def check_influxdb(endpoint: str, _args) -> str:
    # /ping answers 204 with the server's version once the HTTP API serves;
    # SHOW DATABASES proves the query engine (and its meta store) is up.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(endpoint.rstrip("/") + "/ping", timeout=5) as resp:
        version = resp.headers.get("X-Influxdb-Version", "")
        if resp.status != 204 or not version:
            raise RuntimeError(f"/ping answered {resp.status} without X-Influxdb-Version")
    req = urllib.request.Request(
        endpoint.rstrip("/") + "/query",
        data=b"q=SHOW+DATABASES",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with opener.open(req, timeout=10) as resp:
        body = json.loads(resp.read().decode())
    if "error" in body["results"][0]:
        raise RuntimeError(body["results"][0]["error"])
    return f"ping + SHOW DATABASES ok (InfluxDB {version})"


def check_lambda_rie(endpoint: str, _args) -> str:
    payload = {"lgb_health_check": str(uuid.uuid4())}
    req = urllib.request.Request(
        endpoint.rstrip("/") + "/2015-03-31/functions/function/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=30) as resp:
        body = resp.read().decode()
    if json.loads(body) != payload:
        raise RuntimeError(f"invocation answered {body!r}, expected the payload {payload!r}")
    return "invocation echoed the payload"


def check_lambda(endpoint: str, _args) -> str:
    # A signed API call: the control plane verifies SigV4 like Lambda does.
    names = [f["FunctionName"] for f in _boto_client("lambda", endpoint).list_functions()["Functions"]]
    if not names:
        raise RuntimeError("ListFunctions returned no function")
    return f"ListFunctions ok ({', '.join(names)})"


CHECKS = {
    "dynamodb": check_dynamodb,
    "timestream": check_timestream,
    "immudb": check_immudb,
    "influxdb": check_influxdb,
    "lambda-rie": check_lambda_rie,
    "lambda": check_lambda,
}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["check", "wait"])
    parser.add_argument("name", choices=sorted(CHECKS))
    parser.add_argument("endpoint")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--pid", type=int)
    parser.add_argument("--probe")
    args = parser.parse_args()

    check = CHECKS[args.name]
    deadline = time.monotonic() + args.timeout
    last_error = "no attempt made"
    while True:
        try:
            print(check(args.endpoint, args))
            return 0
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy yet"
            last_error = f"{type(exc).__name__}: {exc}"
        if args.mode == "check":
            break
        if args.pid is not None and not _alive(args.pid):
            last_error = f"process {args.pid} exited; last error: {last_error}"
            break
        if time.monotonic() >= deadline:
            last_error = f"not healthy after {args.timeout:g} s; last error: {last_error}"
            break
        time.sleep(0.25)
    print(f"{args.name} at {args.endpoint}: {last_error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
