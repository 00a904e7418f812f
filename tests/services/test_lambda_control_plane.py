"""The local Lambda control plane (`scripts/services run-lambda` / `start lambda`)
with the real lgb worker: lgb-lambda's `bootstrap`, built by cargo, under the
Runtime Interface Emulator. Each test starts its own control plane on a free port
and ends it by pid; a control plane or bootstrap that cannot start fails the test.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import REPO, SERVICES

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="session")
def bootstrap() -> str:
    """lgb-lambda's bootstrap: $LGB_BOOTSTRAP, or built now with cargo (a no-op when fresh)."""
    given = os.environ.get("LGB_BOOTSTRAP")
    if given:
        return given
    target = os.environ.get("CARGO_TARGET_DIR") or str(Path.home() / ".cache" / "lgb-target")
    build = subprocess.run(
        ["cargo", "build", "-p", "lgb-lambda", "--bin", "bootstrap"],
        cwd=REPO,
        env={**os.environ, "CARGO_TARGET_DIR": target},
        capture_output=True,
        text=True,
    )
    if build.returncode != 0:
        pytest.fail(f"cargo build of the bootstrap failed:\n{build.stderr[-4000:]}", pytrace=False)
    return str(Path(target) / "debug" / "bootstrap")


def _free_port() -> int:
    out = subprocess.run([str(SERVICES), "free-port"], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


class ControlPlane:
    def __init__(self, endpoint: str, proc: subprocess.Popen, log: Path):
        self.endpoint, self.proc, self.log = endpoint, proc, log

    def client(self, secret: str = "testing", key: str = "testing"):
        return boto3.client(
            "lambda",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=120),
        )

    def stats(self, name: str | None = None) -> dict:
        with OPENER.open(f"{self.endpoint}/_lgb/stats", timeout=10) as r:
            stats = json.load(r)
        return stats["functions"][name] if name else stats

    def url(self, name: str) -> str:
        return f"{self.endpoint}/lambda-url/{name}/"

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def control_plane(functions: dict, **settings):
    with tempfile.TemporaryDirectory(prefix="lgb-cp-test-") as d:
        config = Path(d) / "functions.json"
        config.write_text(json.dumps({"functions": functions, "update_delay_ms": 300, **settings}))
        log = Path(d) / "cp.log"
        port = _free_port()
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
        env.pop("AWS_SESSION_TOKEN", None)
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [str(SERVICES), "run-lambda", str(port), str(config)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            )
        cp = ControlPlane(f"http://127.0.0.1:{port}", proc, log)
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"the control plane exited ({proc.returncode}):\n{cp.text()}", pytrace=False)
                try:
                    with OPENER.open(f"{cp.endpoint}/_lgb/health", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"the control plane did not answer within 120 s:\n{cp.text()}", pytrace=False)
                    time.sleep(0.05)
            yield cp
        finally:
            kids = _descendants(proc.pid)
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # Stopping it ended every sandbox (emulator and bootstrap) it had started.
        time.sleep(0.2)
        alive = [k for k in kids if _alive(k)]
        assert not alive, f"processes left after the control plane stopped: {alive}"


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                kids = []
            out += kids
            todo += kids
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def worker_request(ops: int = 200, rate: float | None = None, index: int = 0, count: int = 1) -> dict:
    """A run-phase WorkerRequest: `ops` reads of the in-memory database (at `rate`/s if given)."""
    test = {"name": "reads", "operation": {"type": "read"}, "operations": ops, "concurrency": 1}
    if rate:
        test["rate"] = rate
    return {
        "version": 2,
        "run_id": "cp",
        "phase": "run",
        "test": test,
        "database": {"type": "memory"},
        "workload": {"records": 100, "load": False},
        "worker": {"index": index, "count": count},
        "seed": 7,
    }


def invoke(client, name: str, request: dict) -> tuple[dict, str, dict]:
    """Invoke with LogType Tail: (WorkerResult, log tail, response)."""
    r = client.invoke(FunctionName=name, Payload=json.dumps(request).encode(), LogType="Tail")
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    assert r["ExecutedVersion"] == "$LATEST"
    return body, base64.b64decode(r["LogResult"]).decode(), r


def report_line(tail: str) -> str:
    lines = [line for line in tail.splitlines() if line.startswith("REPORT RequestId: ")]
    assert len(lines) == 1, tail
    return lines[0]


def fn(bootstrap: str, **extra) -> dict:
    return {"bootstrap": bootstrap, "memory_size": 256, "timeout": 60, "environment": {"RUST_LOG": "info"}, **extra}


