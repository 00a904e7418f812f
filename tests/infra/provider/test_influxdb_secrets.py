"""The influxdb deployments keep their secrets out of OpenTofu's plans and state,
as infra/README.md says: no plan of the influxdb combinations holds a password or
token value (the instance's admin password is unknown until the apply that
creates the instance; nothing reads the token's secret), and after an apply of
the instance against moto the state holds the admin password in one place only,
the instance's `password`, drawn once (a second plan changes nothing, a second
apply keeps it), and never the token the operator puts into `<prefix>/influxdb`,
which the worker reads through `token_secret_id`.
"""

from __future__ import annotations

import json
import re
import secrets

import boto3
import pytest
from botocore.config import Config

from conftest import REGION, copy_infra, moto_server, override_tf, readme_combinations
from test_apply import second_plan_drift

COMBINATIONS = {name: v for name, v in readme_combinations().items() if "influxdb" in v.get("databases", [])}
PREFIX = "lgbi"
INSTANCE = "aws_timestreaminfluxdb_db_instance.bench[0]"

# An attribute (or map key) that would hold a secret value: a password, a
# secret's string, a token, a generated password; write-only variants included.
SECRET_NAME = re.compile(r"(^|_)(password|secret_string|secret_binary|token)(_wo)?$", re.I)
# Data sources that read a secret value (or draw one) into the plan and state.
SECRET_READERS = {
    "aws_secretsmanager_random_password",
    "aws_secretsmanager_secret_version",
    "aws_secretsmanager_secret_versions",
}


