"""infra/ applied with the real hashicorp/aws provider against moto server, as
infra/README.md's full path runs it against AWS: `tofu apply`, then what exists is
checked against what lgb needs (the table and its key and billing, the Timestream
database and table, each role's policy equal to the actions lgb_core::iam lists for
its client, the functions and their AWS_IAM Function URLs, the bucket's encryption,
public access block, versioning and lifecycle, the log groups, the immudb secret
and server), then `tofu output -json` drives `lgb validate --targets` and `lgb run
--targets` over the local Lambda control plane serving the deployed function names
with the real worker, then `tofu apply -var force_destroy=true` and `tofu destroy`,
and nothing tagged with the deployment is left.

moto cannot create two things infra/ makes (infra/README.md, "Applied against
moto"); `local_stand_in = true` leaves exactly those out (test_plan checks both
in every plan and checks that the switch removes nothing else).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from conftest import ACCOUNT, REGION, REPO, copy_infra, free_port, override_tf

PREFIX = "lgbt"
DATABASES = ["dynamodb", "immudb", "timestream"]
IAM_TABLE = json.loads((REPO / "tests" / "infra" / "iam-actions.json").read_text())["policies"]
CODE_SERVICES = {"dynamodb", "timestream", "secretsmanager", "s3", "lambda"}


def client(moto: str, service: str):
    return boto3.client(
        service,
        endpoint_url=moto,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        # No endpoint discovery with an endpoint override (Timestream uses it on AWS).
        config=Config(endpoint_discovery_enabled=False, retries={"max_attempts": 2}),
    )


def allowed_code_actions(document) -> set[str]:
    if isinstance(document, str):
        document = json.loads(document)
    actions = set()
    for st in document["Statement"]:
        if st["Effect"] != "Allow":
            continue
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        actions.update(a for a in acts if a.split(":", 1)[0] in CODE_SERVICES)
    return actions


def lgb_binaries() -> tuple[Path, Path]:
    """lgb and the worker's bootstrap, built (a no-op after scripts/test's build)."""
    target = Path(os.environ.get("CARGO_TARGET_DIR") or Path.home() / ".cache" / "lgb-target")
    subprocess.run(
        ["cargo", "build", "--locked", "-q", "--workspace", "--all-features", "--bins"],
        cwd=REPO,
        env={**os.environ, "CARGO_TARGET_DIR": str(target)},
        check=True,
        timeout=3600,
    )
    lgb, bootstrap = target / "debug" / "lgb", target / "debug" / "bootstrap"
    assert lgb.exists() and bootstrap.exists(), (lgb, bootstrap)
    return lgb, bootstrap


class ControlPlane:
    """scripts/services run-lambda on a free port with `functions`, ended by pid."""

    def __init__(self, functions: dict, workdir: Path):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        config = workdir / "functions.json"
        config.write_text(json.dumps({"functions": functions}))
        self.log = workdir / "control-plane.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION=REGION)
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [str(REPO / "scripts" / "services"), "run-lambda", str(self.port), str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{self.endpoint}/_lgb/health", timeout=2).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"the local Lambda control plane did not start:\n{self.log.read_text()[-3000:]}")
                time.sleep(0.2)

    def stats(self) -> dict:
        return json.loads(urllib.request.urlopen(f"{self.endpoint}/_lgb/stats", timeout=10).read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# Attributes moto 5.2.5 does not give back as AWS does, so that a plan right after
# the apply shows them as changes (infra/README.md, "Applied against moto"): the
# function's LoggingConfig, the bucket's tags, a security group rule's description
# (and it prefixes the referenced group with the account).
MOTO_READBACK_GAPS = {
    "aws_lambda_function": {"logging_config"},
    "aws_s3_bucket": {"tags_all"},
    "aws_vpc_security_group_egress_rule": {"description", "referenced_security_group_id"},
    "aws_vpc_security_group_ingress_rule": {"description", "referenced_security_group_id"},
}


def second_plan_drift(plan: dict) -> list[str]:
    """What a plan right after the apply would change beyond MOTO_READBACK_GAPS."""
    drift = []
    for c in plan.get("resource_changes", []):
        actions = c["change"]["actions"]
        if c["mode"] != "managed" or actions == ["no-op"]:
            continue
        if actions != ["update"]:
            drift.append(f"{c['address']}: {actions}")
            continue
        before, after = c["change"]["before"] or {}, c["change"]["after"] or {}
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        changed |= {k for k, v in (c["change"].get("after_unknown") or {}).items() if v is True}
        extra = changed - MOTO_READBACK_GAPS.get(c["type"], set())
        if extra:
            drift.append(f"{c['address']}: {sorted(extra)}")
    return drift


def deployment_left(moto: str) -> list[str]:
    """Everything of the deployment still in moto: by the lgb:deployment tag where
    moto's tagging API knows the service, and by name everywhere."""
    left = []
    tagged = client(moto, "resourcegroupstaggingapi").get_resources(
        TagFilters=[{"Key": "lgb:deployment", "Values": [PREFIX]}]
    )["ResourceTagMappingList"]
    # ECS keeps a deleted service and a deregistered task definition as INACTIVE (as
    # AWS does, for a while): those are asked for as ACTIVE below instead.
    # ECS and EC2 keep a deleted cluster/service/task definition (INACTIVE) and NAT
    # gateway (deleted) listed for a while, as AWS does: asked for by state below.
    left += [r["ResourceARN"] for r in tagged if not re.search(r"^arn:aws:ecs:|:natgateway/", r["ResourceARN"])]
    left += [
        n["NatGatewayId"] for n in client(moto, "ec2").describe_nat_gateways()["NatGateways"] if n["State"] != "deleted"
    ]
    ecs = client(moto, "ecs")
    left += ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]
    for cluster in ecs.list_clusters()["clusterArns"]:
        services = ecs.list_services(cluster=cluster)["serviceArns"]
        if services:
            described = ecs.describe_services(cluster=cluster, services=services)["services"]
            left += [x["serviceArn"] for x in described if x["status"] != "INACTIVE"]
    left += [t for t in client(moto, "dynamodb").list_tables()["TableNames"] if t.startswith(PREFIX)]
    left += [f["FunctionName"] for f in client(moto, "lambda").list_functions()["Functions"]]
    left += [r["RoleName"] for r in client(moto, "iam").list_roles()["Roles"] if r["RoleName"].startswith(PREFIX)]
    left += [b["Name"] for b in client(moto, "s3").list_buckets()["Buckets"]]
    left += [g["logGroupName"] for g in client(moto, "logs").describe_log_groups()["logGroups"]]
    left += [s["Name"] for s in client(moto, "secretsmanager").list_secrets()["SecretList"]]
    left += [d["DatabaseName"] for d in client(moto, "timestream-write").list_databases()["Databases"]]
    clusters = client(moto, "ecs").list_clusters()["clusterArns"]
    if clusters:
        described = client(moto, "ecs").describe_clusters(clusters=clusters)["clusters"]
        left += [c["clusterArn"] for c in described if c["status"] != "INACTIVE"]
    left += [v["VpcId"] for v in client(moto, "ec2").describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
    left += [n["Name"] for n in client(moto, "servicediscovery").list_namespaces()["Namespaces"]]
    return left


def check_deployment(moto: str, outputs: dict, state: dict) -> None:
    targets = outputs["lgb_targets"]["value"]
    workers = targets["workers"]
    assert sorted(workers) == DATABASES
    assert targets["region"] == REGION and targets["name_prefix"] == PREFIX

    # DynamoDB: the table, its key and billing, as the dynamodb worker's settings say.
    ddb = workers["dynamodb"]["database"]
    table = client(moto, "dynamodb").describe_table(TableName=ddb["table"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert ddb["partition_key"] == {"name": "pk", "type": "S"} and ddb["sort_key"] is None

    # Timestream: database and table with the documented retention.
    ts = workers["timestream"]["database"]
    tsw = client(moto, "timestream-write")
    assert tsw.describe_database(DatabaseName=ts["database"])["Database"]["DatabaseName"] == f"{PREFIX}-bench"
    retention = tsw.describe_table(DatabaseName=ts["database"], TableName=ts["table"])["Table"]["RetentionProperties"]
    assert retention == {"MemoryStoreRetentionPeriodInHours": 24, "MagneticStoreRetentionPeriodInDays": 7}

    # IAM: each worker role's policy grants exactly what lgb_core::iam lists for its
    # client; the runner policy likewise.
    iam = client(moto, "iam")
    for db in DATABASES:
        role = f"{PREFIX}-{db}-worker"
        trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
        (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        assert allowed_code_actions(document) == set(IAM_TABLE[f"worker:{db}"]["required"]), role
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    runner = allowed_code_actions(outputs["runner_policy_json"]["value"])
    assert runner == set(IAM_TABLE["runner"]["required"])

    # Lambda: the functions as the outputs describe them, pinned to their
    # deployment, each with an AWS_IAM Function URL.
    lam = client(moto, "lambda")
    for db, w in workers.items():
        conf = lam.get_function_configuration(FunctionName=w["function_name"])
        assert conf["FunctionName"] == f"{PREFIX}-{db}"
        assert conf["Runtime"] == "provided.al2023" and conf["Handler"] == "bootstrap"
        assert conf["Architectures"] == [w["architecture"]] == ["x86_64"]
        assert (conf["MemorySize"], conf["Timeout"]) == (w["memory_mb"], w["timeout_s"]) == (1024, 300)
        assert conf["Role"] == f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-{db}-worker"
        assert w["function_arn"] == conf["FunctionArn"]
        assert json.loads(conf["Environment"]["Variables"]["LGB_DEPLOYMENT"]) == w["database"]
        url = lam.get_function_url_config(FunctionName=w["function_name"])
        assert url["AuthType"] == "AWS_IAM" == w["url_auth"]
        assert url["FunctionUrl"] == w["function_url"]
        assert w["log_group"] == f"/aws/lambda/{PREFIX}-{db}"
    vpc = lam.get_function_configuration(FunctionName=f"{PREFIX}-immudb")["VpcConfig"]
    assert len(vpc["SubnetIds"]) == 2 and len(vpc["SecurityGroupIds"]) == 1

    # S3: private, encrypted, versioned, with its lifecycle rules and the package.
    s3 = client(moto, "s3")
    bucket = targets["results"]["bucket"]
    assert bucket == f"{PREFIX}-{ACCOUNT}-{REGION}"
    assert targets["results"]["uri"] == f"s3://{bucket}/results/"
    sse = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = {r["ID"] for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules == {"abort-incomplete-uploads", "expire-results", "expire-old-packages"}
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys and all(k.startswith("packages/") for k in keys), keys

    # Logs: one group per function and the immudb task's, each with retention.
    groups = {g["logGroupName"]: g for g in client(moto, "logs").describe_log_groups()["logGroups"]}
    assert set(groups) == {f"/aws/lambda/{PREFIX}-{db}" for db in DATABASES} | {f"/ecs/{PREFIX}-immudb"}
    assert all(g["retentionInDays"] == 14 for g in groups.values())

    # The immudb secret has a generated password, and neither the state nor the
    # outputs hold it (write-only argument).
    im = workers["immudb"]["database"]
    assert im["address"] == f"immudb.{PREFIX}.lgb.internal:3322"
    secret = json.loads(client(moto, "secretsmanager").get_secret_value(SecretId=im["password_secret_id"])["SecretString"])
    assert secret["username"] == "immudb" and re.fullmatch(r"[A-Za-z0-9]{32}", secret["password"]), secret.keys()
    assert secret["password"] not in json.dumps(state) and secret["password"] not in json.dumps(outputs)

    # The immudb server: a Fargate service in the private subnets, registered in
    # the private DNS name the worker is pinned to.
    ecs = client(moto, "ecs")
    (cluster,) = ecs.list_clusters()["clusterArns"]
    (service_arn,) = ecs.list_services(cluster=cluster)["serviceArns"]
    (service,) = ecs.describe_services(cluster=cluster, services=[service_arn])["services"]
    assert service["launchType"] == "FARGATE" and service["desiredCount"] == 1
    assert service["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    (namespace,) = client(moto, "servicediscovery").list_namespaces()["Namespaces"]
    assert namespace["Name"] == f"{PREFIX}.lgb.internal"

    # Every resource that takes tags carries the deployment's.
    tagged = client(moto, "resourcegroupstaggingapi").get_resources(
        TagFilters=[{"Key": "lgb:deployment", "Values": [PREFIX]}]
    )["ResourceTagMappingList"]
    arns = " ".join(r["ResourceARN"] for r in tagged)
    for part in (f"table/{PREFIX}-bench", f"function:{PREFIX}-dynamodb", f"log-group:/aws/lambda/{PREFIX}-dynamodb",
                 f"secret:{PREFIX}/immudb", f"cluster/{PREFIX}-immudb", ":vpc/"):
        assert part in arns, f"{part} is not tagged lgb:deployment={PREFIX}: {arns}"
    # (moto's tagging API leaves out IAM: asked directly.)
    role_tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=f"{PREFIX}-dynamodb-worker")["Tags"]}
    assert role_tags.get("lgb:deployment") == PREFIX, role_tags


def run_lgb(lgb: Path, moto: str, outputs_file: Path, workdir: Path, deployed: dict) -> None:
    """`lgb validate --targets` and `lgb run --target lambda --targets` over the
    control plane serving the deployed functions: their names from the outputs,
    their environment (LGB_DEPLOYMENT pin included) as moto holds it, the real
    bootstrap; only the database endpoint is the local stand-in's."""
    targets = json.loads(outputs_file.read_text())["lgb_targets"]["value"]
    lam = client(moto, "lambda")
    _, bootstrap = lgb_binaries()
    functions = {}
    for db, w in targets["workers"].items():
        conf = lam.get_function_configuration(FunctionName=w["function_name"])
        functions[w["function_name"]] = {
            "bootstrap": str(bootstrap),
            "memory_size": conf["MemorySize"],
            "timeout": 120,
            "environment": {
                **conf["Environment"]["Variables"],
                # Where the deployed SDK would reach DynamoDB: moto here. Not part
                # of the pin, which names the table and region.
                "AWS_ENDPOINT_URL_DYNAMODB": moto,
            },
        }
    assert set(functions) == {f"{PREFIX}-{db}" for db in DATABASES}
    config = workdir / "dynamodb-aws.json"
    # The README's example config, smaller; the database section names only the type.
    config.write_text(
        json.dumps(
            {
                "name": "dynamodb-aws",
                "database": {"type": "dynamodb", "retry": {"max_attempts": 3}},
                "workload": {"records": 200, "fields": 4, "field_size": "100B", "load_batch": 25},
                "runner": {"workers": 2},
                "tests": [{"name": "ycsb-a", "preset": "ycsb-a", "concurrency": 2, "warmup": "1s", "duration": "3s"}],
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION=REGION, AWS_EC2_METADATA_DISABLED="true")

    cp = ControlPlane(functions, workdir)
    # The Lambda API of the control plane instead of AWS's; the commands are the
    # README's (step 4), run from the folder holding outputs.json.
    env["AWS_ENDPOINT_URL_LAMBDA"] = cp.endpoint
    results = workdir / "results"
    try:
        out = subprocess.run(
            [str(lgb), "validate", config.name, "--target", "lambda", "--targets", outputs_file.name],
            capture_output=True, text=True, env=env, timeout=120, cwd=workdir,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert "database `dynamodb`" in out.stdout, out.stdout

        out = subprocess.run(
            [str(lgb), "run", config.name, "--target", "lambda", "--targets", outputs_file.name,
             "--out", str(results), "--quiet"],
            capture_output=True, text=True, env=env, timeout=600, cwd=workdir,
        )
        assert out.returncode == 0, f"{out.stdout}\n{out.stderr}\n{cp.log.read_text()[-4000:]}"
        assert f'runner.function = "{PREFIX}-dynamodb"' in out.stderr, out.stderr
        assert f'database.table = "{PREFIX}-bench"' in out.stderr, out.stderr
        stats = cp.stats()["functions"]
        assert stats[f"{PREFIX}-dynamodb"]["invocations"] >= 4, stats  # load and run, two workers each
        assert all(stats[f"{PREFIX}-{db}"]["invocations"] == 0 for db in ("immudb", "timestream")), stats
    finally:
        cp.stop()
    (run_dir,) = [p for p in results.iterdir() if p.is_dir()]
    result = json.loads((run_dir / "result.json").read_text())
    text = json.dumps(result)
    assert f"{PREFIX}-dynamodb" in text and f"{PREFIX}-bench" in text
    # The worker wrote the records into the table tofu made.
    count = client(moto, "dynamodb").scan(TableName=f"{PREFIX}-bench", Select="COUNT")["Count"]
    assert count >= 200, count
    print(f"lgb run --targets: results in {run_dir}")


def test_apply_check_run_destroy(tmp_path, make_tofu, moto, package_zip):
    workdir = copy_infra(tmp_path / "infra")
    (workdir / "zz_local_stand_in_override.tf").write_text(override_tf(moto))
    tofu = make_tofu(workdir)
    tofu.init()
    varfile = workdir / "local.tfvars.json"
    varfile.write_text(
        json.dumps(
            {
                "name_prefix": PREFIX,
                "databases": DATABASES,
                "package_path": str(package_zip),
                "local_stand_in": True,
            }
        )
    )
    assert deployment_left(moto) == []
    timings = {}
    try:
        t0 = time.monotonic()
        tofu.run("apply", "-auto-approve", "-input=false", "-no-color", f"-var-file={varfile.name}")
        timings["apply"] = time.monotonic() - t0
        # A second plan changes nothing but what moto does not read back as AWS does.
        tofu.run("plan", "-input=false", "-no-color", f"-var-file={varfile.name}", "-out=second.plan")
        second = json.loads(tofu.run("show", "-json", "-no-color", "second.plan").stdout)
        assert second_plan_drift(second) == [], "the applied deployment does not match its configuration"

        outputs = tofu.output_json()
        outputs_file = tmp_path / "outputs.json"
        outputs_file.write_text(json.dumps(outputs, indent=2))
        state = json.loads(tofu.run("show", "-json", "-no-color").stdout)
        check_deployment(moto, outputs, state)

        lgb, _ = lgb_binaries()
        t0 = time.monotonic()
        run_lgb(lgb, moto, outputs_file, tmp_path, outputs)
        timings["lgb"] = time.monotonic() - t0
    finally:
        # README step 6: let destroy empty the versioned bucket, then destroy.
        t0 = time.monotonic()
        tofu.run("apply", "-auto-approve", "-input=false", "-no-color", f"-var-file={varfile.name}", "-var", "force_destroy=true")
        tofu.run("destroy", "-auto-approve", "-input=false", "-no-color", f"-var-file={varfile.name}")
        timings["destroy"] = time.monotonic() - t0
    left = deployment_left(moto)
    assert left == [], f"left after destroy: {left}"
    assert json.loads(tofu.run("show", "-json", "-no-color").stdout).get("values") in (None, {}), "state not empty"
    print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