def test_warm_reuse_then_cold_on_concurrency(bootstrap):
    with control_plane({"lgb-a": fn(bootstrap), "lgb-b": fn(bootstrap, memory_size=512)}) as cp:
        client = cp.client()
        first, tail1, _ = invoke(client, "lgb-a", worker_request())
        assert first["status"] == "completed", first
        assert first["environment"]["cold_start"] is True
        assert first["environment"]["function"] == "lgb-a"
        assert first["environment"]["memory_mb"] == 256
        r1 = report_line(tail1)
        assert "Init Duration: " in r1 and "Memory Size: 256 MB" in r1, r1
        second, tail2, _ = invoke(client, "lgb-a", worker_request())
        assert second["environment"]["cold_start"] is False, "the warm sandbox was reused"
        assert "Init Duration" not in report_line(tail2)
        s = cp.stats("lgb-a")
        assert (s["invocations"], s["cold_starts"], s["sandboxes"], s["warm"]) == (2, 1, 1, 1)
        assert cp.stats("lgb-b")["invocations"] == 0, "functions are apart"

        # Four at once, each lasting ~1 s: one warm sandbox, so three new (cold) ones.
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda i: invoke(cp.client(), "lgb-a", worker_request(20, rate=20, index=i, count=4)), range(4)))
        colds = [r["environment"]["cold_start"] for r, _, _ in results]
        assert sorted(colds) == [False, True, True, True], colds
        for r, tail, _ in results:
            assert r["status"] == "completed", r
            assert ("Init Duration: " in report_line(tail)) == r["environment"]["cold_start"]
        s = cp.stats("lgb-a")
        assert (s["cold_starts"], s["max_in_flight"], s["sandboxes"], s["in_flight"]) == (4, 4, 4, 0)
        # The next four all find a warm sandbox.
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda i: invoke(cp.client(), "lgb-a", worker_request(20, rate=20, index=i, count=4)), range(4)))
        assert [r["environment"]["cold_start"] for r, _, _ in results] == [False] * 4
        assert cp.stats("lgb-a")["cold_starts"] == 4
        # Max Memory Used is measured (the bootstrap's peak RSS), not the configured size.
        used = int(report_line(results[0][1]).split("Max Memory Used: ")[1].split()[0])
        assert 1 <= used < 256, used


def test_update_retires_sandboxes_and_memory_size_reaches_them(bootstrap):
    with control_plane({"lgb-a": fn(bootstrap, memory_size=128)}) as cp:
        client = cp.client()
        r, _, _ = invoke(client, "lgb-a", worker_request())
        assert r["environment"]["memory_mb"] == 128
        conf = client.get_function_configuration(FunctionName="lgb-a")
        assert (conf["MemorySize"], conf["LastUpdateStatus"], conf["State"]) == (128, "Successful", "Active")

        out = client.update_function_configuration(
            FunctionName="lgb-a", MemorySize=1024, Environment={"Variables": {"LGB_NONCE": "1", "RUST_LOG": "info"}}
        )
        assert (out["MemorySize"], out["LastUpdateStatus"]) == (1024, "InProgress")
        # A second update while one is in progress is refused, like Lambda does.
        with pytest.raises(ClientError) as e:
            client.update_function_configuration(FunctionName="lgb-a", MemorySize=512)
        assert e.value.response["Error"]["Code"] == "ResourceConflictException"
        client.get_waiter("function_updated").wait(FunctionName="lgb-a", WaiterConfig={"Delay": 1, "MaxAttempts": 20})
        conf = client.get_function_configuration(FunctionName="lgb-a")
        assert (conf["MemorySize"], conf["LastUpdateStatus"]) == (1024, "Successful")
        assert conf["Environment"]["Variables"]["LGB_NONCE"] == "1"
        s = cp.stats("lgb-a")
        assert (s["sandboxes"], s["updates"]) == (0, 1), "the warm sandbox was retired"

        r, tail, _ = invoke(client, "lgb-a", worker_request())
        assert r["environment"]["cold_start"] is True
        assert r["environment"]["memory_mb"] == 1024
        assert "Memory Size: 1024 MB" in report_line(tail)
        assert cp.stats("lgb-a")["sandbox_memory_sizes"] == [128, 1024]

        with pytest.raises(ClientError) as e:
            client.get_function_configuration(FunctionName="nosuch")
        assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def _signed_post(url: str, body: bytes, secret: str = "testing") -> urllib.request.Request:
    req = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("testing", secret), "lambda", "us-east-1").add_auth(req)
    return urllib.request.Request(url, data=body, headers=dict(req.headers.items()), method="POST")


