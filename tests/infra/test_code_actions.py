"""The grants of infra/iam.tf match the calls the code makes.

tests/infra/iam-actions.json is lgb-core/src/iam.rs's table (a Rust test keeps the
two in step and the table in step with the code): per policy, the IAM actions its
clients always call (`required`) and those only settings a deployment does not use
call (`optional`). Here each worker's role (its worker_base document plus its
database's document) and the runner policy must grant exactly the `required` actions
of the code's services; platform actions (logs, ec2, kms, sts), which AWS services
perform with the role rather than lgb's code, are checked by test_least_privilege.
"""

from __future__ import annotations

import json

import pytest

import least_privilege as lp
from conftest import HERE, copy_with_change

# Services whose calls are made by lgb's code (lgb-core/src/iam.rs).
CODE_SERVICES = {"dynamodb", "timestream", "secretsmanager", "s3", "lambda"}
TABLE = json.loads((HERE / "iam-actions.json").read_text())["policies"]


def granted(module: lp.Module) -> dict[str, set[str]]:
    """Allowed actions of the code's services per policy key of the table."""
    docs: dict[str, set[str]] = {}
    for st in lp.statements(module):
        if st.effect != "Allow" or not isinstance(st.actions, list):
            continue
        docs.setdefault(st.document, set()).update(a for a in st.actions if a.split(":", 1)[0] in CODE_SERVICES)
    out = {"runner": docs.get("runner", set())}
    for db in lp.WORKER_DATABASES:
        out[f"worker:{db}"] = docs.get("worker_base", set()) | docs.get(f"{db}_worker", set())
    return out


def mismatches(module: lp.Module) -> list[str]:
    problems = []
    grants = granted(module)
    assert set(TABLE) == set(grants), f"policies in iam-actions.json {sorted(TABLE)} vs infra {sorted(grants)}"
    for key, entry in sorted(TABLE.items()):
        required = set(entry["required"])
        have = grants[key]
        for a in sorted(have - required):
            why = next((o["only_with"] for o in entry["optional"] if o["action"] == a), None)
            reason = f"only used with {why}, which a deployment does not set" if why else "no code calls it"
            problems.append(f"{key}: grants {a} but {reason}")
        for a in sorted(required - have):
            problems.append(f"{key}: the code calls {a} ({', '.join(entry['clients'])}) and it is not granted")
    return problems


def test_each_policy_grants_exactly_what_the_code_calls(module):
    assert mismatches(module) == []


def test_the_table_covers_every_worker_and_the_runner():
    assert set(TABLE) == {"runner"} | {f"worker:{db}" for db in lp.WORKER_DATABASES}
    assert "lambda:InvokeFunction" in TABLE["runner"]["required"]
    assert "dynamodb:GetItem" in TABLE["worker:dynamodb"]["required"]


# Each change to a copy of infra/ must be reported.
CHANGES = [
    (
        "unused-grant",
        '      "dynamodb:BatchWriteItem",\n',
        '      "dynamodb:BatchWriteItem",\n      "dynamodb:DescribeTable",\n',
        "worker:dynamodb: grants dynamodb:DescribeTable but only used with database.create_table_if_missing",
    ),
    (
        "call-not-granted",
        '      "dynamodb:PutItem",\n',
        "",
        "worker:dynamodb: the code calls dynamodb:PutItem",
    ),
    (
        "runner-unused-grant",
        '      "lambda:InvokeFunctionUrl",\n',
        '      "lambda:InvokeFunctionUrl",\n      "lambda:DeleteLayerVersion",\n',
        "runner: grants lambda:DeleteLayerVersion but no code calls it",
    ),
]


@pytest.mark.parametrize("old,new,expected", [c[1:] for c in CHANGES], ids=[c[0] for c in CHANGES])
def test_a_policy_that_drifts_from_the_code_is_reported(tmp_path, old, new, expected):
    copy = copy_with_change(tmp_path / "infra", "iam.tf", old, new)
    problems = mismatches(lp.load_module(copy))
    assert any(p.startswith(expected) for p in problems), problems
