"""Fixtures for the checks that run OpenTofu with the real hashicorp/aws provider:
copies of infra/ initialised from the local provider mirror (with the committed lock
file, read-only), a moto server of their own standing in for AWS, and the test-only
provider override that points every service infra/ uses at it.

scripts/infra-check runs these (steps validate, plan and apply) with the services
venv's python (moto, boto3) once `scripts/infra-check install-providers` has built
the provider; a missing provider or tool fails here, loudly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
INFRA = REPO / "infra"
LOCKFILE = INFRA / ".terraform.lock.hcl"
CACHE = Path(os.environ.get("LGB_CACHE_DIR") or Path.home() / ".cache" / "lgb")
AWS_VERSION = "6.47.1"  # scripts/infra-check's AWS_VERSION
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account

# The provider's `endpoints` key of each resource, data source and ephemeral
# resource type infra/ uses (by prefix, first match wins); None: no API call.
# A type that matches nothing fails the test run, so a new service cannot go
# to AWS unnoticed.
SERVICE_OF_TYPE = [
    ("aws_iam_policy_document", None),
    ("aws_partition", None),
    ("aws_caller_identity", "sts"),
    ("aws_cloudwatch_log_", "logs"),
    ("aws_cloudwatch_dashboard", "cloudwatch"),
    ("aws_dynamodb_", "dynamodb"),
    ("aws_ecs_", "ecs"),
    ("aws_iam_", "iam"),
    ("aws_kms_", "kms"),
    ("aws_lambda_", "lambda"),
    ("aws_s3_", "s3"),
    ("aws_secretsmanager_", "secretsmanager"),
    ("aws_service_discovery_", "servicediscovery"),
    ("aws_timestreamwrite_", "timestreamwrite"),
    ("aws_timestreaminfluxdb_", "timestreaminfluxdb"),
    ("aws_availability_zones", "ec2"),
    ("aws_vpc", "ec2"),
    ("aws_default_security_group", "ec2"),
    ("aws_security_group", "ec2"),
    ("aws_subnet", "ec2"),
    ("aws_eip", "ec2"),
    ("aws_nat_gateway", "ec2"),
    ("aws_internet_gateway", "ec2"),
    ("aws_route", "ec2"),
]


def infra_types(directory: Path = INFRA) -> set[str]:
    """Every aws_* type declared in the .tf files of `directory`."""
    types = set()
    for tf in directory.glob("*.tf"):
        types.update(re.findall(r'^(?:resource|data|ephemeral)\s+"(aws_[a-z0-9_]+)"', tf.read_text(), re.M))
    return types


def endpoint_services(directory: Path = INFRA) -> set[str]:
    """The provider endpoint keys the module in `directory` calls."""
    services = {"sts"}  # the provider asks STS who it is
    for t in sorted(infra_types(directory)):
        match = next((svc for prefix, svc in SERVICE_OF_TYPE if t.startswith(prefix)), "unknown")
        assert match != "unknown", f"{t}: no endpoint for it in tests/infra/provider/conftest.py SERVICE_OF_TYPE"
        if match:
            services.add(match)
    return services


def override_tf(endpoint: str, directory: Path = INFRA) -> str:
    """The test-only provider override: every service at `endpoint`, no credential
    or account lookups (moto's fake credentials), path-style S3."""
    lines = "\n".join(f'    {svc} = "{endpoint}"' for svc in sorted(endpoint_services(directory)))
    return f"""# Written by tests/infra/provider (never part of infra/): the local stand-in.
provider "aws" {{
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true

  endpoints {{
{lines}
  }}
}}
"""


def mirror_dir() -> Path:
    return Path(
        os.environ.get("LGB_TOFU_PROVIDER_MIRROR_DIR")
        or os.environ.get("LGB_TOFU_PROVIDER_MIRROR")
        or CACHE / "infra" / "providers"
    )


@pytest.fixture(scope="session")
def tofu_bin() -> Path:
    path = Path(os.environ.get("LGB_TOFU") or CACHE / "bin" / "tofu")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run scripts/infra-check install (it builds OpenTofu)")
    found = list(mirror_dir().glob(f"registry.opentofu.org/hashicorp/aws/{AWS_VERSION}/*/terraform-provider-aws*"))
    if not found:
        pytest.fail(f"no hashicorp/aws {AWS_VERSION} in {mirror_dir()}: run scripts/infra-check install-providers")
    return path


@pytest.fixture(scope="session")
def cli_config(tmp_path_factory) -> Path:
    """OpenTofu's CLI configuration: only the local mirror, never a registry."""
    rc = tmp_path_factory.mktemp("tofurc") / "tofurc"
    rc.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror_dir()}"\n'
        '    include = ["registry.opentofu.org/hashicorp/*"]\n  }\n}\n'
    )
    return rc