def _status(req: urllib.request.Request) -> tuple[int, bytes]:
    try:
        with OPENER.open(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_concurrency_limit_answers_429_on_invoke_and_url(bootstrap):
    functions = {"lgb-a": fn(bootstrap, reserved_concurrency=2), "lgb-open": fn(bootstrap, url_auth="NONE", reserved_concurrency=1)}
    with control_plane(functions) as cp:
        slow = worker_request(30, rate=20)  # ~1.5 s each

        def call(_):
            try:
                invoke(cp.client(), "lgb-a", slow)
                return "ok"
            except ClientError as e:
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 429
                return e.response["Error"]["Code"]

        with ThreadPoolExecutor(4) as pool:
            outcomes = sorted(pool.map(call, range(4)))
        assert outcomes == ["TooManyRequestsException"] * 2 + ["ok"] * 2, outcomes
        s = cp.stats("lgb-a")
        assert (s["throttles"], s["max_in_flight"], s["invocations"]) == (2, 2, 2)

        # The Function URL of a function at its limit answers 429 too.
        body = json.dumps(slow).encode()
        with ThreadPoolExecutor(2) as pool:
            statuses = sorted(s for s, _ in pool.map(lambda _: _status(urllib.request.Request(
                cp.url("lgb-open"), data=body, headers={"Content-Type": "application/json"}, method="POST")), range(2)))
        assert statuses == [200, 429], statuses
        assert cp.stats("lgb-open")["throttles"] == 1


def test_function_url_checks_sigv4(bootstrap):
    with control_plane({"lgb-a": fn(bootstrap)}) as cp:
        body = json.dumps(worker_request()).encode()
        status, out = _status(_signed_post(cp.url("lgb-a"), body))
        assert status == 200, out
        result = json.loads(out)
        assert result["status"] == "completed", result
        assert result["environment"]["cold_start"] is True

        # Wrong secret, unsigned, and a body changed after signing: 403, never invoked.
        bad = [
            _signed_post(cp.url("lgb-a"), body, secret="wrong"),
            urllib.request.Request(cp.url("lgb-a"), data=body, headers={"Content-Type": "application/json"}, method="POST"),
        ]
        tampered = _signed_post(cp.url("lgb-a"), body)
        tampered.data = body.replace(b'"seed": 7', b'"seed": 8')
        bad.append(tampered)
        for req in bad:
            status, out = _status(req)
            assert status == 403, out
        s = cp.stats("lgb-a")
        assert (s["url_invocations"], s["signature_failures"]) == (1, 3)

        # The Invoke API checks signatures as well.
        with pytest.raises(ClientError) as e:
            cp.client(secret="wrong").invoke(FunctionName="lgb-a", Payload=body)
        assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
        with pytest.raises(ClientError) as e:
            cp.client(key="AKIDUNKNOWN").invoke(FunctionName="lgb-a", Payload=body)
        assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
        assert cp.stats("lgb-a")["invocations"] == 0


def test_stats_reset_and_bad_config(bootstrap):
    with control_plane({"lgb-a": fn(bootstrap)}) as cp:
        invoke(cp.client(), "lgb-a", worker_request())
        assert cp.stats("lgb-a")["invocations"] == 1
        with OPENER.open(urllib.request.Request(f"{cp.endpoint}/_lgb/reset", method="POST"), timeout=10) as r:
            after = json.load(r)["functions"]["lgb-a"]
        assert (after["invocations"], after["cold_starts"], after["max_in_flight"]) == (0, 0, 0)
        assert (after["sandboxes"], after["warm"]) == (1, 1), "reset keeps the sandboxes warm"
    with tempfile.TemporaryDirectory() as d:
        config = Path(d) / "f.json"
        config.write_text(json.dumps({"functions": {"x": {"bootstrap": "nosuch", "memory_size": 64}}}))
        out = subprocess.run([str(SERVICES), "run-lambda", str(_free_port()), str(config)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 2
        assert "functions.x.bootstrap" in out.stderr, out.stderr


def test_services_start_lambda_with_a_config(bootstrap, tmp_path):
    """`scripts/services start lambda` with LGB_LAMBDA_CONFIG, as docs/lambda.md shows it."""
    run_dir = tmp_path / "run"
    config = tmp_path / "functions.json"
    config.write_text(json.dumps({"functions": {"lgb-dynamodb": fn(bootstrap)}}))
    env = {**os.environ, "LGB_RUN_DIR": str(run_dir), "LGB_LAMBDA_CONFIG": str(config)}
    start = subprocess.run([str(SERVICES), "start", "lambda"], env=env, capture_output=True, text=True)
    assert start.returncode == 0, start.stderr
    try:
        out = subprocess.run([str(SERVICES), "env", "lambda"], env=env, capture_output=True, text=True, check=True).stdout
        values = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
        endpoint = values["LGB_LAMBDA_ENDPOINT"]
        assert values["LGB_LAMBDA_URL_BASE"] == endpoint + "/lambda-url"
        cp = ControlPlane(endpoint, None, run_dir / "lambda.log")
        r, tail, _ = invoke(cp.client(), "lgb-dynamodb", worker_request())
        assert r["status"] == "completed" and "Init Duration" in report_line(tail)
        with OPENER.open(values["LGB_LAMBDA_STATS_URL"], timeout=10) as s:
            assert json.load(s)["functions"]["lgb-dynamodb"]["cold_starts"] == 1
        status = subprocess.run([str(SERVICES), "status", "lambda"], env=env, capture_output=True, text=True).stdout
        assert "running,healthy" in status, status
    finally:
        stop = subprocess.run([str(SERVICES), "stop", "lambda"], env=env, capture_output=True, text=True)
    assert stop.returncode == 0, stop.stderr
    assert "stopped lambda" in stop.stderr


def _load_control_plane_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("lambda_cp", REPO / "scripts" / "lib" / "lambda-control-plane.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sigv4_verifier_agrees_with_botocore():
    """The control plane's SigV4 check accepts what botocore signs (escaped ARNs in the
    path, a query string, a session token) and refuses any change after signing."""
    from email.message import Message

    cp = _load_control_plane_module()
    secrets = {"AKID": "s3cret"}
    url = "http://127.0.0.1:9/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af/configuration?Qualifier=%24LATEST"
    for method, body, token in [("GET", b"", None), ("PUT", b'{"MemorySize": 512}', "tok")]:
        req = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
        SigV4Auth(Credentials("AKID", "s3cret", token), "lambda", "eu-west-1").add_auth(req)
        headers = Message()
        for k, v in req.headers.items():
            headers[k] = v.decode() if isinstance(v, bytes) else v
        headers["Host"] = "127.0.0.1:9"
        raw_path = url.split("127.0.0.1:9", 1)[1]
        assert cp.verify_sigv4(method, raw_path, headers, body, secrets) == "AKID"
        for bad in [
            (method, raw_path.replace("f/configuration", "g/configuration"), body, secrets),
            (method, raw_path, body + b" ", secrets),
            (method, raw_path, body, {"AKID": "other"}),
            (method, raw_path, body, {}),
        ]:
            with pytest.raises(cp.ApiError) as e:
                cp.verify_sigv4(bad[0], bad[1], headers, bad[2], bad[3])
            assert e.value.status == 403


def test_versions_aliases_concurrency_and_account_limits(bootstrap):
    """What `lgb sweep` and the preflight call, through boto3's own shapes: versions are
    frozen copies with sandboxes of their own, aliases point at them, reservations and
    the account's concurrency and memory cap answer as Lambda does."""
    functions = {"lgb-a": fn(bootstrap, architecture="arm64", kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k")}
    with control_plane(functions, account_concurrency=400, memory_cap_mb=3008) as cp:
        client = cp.client()
        limits = client.get_account_settings()["AccountLimit"]
        assert (limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]) == (400, 400)
        conf = client.get_function_configuration(FunctionName="lgb-a")
        assert conf["Architectures"] == ["arm64"] and conf["KMSKeyArn"].endswith("key/k")
        assert conf["Version"] == "$LATEST" and conf["CodeSha256"]

        # The account's memory cap, in Lambda's words.
        with pytest.raises(ClientError) as e:
            client.update_function_configuration(FunctionName="lgb-a", MemorySize=4096)
        assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
        assert "less than or equal to 3008" in e.value.response["Error"]["Message"]

        # A version per memory size, each with an alias.
        versions = {}
        for mb in (128, 512):
            client.update_function_configuration(FunctionName="lgb-a", MemorySize=mb)
            client.get_waiter("function_updated_v2").wait(FunctionName="lgb-a", WaiterConfig={"Delay": 1})
            v = client.publish_version(FunctionName="lgb-a", Description=f"{mb} MB")
            assert v["MemorySize"] == mb and v["FunctionArn"].endswith(f":{v['Version']}")
            # Publishing an unchanged $LATEST again gives the same version.
            assert client.publish_version(FunctionName="lgb-a")["Version"] == v["Version"]
            alias = client.create_alias(FunctionName="lgb-a", Name=f"lgb-{mb}", FunctionVersion=v["Version"])
            assert alias["AliasArn"].endswith(f":lgb-{mb}")
            versions[mb] = v["Version"]
        with pytest.raises(ClientError) as e:
            client.create_alias(FunctionName="lgb-a", Name="lgb-128", FunctionVersion=versions[128])
        assert e.value.response["Error"]["Code"] == "ResourceConflictException"
        assert client.get_alias(FunctionName="lgb-a", Name="lgb-512")["FunctionVersion"] == versions[512]
        assert client.get_function_configuration(FunctionName="lgb-a", Qualifier="lgb-128")["MemorySize"] == 128

        # Each alias runs its own version's memory; $LATEST is untouched by invoking them.
        for mb in (128, 512):
            r = client.invoke(FunctionName="lgb-a", Qualifier=f"lgb-{mb}", Payload=json.dumps(worker_request()).encode())
            body = json.loads(r["Payload"].read())
            assert r["ExecutedVersion"] == versions[mb]
            assert body["environment"]["memory_mb"] == mb and body["environment"]["function_version"] == versions[mb]
        s = cp.stats("lgb-a")
        assert s["sandbox_memory_sizes"] == [128, 512] and s["updates_while_invoking"] == 0
        assert s["aliases"] == {"lgb-128": versions[128], "lgb-512": versions[512]}

        # A version an alias points at cannot go; after the alias, it can.
        with pytest.raises(ClientError) as e:
            client.delete_function(FunctionName="lgb-a", Qualifier=versions[128])
        assert e.value.response["Error"]["Code"] == "ResourceConflictException"
        client.update_alias(FunctionName="lgb-a", Name="lgb-128", FunctionVersion=versions[512])
        client.delete_function(FunctionName="lgb-a", Qualifier=versions[128])
        for mb in (128, 512):
            client.delete_alias(FunctionName="lgb-a", Name=f"lgb-{mb}")
        client.delete_function(FunctionName="lgb-a", Qualifier=versions[512])
        listed = client.list_versions_by_function(FunctionName="lgb-a")["Versions"]
        assert [v["Version"] for v in listed] == ["$LATEST"]
        assert client.list_aliases(FunctionName="lgb-a")["Aliases"] == []
        with pytest.raises(ClientError) as e:
            client.invoke(FunctionName="lgb-a", Qualifier="lgb-128", Payload=b"{}")
        assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"

        # Reserved concurrency: at most what leaves 100 unreserved.
        with pytest.raises(ClientError) as e:
            client.put_function_concurrency(FunctionName="lgb-a", ReservedConcurrentExecutions=301)
        assert "below its minimum value of [100]" in e.value.response["Error"]["Message"]
        client.put_function_concurrency(FunctionName="lgb-a", ReservedConcurrentExecutions=300)
        assert client.get_function_concurrency(FunctionName="lgb-a")["ReservedConcurrentExecutions"] == 300
        assert client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100
        client.delete_function_concurrency(FunctionName="lgb-a")
        assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(FunctionName="lgb-a")

        # The test hook changes the account's limits while it runs.
        req = urllib.request.Request(f"{cp.endpoint}/_lgb/account", data=json.dumps({"account_concurrency": 50}).encode(), method="POST")
        with OPENER.open(req, timeout=10):
            pass
        assert client.get_account_settings()["AccountLimit"]["ConcurrentExecutions"] == 50


def test_kms_denied_environment_is_reported_not_returned(bootstrap):
    functions = {"lgb-k": fn(bootstrap, kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k", kms_access="denied")}
    with control_plane(functions) as cp:
        client = cp.client()
        env = client.get_function_configuration(FunctionName="lgb-k")["Environment"]
        assert "Variables" not in env and env["Error"]["ErrorCode"] == "AccessDeniedException"
        with pytest.raises(ClientError) as e:
            client.update_function_configuration(FunctionName="lgb-k", Environment={"Variables": {"A": "b"}})
        assert e.value.response["Error"]["Code"] == "KMSAccessDeniedException"
