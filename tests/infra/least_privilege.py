"""Least-privilege rules for infra/, checked on the parsed HCL.

`load_module(dir)` parses every `*.tf` file of a Terraform/OpenTofu module with
python-hcl2; `check(module)` returns the list of `Violation`s of the rules below
(empty when the module is fine). The tests run it on infra/ and on copies of
infra/ with a wildcard or a wider grant injected, so a checker that stopped
seeing problems would fail the suite too.

The rules, each a `Violation.rule` name:
  star-action            an action "*" anywhere
  wildcard-action        an Allow action with a wildcard ("s3:*", "dynamodb:Get*")
  not-element            NotAction / NotResource / NotPrincipal anywhere
  opaque-statement       actions or resources the checker cannot read (an expression
                         instead of a list of literals and plain references)
  resource-star          Resource "*" for an action not in STAR_RESOURCE_ACTIONS, or
                         without a comment inside the statement saying it is required
  resource-wildcard      another resource with "*" not in WILDCARD_RESOURCES
  principal              an Allow principal that is not a named AWS service
  service-ownership      an action of a service in a policy document that must not use it
  own-resource           a worker's database/secret/log/S3 grant on anything but its own
  policy-mapping         a worker role not bound to exactly its own policy document
  inline-policy          a policy given as JSON/jsonencode instead of a policy document
  managed-policy         a managed policy attached (AWS managed ones use Resource "*")
  star-literal           a "*" literal anywhere outside the places above
  function-url-auth      a Function URL that is not AWS_IAM
  lambda-permission      a resource policy on a function (aws_lambda_permission)
  log-retention          a log group without retention, or a function not logging to its group
  bucket-public-access   a bucket without a full public access block
  bucket-tls-only        a bucket without the policy that denies non-TLS requests
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import hcl2
from hcl2.utils import SerializationOptions

WORKER_DATABASES = ("dynamodb", "timestream", "immudb", "influxdb")

# Actions that AWS only authorizes on Resource "*" (no resource-level permissions),
# with the reason. A statement may use "*" only if all its actions are listed here.
STAR_RESOURCE_ACTIONS = {
    "timestream:DescribeEndpoints": "endpoint discovery; the action has no resource types",
    "ec2:DescribeNetworkInterfaces": "Lambda VPC attachment; Describe* supports no resource-level permissions",
    "ec2:DescribeSubnets": "Lambda VPC attachment; Describe* supports no resource-level permissions",
    "lambda:GetAccountSettings": "the runner's preflight reads the account's concurrency; the action has no resource types",
}

# Resources with a wildcard that are allowed, with the reason. Patterns match the
# resource as written in HCL (references kept as ${...}).
WILDCARD_RESOURCES = {
    r"\$\{aws_dynamodb_table\.bench\[0\]\.arn\}/index/\*": "the indexes of the worker's own table",
    r"\$\{aws_cloudwatch_log_group\.worker\[each\.key\]\.arn\}:\*": "the log streams of the worker's own log group (Lambda names them)",
    r"\$\{aws_cloudwatch_log_group\.immudb\[0\]\.arn\}:\*": "the log streams of the immudb task's log group (ECS names them)",
    r"\$\{aws_s3_bucket\.artifacts\.arn\}/\$\{var\.results_prefix\}\*": "objects under the results prefix",
    r"arn:\$\{local\.partition\}:ec2:\$\{var\.region\}:\$\{local\.account_id\}:network-interface/\*": "the network interfaces Lambda creates for the VPC function (it names them)",
}
# Only in Deny statements (the bucket's TLS-only rule covers every object).
WILDCARD_RESOURCES_IN_DENY = {
    r"\$\{aws_s3_bucket\.artifacts\.arn\}/\*": "every object of the bucket, in the TLS-only deny",
}

# Which policy documents may use which services (action prefixes).
SERVICE_OWNERS = {
    "dynamodb": {"dynamodb_worker"},
    "timestream": {"timestream_worker"},
    "secretsmanager": {"immudb_worker", "immudb_task_execution", "influxdb_worker"},
    "ec2": {"immudb_worker", "influxdb_worker"},
    "logs": {"worker_base", "immudb_task_execution"},
    "s3": {"runner", "artifacts_bucket"},
    "kms": {"worker_base", "immudb_task_execution", "runner"},
    "lambda": {"runner"},
    "sts": {"lambda_assume", "ecs_tasks_assume"},
}

# What each database's resources may be, in its own worker's document.
OWN_RESOURCES = {
    ("dynamodb_worker", "dynamodb"): {
        "${aws_dynamodb_table.bench[0].arn}",
        "${aws_dynamodb_table.bench[0].arn}/index/*",
    },
    ("timestream_worker", "timestream"): {"${aws_timestreamwrite_table.bench[0].arn}", "*"},
    ("immudb_worker", "secretsmanager"): {"${aws_secretsmanager_secret.immudb[0].arn}"},
    ("immudb_task_execution", "secretsmanager"): {"${aws_secretsmanager_secret.immudb[0].arn}"},
    ("influxdb_worker", "secretsmanager"): {"${aws_secretsmanager_secret.influxdb[0].arn}"},
    ("worker_base", "logs"): {"${aws_cloudwatch_log_group.worker[each.key].arn}:*"},
    ("immudb_task_execution", "logs"): {"${aws_cloudwatch_log_group.immudb[0].arn}:*"},
    ("runner", "s3"): {"${aws_s3_bucket.artifacts.arn}/${var.results_prefix}*"},
}

POLICY_ATTRIBUTES = {"policy", "assume_role_policy", "inline_policy"}
POLICY_REFERENCE = re.compile(
    r"\$\{(data\.aws_iam_policy_document\.[a-z0-9_]+(\[[^\]]+\])?\.json"
    r"|local\.worker_policy_json\[each\.key\])\}"
)
# A plain reference: names, attribute access and constant indexes, no calls.
PLAIN_REFERENCE = re.compile(r"\$\{[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*|\[(\d+|\"[a-z0-9_]+\"|each\.key)\])*\}")
# Resources given as one expression that the checker accepts as written.
RESOURCE_EXPRESSIONS = {
    "${[for f in aws_lambda_function.worker : f.arn]}": "the runner may invoke exactly the worker functions",
    '${[for f in aws_lambda_function.worker : "${f.arn}:*"]}': "the workers' versions and aliases (a sweep deletes the versions it published)",
}


@dataclass(frozen=True)
class Violation:
    """One broken rule: which, where (file and block) and what."""

    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.where}: {self.message}"


@dataclass
class Statement:
    """One IAM statement of a policy document, values normalized (see `text`)."""

    document: str
    where: str
    effect: str
    actions: Any
    resources: Any
    principals: list[dict]
    conditions: list[dict]
    comments: list[str]
    raw: dict = field(repr=False)


@dataclass
class Module:
    """A parsed Terraform module: file name -> python-hcl2 dictionary."""

    files: dict[str, dict]

    def blocks(self, kind: str) -> Iterator[tuple[str, str, str, dict]]:
        """(file, type, name, body) of every `resource`/`data` block of `kind`."""
        for fname, tree in self.files.items():
            for entry in tree.get(kind, []):
                for rtype, named in entry.items():
                    if rtype.startswith("__"):
                        continue
                    for name, body in named.items():
                        if not name.startswith("__"):
                            yield fname, text(rtype), text(name), body

    def resources(self, rtype: str) -> list[tuple[str, str, dict]]:
        return [(f, n, b) for f, t, n, b in self.blocks("resource") if t == rtype]

    def locals(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for tree in self.files.values():
            for entry in tree.get("locals", []):
                out.update({k: v for k, v in entry.items() if not k.startswith("__")})
        return out

    def variables(self) -> dict[str, dict]:
        out = {}
        for tree in self.files.values():
            for entry in tree.get("variable", []):
                out.update({text(k): v for k, v in entry.items() if not k.startswith("__")})
        return out


def load_module(directory: Path) -> Module:
    """Parses every *.tf file of `directory` (not its subfolders)."""
    files = {}
    for path in sorted(Path(directory).glob("*.tf")):
        files[path.name] = copy.deepcopy(_parse(path.read_text(encoding="utf-8")))
    if not files:
        raise ValueError(f"no .tf files in {directory}")
    return Module(files)


@functools.lru_cache(maxsize=256)
def _parse(source: str) -> dict:
    # Cached by content: the tests parse many copies of infra/ that differ in
    # one file, and python-hcl2 takes about 0.1 s per file.
    options = SerializationOptions(with_comments=True, explicit_blocks=True)
    return hcl2.loads(source, serialization_options=options)


def text(value: Any) -> Any:
    """A python-hcl2 string as written, without the quotes of a literal:
    '"*"' -> '*', '"${x.arn}/index/*"' -> '${x.arn}/index/*', '${x.arn}' -> '${x.arn}'.
    A quoted template that is one interpolation equals the bare expression."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