def secret_leaves(node, path: str = ""):
    """(path, value) of every known, non-empty value under a secret-named key (a
    plan's `configuration`, which holds expressions, not values, left out)."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else str(key)
            if sub == "configuration":
                continue
            if SECRET_NAME.search(str(key)) and value not in (None, "", [], {}, False, True):
                yield sub, value
            yield from secret_leaves(value, sub)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from secret_leaves(value, f"{path}[{i}]")


def resources(module: dict | None):
    """Every resource (managed and data) of a state/planned-values module, children included."""
    if not module:
        return
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from resources(child)


def state_secrets(values: dict | None) -> dict[str, object]:
    """address.attribute -> value of each secret-named value in state values."""
    found = {}
    for r in resources((values or {}).get("root_module")):
        for path, value in secret_leaves(r.get("values", {})):
            found[f"{r['address']}.{path}"] = value
    return found


def client(moto: str, service: str):
    return boto3.client(
        service,
        endpoint_url=moto,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 2}),
    )


@pytest.fixture(scope="module")
def moto_influxdb(tmp_path_factory):
    """moto, with a new InfluxDB instance AVAILABLE at once (conftest.py)."""
    with moto_server(tmp_path_factory.mktemp("moto-influxdb"), influxdb_available=True) as endpoint:
        yield endpoint


def test_the_readme_checks_both_influxdb_setups():
    assert {bool(v.get("influxdb_create_instance")) for v in COMBINATIONS.values()} == {True, False}, COMBINATIONS


@pytest.mark.parametrize("name", sorted(COMBINATIONS))
def test_no_secret_in_the_plan(tmp_path, make_tofu, moto, package_zip, name):
    workdir = copy_infra(tmp_path / "infra")
    (workdir / "zz_local_stand_in_override.tf").write_text(override_tf(moto))
    tofu = make_tofu(workdir)
    tofu.init()
    (workdir / "v.tfvars.json").write_text(json.dumps({**COMBINATIONS[name], "package_path": str(package_zip)}))
    tofu.run("plan", "-input=false", "-no-color", "-lock=false", "-var-file=v.tfvars.json", "-out=p.plan")
    plan = json.loads(tofu.run("show", "-json", "-no-color", "p.plan").stdout)

    readers = [c["address"] for c in plan["resource_changes"] if c["type"] in SECRET_READERS]
    readers += [r["address"] for r in resources(plan.get("prior_state", {}).get("values", {}).get("root_module"))
                if r["type"] in SECRET_READERS]
    assert readers == [], f"these read or draw a secret into the plan and state: {readers}"
    # The token's secret has no version here: the operator puts the token in.
    versions = [c["address"] for c in plan["resource_changes"] if c["type"] == "aws_secretsmanager_secret_version"]
    assert versions == [], versions
    leaked = list(secret_leaves(plan))
    assert leaked == [], f"secret values in the plan of {name}: {[p for p, _ in leaked]}"
    if COMBINATIONS[name].get("influxdb_create_instance"):
        (instance,) = [c for c in plan["resource_changes"] if c["address"] == INSTANCE]
        # Drawn at apply: unknown in the plan, so it is not there.
        assert instance["change"]["after_unknown"].get("password") is True, instance["change"]["after_unknown"]
        assert "password" not in instance["change"]["after"]


def test_apply_keeps_the_token_out_and_the_password_in_one_place(tmp_path, make_tofu, moto_influxdb, package_zip):
    moto = moto_influxdb
    (variables,) = [v for v in COMBINATIONS.values() if v.get("influxdb_create_instance")]
    workdir = copy_infra(tmp_path / "infra")
    (workdir / "zz_local_stand_in_override.tf").write_text(override_tf(moto))
    tofu = make_tofu(workdir)
    tofu.init()
    (workdir / "v.tfvars.json").write_text(
        json.dumps({**variables, "name_prefix": PREFIX, "package_path": str(package_zip), "local_stand_in": True})
    )
    state_file = workdir / "terraform.tfstate"
    try:
        tofu.run("apply", "-auto-approve", "-input=false", "-no-color", "-var-file=v.tfvars.json")
        state = json.loads(tofu.run("show", "-json", "-no-color").stdout)
        found = state_secrets(state.get("values"))
        assert set(found) == {f"{INSTANCE}.password"}, f"secret values in the state: {sorted(found)}"
        password = found[f"{INSTANCE}.password"]
        assert re.fullmatch(r"[0-9a-f]{32}", password), "the admin password is not 32 hex digits"
        assert state_file.read_text().count(password) == 1, "the admin password is in the state more than once"
        outputs = tofu.output_json()
        assert password not in json.dumps(outputs)

        # Where lgb reads the token: the deployment's `token_secret_id`, the secret
        # <prefix>/influxdb, JSON {"token": ...} (lgb-core/src/database/influxdb.rs).
        (instance,) = client(moto, "timestream-influxdb").list_db_instances()["items"]
        assert instance["status"] == "AVAILABLE"
        sm = client(moto, "secretsmanager")
        secret = sm.describe_secret(SecretId=f"{PREFIX}/influxdb")
        database = outputs["lgb_targets"]["value"]["workers"]["influxdb"]["database"]
        assert database["token_secret_id"] == secret["ARN"]
        assert database["endpoint"] == f"https://{instance['endpoint']}:8086"
        conf = client(moto, "lambda").get_function_configuration(FunctionName=f"{PREFIX}-influxdb")
        assert json.loads(conf["Environment"]["Variables"]["LGB_DEPLOYMENT"]) == database
        assert "AWSCURRENT" not in json.dumps(secret.get("VersionIdsToStages", {})), "tofu put a token"
        token = secrets.token_hex(32)
        sm.put_secret_value(SecretId=database["token_secret_id"], SecretString=json.dumps({"token": token}))

        # A second plan (it reads everything again) changes nothing and shows no token;
        # the password it holds is the state's, unchanged.
        tofu.run("plan", "-input=false", "-no-color", "-var-file=v.tfvars.json", "-out=second.plan")
        shown = tofu.run("show", "-json", "-no-color", "second.plan").stdout
        assert second_plan_drift(json.loads(shown)) == [], "the applied deployment does not match its configuration"
        assert token not in shown
        assert {p for p, v in secret_leaves(json.loads(shown)) if v != password} == set(), "another secret in the plan"

        # A second apply draws nothing new.
        tofu.run("apply", "-auto-approve", "-input=false", "-no-color", "-var-file=v.tfvars.json")
        again = state_secrets(json.loads(tofu.run("show", "-json", "-no-color").stdout).get("values"))
        assert again == found, "the second apply changed the admin password"
        assert token not in state_file.read_text()
    finally:
        tofu.run("destroy", "-auto-approve", "-input=false", "-no-color", "-var-file=v.tfvars.json")
    assert client(moto, "timestream-influxdb").list_db_instances()["items"] == []
    assert client(moto, "secretsmanager").list_secrets()["SecretList"] == []