class Tofu:
    """Runs OpenTofu in one working directory with a clean, local environment."""

    def __init__(self, binary: Path, rc: Path, workdir: Path):
        self.binary = binary
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
        self.env.update(
            TF_CLI_CONFIG_FILE=str(rc),
            TF_IN_AUTOMATION="1",
            CHECKPOINT_DISABLE="1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION=REGION,
            AWS_EC2_METADATA_DISABLED="true",
            # Timestream's SDK client asks DescribeEndpoints for a host to use and
            # moto answers with AWS's own; without discovery it uses the override.
            AWS_ENABLE_ENDPOINT_DISCOVERY="false",
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )

    def run(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        started = time.monotonic()
        out = subprocess.run(
            [str(self.binary), *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        print(f"tofu {' '.join(args[:2])}: exit {out.returncode} in {time.monotonic() - started:.1f} s")
        if check and out.returncode != 0:
            pytest.fail(f"tofu {' '.join(args)} exited {out.returncode}:\n{out.stdout[-6000:]}\n{out.stderr[-6000:]}")
        return out

    def init(self) -> None:
        # -lockfile=readonly: the provider must match the committed lock file.
        self.run("init", "-backend=false", "-input=false", "-no-color", "-lockfile=readonly")

    def output_json(self) -> dict:
        return json.loads(self.run("output", "-json", "-no-color").stdout)


def copy_infra(dest: Path, fname: str | None = None, old: str | None = None, new: str | None = None) -> Path:
    """infra/'s .tf files and lock file in `dest`, with `old` replaced by `new` in
    `fname` (it must occur exactly once)."""
    dest.mkdir(parents=True, exist_ok=True)
    for p in INFRA.glob("*.tf"):
        shutil.copy2(p, dest / p.name)
    shutil.copy2(LOCKFILE, dest / LOCKFILE.name)
    if fname is not None:
        target = dest / fname
        source = target.read_text()
        assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times in infra/{fname}, expected once"
        target.write_text(source.replace(old, new))
    return dest


@pytest.fixture(scope="session")
def make_tofu(tofu_bin, cli_config):
    def make(workdir: Path) -> Tofu:
        return Tofu(tofu_bin, cli_config, workdir)

    return make


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# moto 5.2.5 creates a Timestream for InfluxDB instance as CREATING and leaves it
# so (AWS makes it AVAILABLE after some minutes, and the provider waits for that),
# and answers `logDeliveryConfiguration: {}` for an instance created without one
# (AWS leaves it out; the provider then finds a block it did not plan). The server
# of the apply that creates one (test_influxdb_secrets.py) runs with these two
# changes only: a new instance is AVAILABLE at once, without that empty object.
INFLUXDB_AVAILABLE_SERVER = """
import sys
from moto.timestreaminfluxdb import models
created = models.DBInstance.__init__
def available(self, *args, **kwargs):
    created(self, *args, **kwargs)
    self.status = models.InstanceStatus.AVAILABLE
    self.log_delivery_configuration = self.log_delivery_configuration or None
models.DBInstance.__init__ = available
from moto.server import main
sys.exit(main(sys.argv[1:]))
"""


@contextmanager
def moto_server(logdir: Path, influxdb_available: bool = False) -> Iterator[str]:
    """A moto server of its own (fresh state, so "nothing is left" means
    nothing), on 127.0.0.1. Yields its endpoint; ended (by its pid) on exit."""
    server = Path(sys.executable).with_name("moto_server")
    if not server.exists():
        pytest.fail(f"{server} is missing: run scripts/services install (the services venv has moto)")
    port = free_port()
    log = logdir / "moto.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION)
    command = [sys.executable, "-c", INFLUXDB_AVAILABLE_SERVER] if influxdb_available else [str(server)]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [*command, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
    try:
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    """A moto server of this test session's own. Yields its endpoint."""
    with moto_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def package_zip(tmp_path_factory) -> Path:
    """A worker zip for plan and apply: a `bootstrap` that is an executable file.
    (moto stores it; the functions `lgb run` invokes are the real bootstrap under
    the local Lambda control plane.)"""
    path = tmp_path_factory.mktemp("package") / "lgb-lambda.zip"
    with zipfile.ZipFile(path, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, "#!/bin/sh\nexit 1\n")
    return path


def readme_combinations() -> dict[str, dict]:
    """The variable combinations infra/README.md lists under "Checked
    combinations": name -> variables (JSON, as a .tfvars.json holds them)."""
    text = (INFRA / "README.md").read_text()
    section = re.search(r"^### Checked combinations\n(.*?)(?=^#)", text, re.S | re.M)
    assert section, 'infra/README.md has no "### Checked combinations" section'
    rows = re.findall(r"^\| ([a-z0-9-]+) \| `(\{.*\})` \|", section.group(1), re.M)
    assert rows, "no combination rows in infra/README.md"
    return {name: json.loads(variables) for name, variables in rows}