def is_literal(value: Any) -> bool:
    return isinstance(value, str) and "${" not in value


def _comments(body: dict) -> list[str]:
    return [c.get("value", "") for c in body.get("__comments__", []) if isinstance(c, dict)]


def _as_list(value: Any) -> Any:
    """A list attribute's items normalized; an expression stays a string."""
    if value is None:
        return []
    if isinstance(value, list):
        return [text(v) for v in value]
    return text(value)


def statements(module: Module) -> Iterator[Statement]:
    """Every statement of every aws_iam_policy_document, dynamic ones included."""
    for fname, rtype, name, body in module.blocks("data"):
        if rtype != "aws_iam_policy_document":
            continue
        found = [(s, f"{fname} data.aws_iam_policy_document.{name}") for s in body.get("statement", [])]
        for dyn in body.get("dynamic", []):
            for label, dbody in dyn.items():
                if text(label) == "statement":
                    for s in dbody.get("content", []):
                        found.append((s, f"{fname} data.aws_iam_policy_document.{name} (dynamic)"))
        for s, where in found:
            sid = text(s.get("sid", '"?"'))
            yield Statement(
                document=name,
                where=f"{where} statement {sid}",
                effect=text(s.get("effect", '"Allow"')),
                actions=_as_list(s.get("actions")),
                resources=_as_list(s.get("resources")),
                principals=s.get("principals", []),
                conditions=s.get("condition", []),
                comments=_comments(s),
                raw=s,
            )


# ------------------------------------------------------------------ rules ---


def _check_statement(st: Statement) -> list[Violation]:
    v: list[Violation] = []
    add = lambda rule, msg: v.append(Violation(rule, st.where, msg))  # noqa: E731
    allow = st.effect == "Allow"

    for key in ("not_actions", "not_resources", "not_principals"):
        if key in st.raw:
            add("not-element", f"{key} is not allowed (it grants everything not listed)")

    if not isinstance(st.actions, list) or not all(is_literal(a) for a in st.actions):
        add("opaque-statement", f"actions must be a list of literals, got {st.actions!r}")
        actions: list[str] = []
    else:
        actions = st.actions
    for a in actions:
        if a == "*":
            add("star-action", 'action "*"')
        elif allow and ("*" in a or "?" in a):
            add("wildcard-action", f"wildcard action {a!r} in an Allow")

    if isinstance(st.resources, str):
        if st.resources not in RESOURCE_EXPRESSIONS:
            add("opaque-statement", f"resources must be a list, got the expression {st.resources!r}")
        resources: list[str] = []
    else:
        resources = st.resources
    for r in resources:
        if not isinstance(r, str) or (not is_literal(r) and not _is_template_of_plain_refs(r)):
            add("opaque-statement", f"resource {r!r} is neither a literal nor plain references")
            continue
        if r == "*":
            unlisted = [a for a in actions if a not in STAR_RESOURCE_ACTIONS]
            if unlisted or not actions:
                add("resource-star", f'Resource "*" for {unlisted or actions} (not in STAR_RESOURCE_ACTIONS)')
            if not any("required" in c for c in st.comments):
                add("resource-star", 'Resource "*" without a comment in the statement saying why it is required')
        elif "*" in r or "?" in r:
            allowed = dict(WILDCARD_RESOURCES)
            if not allow:
                allowed.update(WILDCARD_RESOURCES_IN_DENY)
            if not any(re.fullmatch(p, r) for p in allowed):
                add("resource-wildcard", f"resource {r!r} has a wildcard that is not an allowed pattern")

    for p in st.principals:
        ptype = text(p.get("type"))
        ids = _as_list(p.get("identifiers"))
        if allow:
            if ptype != "Service" or not isinstance(ids, list) or not all(
                is_literal(i) and re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com", i) for i in ids
            ):
                add("principal", f"Allow principal {ptype} {ids!r} is not a named AWS service")

    for a in actions:
        service = a.split(":", 1)[0]
        owners = SERVICE_OWNERS.get(service)
        if owners is None or st.document not in owners:
            add("service-ownership", f"{a!r} is not allowed in policy document {st.document!r}")
        own = OWN_RESOURCES.get((st.document, service))
        if own is not None and allow:
            for r in resources:
                if r not in own:
                    add("own-resource", f"{a!r} on {r!r}: only {sorted(own)} allowed")
    return v


def _is_template_of_plain_refs(r: str) -> bool:
    """A string whose every ${...} is a plain reference (no function calls,
    no conditionals): the checker then sees every literal part."""
    parts = re.findall(r"\$\{[^{}]*\}", r)
    rest = re.sub(r"\$\{[^{}]*\}", "", r)
    return bool(parts) and "${" not in rest and all(PLAIN_REFERENCE.fullmatch(p) for p in parts)


def _walk(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(path, value) of every leaf, comments skipped."""
    if isinstance(node, dict):
        for k, val in node.items():
            if k.startswith("__"):
                continue
            yield from _walk(val, f"{path}.{text(k)}")
    elif isinstance(node, list):
        for i, val in enumerate(node):
            yield from _walk(val, f"{path}[{i}]")
    else:
        yield path, node


def _check_star_literals(module: Module) -> list[Violation]:
    """Any "*" literal (or "*" inside an expression's string literal) outside a
    policy statement's resources or a Deny's principals and actions."""
    v = []
    star_in_expression = re.compile(r'"\*"')
    for fname, tree in module.files.items():
        for path, leaf in _walk(tree, fname):
            if not isinstance(leaf, str):
                continue
            t = text(leaf)
            in_statement = ".statement[" in path or ".content[" in path
            if t == "*":
                if in_statement and (".resources[" in path or ".principals[" in path):
                    continue  # judged by the statement rules
                v.append(Violation("star-literal", path, '"*" outside a policy statement\'s resources'))
            elif "${" in t and star_in_expression.search(t):
                v.append(Violation("star-literal", path, f'"*" inside an expression: {t[:120]!r}'))
    return v


def _check_policy_wiring(module: Module) -> list[Violation]:
    v = []
    # Policies only through policy documents.
    for fname, tree in module.files.items():
        for path, leaf in _walk(tree, fname):
            attr = path.rsplit(".", 1)[-1].split("[")[0]
            if attr in POLICY_ATTRIBUTES and isinstance(leaf, str) and not POLICY_REFERENCE.fullmatch(text(leaf)):
                v.append(Violation("inline-policy", path, f"policy must reference an aws_iam_policy_document, got {text(leaf)[:100]!r}"))
            if attr in POLICY_ATTRIBUTES and not isinstance(leaf, str):
                v.append(Violation("inline-policy", path, "policy written inline"))
    for rtype in ("aws_iam_role_policy_attachment", "aws_iam_policy_attachment", "aws_iam_policy"):
        for fname, name, _ in module.resources(rtype):
            v.append(Violation("managed-policy", f"{fname} {rtype}.{name}", "no managed/standalone policies: inline role policies from documents only"))
    for fname, name, body in module.resources("aws_iam_role"):
        for key in ("managed_policy_arns", "inline_policy"):
            if key in body:
                v.append(Violation("managed-policy", f"{fname} aws_iam_role.{name}", f"{key} is not allowed"))

    # Each worker role gets exactly its own document.
    mapping = module.locals().get("worker_policy_json")
    expected = {db: f"${{one(data.aws_iam_policy_document.{db}_worker[*].json)}}" for db in WORKER_DATABASES}
    if not isinstance(mapping, dict) or {k: text(val) for k, val in mapping.items() if not k.startswith("__")} != expected:
        v.append(Violation("policy-mapping", "local.worker_policy_json", f"must be exactly {expected}, got {mapping!r}"))
    docs = {name: body for _, t, name, body in module.blocks("data") if t == "aws_iam_policy_document"}
    for db in WORKER_DATABASES:
        body = docs.get(f"{db}_worker")
        want = [f'${{data.aws_iam_policy_document.worker_base["{db}"].json}}']
        if body is None or [text(s) for s in body.get("source_policy_documents", [])] != want:
            v.append(Violation("policy-mapping", f"data.aws_iam_policy_document.{db}_worker", f"source_policy_documents must be {want}"))
        if body is not None and ("override_policy_documents" in body or "policy_id" in body):
            v.append(Violation("policy-mapping", f"data.aws_iam_policy_document.{db}_worker", "no override documents"))
    base = docs.get("worker_base")
    if base is None or text(base.get("for_each")) != "${local.workers}":
        v.append(Violation("policy-mapping", "data.aws_iam_policy_document.worker_base", "must be for_each = local.workers"))
    for fname, name, body in module.resources("aws_iam_role_policy"):
        if name == "worker" and (text(body.get("role")) != "${aws_iam_role.worker[each.key].id}" or text(body.get("for_each")) != "${local.workers}"):
            v.append(Violation("policy-mapping", f"{fname} aws_iam_role_policy.worker", "must bind aws_iam_role.worker[each.key] for each worker"))
    return v


def _check_lambda(module: Module) -> list[Violation]:
    v = []
    for fname, name, body in module.resources("aws_lambda_function_url"):
        if text(body.get("authorization_type")) != "AWS_IAM":
            v.append(Violation("function-url-auth", f"{fname} aws_lambda_function_url.{name}", f"authorization_type must be AWS_IAM, got {body.get('authorization_type')!r}"))
    for fname, name, _ in module.resources("aws_lambda_permission"):
        v.append(Violation("lambda-permission", f"{fname} aws_lambda_permission.{name}", "no resource policies on workers: callers need IAM permissions (runner_policy_json)"))
    for fname, name, body in module.resources("aws_lambda_function"):
        cfg = (body.get("logging_config") or [{}])[0]
        if text(cfg.get("log_group")) != f"${{aws_cloudwatch_log_group.{name}[each.key].name}}":
            v.append(Violation("log-retention", f"{fname} aws_lambda_function.{name}", "must log to its own aws_cloudwatch_log_group (with retention)"))
    for fname, name, body in module.resources("aws_cloudwatch_log_group"):
        r = text(body.get("retention_in_days"))
        if r is None or not (r == "${var.log_retention_days}" or (isinstance(r, int) and r > 0)):
            v.append(Violation("log-retention", f"{fname} aws_cloudwatch_log_group.{name}", f"retention_in_days must be set (> 0), got {r!r}"))
    # 0 would mean "never expire": the variable must only accept positive values.
    var = module.variables().get("log_retention_days", {})
    allowed = [
        [int(x) for x in m.group(1).split(",")]
        for c in var.get("validation", [])
        for m in [re.search(r"contains\(\[([0-9, ]+)\], var\.log_retention_days\)", str(c.get("condition")))]
        if m
    ]
    if not allowed or not all(x > 0 for x in allowed[0]):
        v.append(Violation("log-retention", "variable.log_retention_days", "must be validated against a list of positive retention values"))
    return v


def _check_buckets(module: Module) -> list[Violation]:
    v = []
    pabs = {text(b.get("bucket")): b for _, _, b in module.resources("aws_s3_bucket_public_access_block")}
    policies = {text(b.get("bucket")): text(b.get("policy")) for _, _, b in module.resources("aws_s3_bucket_policy")}
    docs = {name: body for _, t, name, body in module.blocks("data") if t == "aws_iam_policy_document"}
    for fname, name, _ in module.resources("aws_s3_bucket"):
        ref = f"${{aws_s3_bucket.{name}.id}}"
        where = f"{fname} aws_s3_bucket.{name}"
        pab = pabs.get(ref)
        flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
        if pab is None or not all(pab.get(f) is True for f in flags):
            v.append(Violation("bucket-public-access", where, f"needs aws_s3_bucket_public_access_block with {', '.join(flags)} = true"))
        m = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.([a-z0-9_]+)\.json\}", policies.get(ref) or "")
        doc = docs.get(m.group(1)) if m else None
        if doc is None or not _has_tls_deny(doc, name):
            v.append(Violation("bucket-tls-only", where, "needs a bucket policy that denies s3:* on the bucket and its objects when aws:SecureTransport is false"))
    return v


def _has_tls_deny(doc: dict, bucket: str) -> bool:
    for s in doc.get("statement", []):
        if text(s.get("effect")) != "Deny" or _as_list(s.get("actions")) != ["s3:*"]:
            continue
        res = set(_as_list(s.get("resources")))
        if res != {f"${{aws_s3_bucket.{bucket}.arn}}", f"${{aws_s3_bucket.{bucket}.arn}}/*"}:
            continue
        principals = [(text(p.get("type")), _as_list(p.get("identifiers"))) for p in s.get("principals", [])]
        conds = [(text(c.get("test")), text(c.get("variable")), _as_list(c.get("values"))) for c in s.get("condition", [])]
        if principals == [("*", ["*"])] and ("Bool", "aws:SecureTransport", ["false"]) in conds:
            return True
    return False


def check(module: Module) -> list[Violation]:
    """Every violation of the rules in this module's docstring."""
    v: list[Violation] = []
    sts = list(statements(module))
    if not sts:
        v.append(Violation("opaque-statement", "module", "no aws_iam_policy_document statements found"))
    for st in sts:
        v.extend(_check_statement(st))
    v.extend(_check_star_literals(module))
    v.extend(_check_policy_wiring(module))
    v.extend(_check_lambda(module))
    v.extend(_check_buckets(module))
    return v
