"""A local AWS Lambda control plane for lgb: the Lambda API calls lgb makes, and
Function URLs, for several named functions, each backed by a real `bootstrap`
running under the AWS Lambda Runtime Interface Emulator (RIE).

Run it through scripts/services (`start lambda` or `run-lambda PORT CONFIG`), or:

    python lambda-control-plane.py --port PORT --config FUNCTIONS.json --rie PATH

Everything listens on 127.0.0.1. FUNCTIONS.json:

    {
      "region": "us-east-1",              # optional; default $AWS_REGION or us-east-1
      "account_id": "123456789012",       # optional, appears in ARNs
      "account_concurrency": 1000,        # optional: invocations in flight over all functions
      "memory_cap_mb": 10240,             # optional: the most MemorySize the account allows
                                          # (new accounts: 3008)
      "update_delay_ms": 300,             # optional: how long LastUpdateStatus stays InProgress
      "credentials": {"AKID": "SECRET"},  # optional: accepted SigV4 keys; default the
                                          # AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY it runs with
      "functions": {
        "NAME": {
          "bootstrap": "path/to/bootstrap",   # required; relative to this file's folder
          "environment": {"K": "V"},          # optional: the function's variables
          "memory_size": 128,                 # optional (MB), default 128
          "timeout": 60,                      # optional (s), default 3 like Lambda
          "reserved_concurrency": 10,         # optional: more in flight answers 429
          "url_auth": "AWS_IAM",              # optional: AWS_IAM (default) or NONE
          "architecture": "x86_64",           # optional: x86_64 (default) or arm64, as reported
          "kms_key_arn": "arn:aws:kms:...",   # optional: the environment's key, as reported
          "kms_access": "allowed"             # optional: "denied" answers like Lambda does to a
                                              # caller that may not use that key
        }
      }
    }

The API (every call must carry a valid SigV4 signature, service `lambda`):

    POST /2015-03-31/functions/NAME/invocations            Invoke (RequestResponse,
         Event, DryRun; X-Amz-Log-Type: Tail gives X-Amz-Log-Result with the REPORT line)
    GET  /2015-03-31/functions/NAME/configuration          GetFunctionConfiguration
         (?Qualifier= a version or alias)
    PUT  /2015-03-31/functions/NAME/configuration          UpdateFunctionConfiguration
         (MemorySize, Timeout, Environment.Variables, Description; LastUpdateStatus
         InProgress for update_delay_ms, then Successful and the warm sandboxes retire;
         MemorySize over memory_cap_mb is refused as Lambda refuses it)
    GET  /2015-03-31/functions/NAME                        GetFunction
    GET  /2015-03-31/functions/                            ListFunctions
    POST /2015-03-31/functions/NAME/versions               PublishVersion (a frozen copy of
         $LATEST's configuration; an unchanged $LATEST gives the version it already has)
    GET  /2015-03-31/functions/NAME/versions               ListVersionsByFunction
    DELETE /2015-03-31/functions/NAME?Qualifier=N          DeleteFunction of version N
         (409 while an alias points at it)
    POST /2015-03-31/functions/NAME/aliases                CreateAlias
    GET  /2015-03-31/functions/NAME/aliases                ListAliases
    GET|PUT|DELETE /2015-03-31/functions/NAME/aliases/A    GetAlias, UpdateAlias, DeleteAlias
    GET  /2019-09-30/functions/NAME/concurrency            GetFunctionConcurrency
    PUT|DELETE /2017-10-31/functions/NAME/concurrency      PutFunctionConcurrency (refused when
         it leaves the account fewer than 100 unreserved), DeleteFunctionConcurrency
    GET  /2016-08-19/account-settings/                     GetAccountSettings (AccountLimit:
         ConcurrentExecutions, UnreservedConcurrentExecutions)

Invocations (and GetFunctionConfiguration) take a qualifier: a published version or
an alias runs in sandboxes of its own, with that version's memory and environment.
    ANY  /lambda-url/NAME/...                              the function's Function URL
         (SigV4 checked when url_auth is AWS_IAM; the request becomes a payload 2.0 event)

And, unsigned, for tests:

    GET  /_lgb/health      200 {"ok": true}
    GET  /_lgb/stats       per function: invocations, url_invocations, cold_starts,
                           throttles, in_flight, max_in_flight, sandboxes, warm,
                           sandbox_memory_sizes (of each sandbox started), updates,
                           signature_failures; and the same totals over all functions
    POST /_lgb/reset       zeroes the counters (max_in_flight becomes in_flight)
    POST /_lgb/account     {"account_concurrency": N, "memory_cap_mb": M}: the account's
                           limits, changed while it runs

Stats also count versions_published/_deleted, aliases_created/_deleted, the most
versions with invocations open at once (max_versions_in_flight) and configuration
updates made while an invocation was open (updates_while_invoking); and list the
published versions, the aliases, the reserved concurrency and $LATEST's environment.

Sandboxes: one RIE process per concurrent invocation. An invocation takes a warm
(idle) sandbox of the function's current configuration, or starts a new one
(cold: the RIE initialises the bootstrap and its REPORT line has Init Duration).
Sandboxes stay warm until a configuration update, a function error (crash or
timeout) or the end of the control plane. The REPORT line is the emulator's,
with Memory Size set to the configured size and Max Memory Used measured (peak
RSS of the sandbox's processes).
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import datetime as dt
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_MEMORY = 128
DEFAULT_TIMEOUT = 3
LOG_TAIL_BYTES = 4096


def log(msg: str) -> None:
    print(f"lambda-cp: {msg}", file=sys.stderr, flush=True)


class ApiError(Exception):
    """An error answer in Lambda's shape: status, x-amzn-ErrorType, JSON body."""

    def __init__(self, status: int, code: str, message: str, extra: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra or {}


class SandboxInitFailed(ApiError):
    """The bootstrap exited before taking its first invocation."""


# ----------------------------------------------------------------- SigV4 ---


def _canonical_query(raw: str) -> str:
    pairs = []
    for part in raw.split("&") if raw else []:
        k, _, v = part.partition("=")
        k = urllib.parse.quote(urllib.parse.unquote_plus(k), safe="-_.~")
        v = urllib.parse.quote(urllib.parse.unquote_plus(v), safe="-_.~")
        pairs.append((k, v))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def verify_sigv4(method: str, raw_path: str, headers, body: bytes, secrets: dict, service: str = "lambda"):
    """Recomputes the request's SigV4 signature. Returns the access key id; raises
    ApiError(403) saying why when the request is unsigned or the signature is wrong.
    The secret is never part of a message."""
    auth = headers.get("authorization")
    if not auth:
        raise ApiError(403, "MissingAuthenticationTokenException", "no Authorization header: the request is not signed")
    try:
        algo, rest = auth.split(" ", 1)
        fields = dict(p.strip().split("=", 1) for p in rest.split(","))
        credential, signed_headers, signature = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
        key_id, date, region, svc, term = credential.split("/")
    except (ValueError, KeyError):
        raise ApiError(403, "IncompleteSignatureException", "the Authorization header is not a SigV4 header") from None
    if algo != "AWS4-HMAC-SHA256" or term != "aws4_request":
        raise ApiError(403, "IncompleteSignatureException", f"unsupported signature algorithm {algo}")
    if svc != service:
        raise ApiError(403, "InvalidSignatureException", f"signed for service {svc}, expected {service}")
    secret = secrets.get(key_id)
    if secret is None:
        raise ApiError(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    amz_date = headers.get("x-amz-date", "")
    try:
        when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise ApiError(403, "IncompleteSignatureException", "no valid X-Amz-Date header") from None
    if not amz_date.startswith(date):
        raise ApiError(403, "InvalidSignatureException", "the credential date differs from X-Amz-Date")
    if abs((dt.datetime.now(dt.timezone.utc) - when).total_seconds()) > 15 * 60:
        raise ApiError(403, "InvalidSignatureException", "Signature expired: X-Amz-Date is more than 15 minutes away")
    names = signed_headers.split(";")
    if "host" not in names:
        raise ApiError(403, "InvalidSignatureException", "the Host header is not signed")
    canonical_headers = ""
    for name in names:
        values = headers.get_all(name) or []
        if not values:
            raise ApiError(403, "InvalidSignatureException", f"signed header {name} is missing")
        value = ",".join(" ".join(v.strip().split()) for v in values)
        canonical_headers += f"{name}:{value}\n"
    path, _, query = raw_path.partition("?")
    canonical_uri = urllib.parse.quote(path or "/", safe="/-_.~")
    payload_hash = headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    canonical = "\n".join(
        [method, canonical_uri, _canonical_query(query), canonical_headers, signed_headers, payload_hash]
    )
    scope = f"{date}/{region}/{svc}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = f"AWS4{secret}".encode()
    for part in (date, region, svc, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise ApiError(
            403,
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )
    return key_id


# -------------------------------------------------------------- sandboxes ---


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# PR_SET_PDEATHSIG fires when the *thread* that started the child ends, and each HTTP
# request has a thread of its own: so one long-lived thread starts every emulator.
SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spawner")


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG = 1: the emulator gets SIGKILL when the control plane dies.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except OSError:
        pass


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return out


def _peak_rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sandbox:
    """One Runtime Interface Emulator running one function's bootstrap."""

    def __init__(self, cp: "ControlPlane", fn: "Function", config: dict, generation: int, number: int, version: str = "$LATEST"):
        self.fn_name = fn.name
        self.generation = generation
        self.version = version
        self.memory_size = config["memory_size"]
        self.label = f"{fn.name}#{number}"
        self.port = _free_port()
        self.reports: dict[str, tuple[str, list[str]]] = {}
        self.init_failed = False
        self.cond = threading.Condition()
        self.lines: list[str] = []
        self.dir = tempfile.mkdtemp(prefix=f"lgb-lambda-{fn.name}-")
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TZ") if k in os.environ}
        # What Lambda gives a function: the role's credentials and region ...
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(
            {
                "AWS_REGION": cp.region,
                "AWS_DEFAULT_REGION": cp.region,
                "AWS_EC2_METADATA_DISABLED": "true",
                # ... its own variables (which may override the above) ...
                **config["environment"],
                # ... and the reserved ones, which the function cannot set.
                "AWS_LAMBDA_FUNCTION_NAME": fn.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config["memory_size"]),
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(config["timeout"]),
                "AWS_LAMBDA_FUNCTION_VERSION": version,
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": self.label,
            }
        )
        self.proc = SPAWNER.submit(
            subprocess.Popen,
            [
                cp.rie,
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{self.port}",
                "--runtime-api-address",
                f"127.0.0.1:{_free_port()}",
                fn.bootstrap,
            ],
            env=env,
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        ).result()
        threading.Thread(target=self._read, daemon=True, name=f"log-{self.label}").start()
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise SandboxInitFailed(502, "ServiceException", f"sandbox {self.label}: the emulator exited ({self.proc.returncode}): {self.output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise ApiError(502, "ServiceException", f"sandbox {self.label}: the emulator did not listen within 30 s") from None
                time.sleep(0.01)

    def output(self) -> str:
        with self.cond:
            return "\n".join(self.lines[-20:])

    def _read(self) -> None:
        current: list[str] = []
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if " [INFO] (rapid) " in line:
                continue  # the emulator's own chatter, not the function's log
            # The function's output and the emulator's lines share one pipe: a log line
            # of the function without its newline yet puts REPORT mid-line.
            at = line.find("REPORT RequestId: ")
            if at > 0:
                with self.cond:
                    current.append(line[:at])
                line = line[at:]
            with self.cond:
                self.lines = (self.lines + [line])[-200:]
                if line.startswith("START RequestId: "):
                    current = [line]
                else:
                    current.append(line)
                if "(rapid) Init failed" in line or "address already in use" in line:
                    # The runtime exited before it took the invocation (no REPORT follows),
                    # or the emulator lost its port between picking and binding: then
                    # whatever took the port answered (a 404, say) and no REPORT comes.
                    self.init_failed = True
                    self.cond.notify_all()
                if line.startswith("REPORT RequestId: "):
                    rid = line.split()[2]
                    self.reports[rid] = (line, current)
                    current = []
                    self.cond.notify_all()

    def peak_rss_mb(self) -> int:
        pids = [self.proc.pid] + _children(self.proc.pid)
        kib = max((_peak_rss_kib(p) for p in _children(self.proc.pid)), default=0) or max(_peak_rss_kib(p) for p in pids)
        return max(1, -(-kib // 1024))

    def invoke(self, request_id: str, body: bytes, timeout: float) -> tuple[int, bytes, str, bool]:
        """Runs one invocation: (status, body, log tail, the REPORT line had Init Duration)."""
        conn = HTTPConnection("127.0.0.1", self.port, timeout=timeout + 30)
        try:
            conn.request(
                "POST",
                "/2015-03-31/functions/function/invocations",
                body=body,
                headers={"X-Amzn-RequestId": request_id, "Content-Type": "application/json"},
            )
            resp = conn.getresponse()
            status, payload = resp.status, resp.read()
        except OSError as e:
            time.sleep(0.05)  # the emulator's last words
            # A port taken between picking and binding makes the emulator panic.
            kind = SandboxInitFailed if "address already in use" in self.output() else ApiError
            raise kind(502, "ServiceException", f"sandbox {self.label} failed: {e}: {self.output()}") from None
        finally:
            conn.close()
        with self.cond:
            # The emulator prints REPORT after it answers; with a hundred sandboxes
            # starting on two cores its output reader can lag by seconds.
            self.cond.wait_for(lambda: request_id in self.reports or self.init_failed, timeout=30)
            report, lines = self.reports.pop(request_id, (None, []))
        if report is None and self.init_failed:
            raise SandboxInitFailed(502, "ServiceException", f"sandbox {self.label}: the runtime exited during init (HTTP {status}); its last lines: {self.output()}")
        if report is None:
            raise ApiError(502, "ServiceException", f"sandbox {self.label}: no REPORT line for {request_id} (HTTP {status}); its last lines: {self.output()}")
        # The emulator reports Memory Size from the environment and Max Memory Used as
        # equal to it; put in the configured size and the measured peak.
        fields = [f for f in report.split("\t") if f]
        out = []
        for f in fields:
            if f.startswith("Memory Size:"):
                f = f"Memory Size: {self.memory_size} MB"
            elif f.startswith("Max Memory Used:"):
                f = f"Max Memory Used: {self.peak_rss_mb()} MB"
            out.append(f)
        report = "\t".join(out) + "\t"
        lines = lines[:-1] + [report]
        tail = ("\n".join(lines) + "\n").encode()[-LOG_TAIL_BYTES:]
        return status, payload, tail.decode("utf-8", "replace"), "Init Duration:" in report

    def stop(self) -> None:
        kids = _children(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
        subprocess.run(["rm", "-rf", "--", self.dir], check=False)


# -------------------------------------------------------------- functions ---


class Function:
    def __init__(self, name: str, spec: dict, base: str):
        self.name = name
        bootstrap = spec.get("bootstrap")
        if not isinstance(bootstrap, str) or not bootstrap:
            raise ValueError(f"functions.{name}.bootstrap: required (path of the bootstrap executable)")
        self.bootstrap = os.path.abspath(os.path.join(base, bootstrap))
        if not (os.path.isfile(self.bootstrap) and os.access(self.bootstrap, os.X_OK)):
            raise ValueError(f"functions.{name}.bootstrap: {self.bootstrap} is not an executable file")
        env = spec.get("environment", {})
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise ValueError(f"functions.{name}.environment: must be an object of strings")
        self.config = {
            "memory_size": _int(spec, "memory_size", DEFAULT_MEMORY, 128, 10240, name),
            "timeout": _int(spec, "timeout", DEFAULT_TIMEOUT, 1, 900, name),
            "environment": dict(env),
            "description": str(spec.get("description", "")),
        }
        self.architecture = str(spec.get("architecture", "x86_64"))
        if self.architecture not in ("x86_64", "arm64"):
            raise ValueError(f"functions.{name}.architecture: must be x86_64 or arm64")
        kms = spec.get("kms_key_arn")
        if kms is not None and (not isinstance(kms, str) or not kms.startswith("arn:")):
            raise ValueError(f"functions.{name}.kms_key_arn: must be a KMS key ARN")
        self.kms_key_arn = kms
        self.kms_access = str(spec.get("kms_access", "allowed"))
        if self.kms_access not in ("allowed", "denied"):
            raise ValueError(f"functions.{name}.kms_access: must be allowed or denied")
        with open(self.bootstrap, "rb") as f:
            self.code_sha = base64.b64encode(hashlib.sha256(f.read()).digest()).decode()
        rc = spec.get("reserved_concurrency")
        self.reserved = None if rc is None else _int(spec, "reserved_concurrency", 0, 0, 100000, name)
        self.url_auth = str(spec.get("url_auth", "AWS_IAM")).upper()
        if self.url_auth not in ("AWS_IAM", "NONE"):
            raise ValueError(f"functions.{name}.url_auth: must be AWS_IAM or NONE")
        unknown = set(spec) - {
            "bootstrap", "environment", "memory_size", "timeout", "reserved_concurrency", "url_auth", "description",
            "architecture", "kms_key_arn", "kms_access",
        }
        if unknown:
            raise ValueError(f"functions.{name}.{sorted(unknown)[0]}: unknown setting")
        self.lock = threading.Lock()
        self.generation = 0
        self.update_status = "Successful"
        self.pending: dict | None = None
        self.revision = str(uuid.uuid4())
        self.modified = _now_iso()
        self.idle: list[Sandbox] = []
        # What each open invocation runs on (a sandbox, or a placeholder while one
        # starts) -> the version it serves.
        self.busy: dict[object, str] = {}
        self.started = 0
        # Published versions ("1", "2", ...): a frozen copy of $LATEST's configuration.
        self.versions: dict[str, dict] = {}
        self.next_version = 1
        # The $LATEST revision each version was published from (PublishVersion of an
        # unchanged $LATEST returns the version it already has).
        self.published_from: dict[str, str] = {}
        self.aliases: dict[str, dict] = {}
        self.reset()

    def reset(self) -> None:
        self.stats = {
            "invocations": 0,
            "url_invocations": 0,
            "cold_starts": 0,
            "throttles": 0,
            "function_errors": 0,
            "max_in_flight": len(getattr(self, "busy", ())),
            "sandbox_memory_sizes": [],
            "updates": 0,
            "updates_while_invoking": 0,
            "signature_failures": 0,
            "max_versions_in_flight": len(set(getattr(self, "busy", {}).values())),
            "versions_published": 0,
            "versions_deleted": 0,
            "aliases_created": 0,
            "aliases_deleted": 0,
        }

    def resolve(self, qualifier: str | None) -> tuple[str, dict]:
        """The version a qualifier names ($LATEST, a version number or an alias) and
        its configuration; call with the lock held."""
        if qualifier in (None, "", "$LATEST"):
            return "$LATEST", self.config
        alias = self.aliases.get(qualifier)
        version = alias["version"] if alias else qualifier
        if version == "$LATEST":
            return "$LATEST", self.config
        v = self.versions.get(version)
        if v is None:
            raise KeyError(qualifier)
        return version, v["config"]


def _int(spec: dict, key: str, default: int, lo: int, hi: int, name: str) -> int:
    v = spec.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ValueError(f"functions.{name}.{key}: must be a whole number from {lo} to {hi}, got {v!r}")
    return v


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class ControlPlane:
    def __init__(self, config: dict, base: str, rie: str):
        if not isinstance(config, dict) or not isinstance(config.get("functions"), dict) or not config["functions"]:
            raise ValueError("functions: required, an object of function name -> settings")
        self.region = str(config.get("region") or os.environ.get("AWS_REGION") or "us-east-1")
        self.account = str(config.get("account_id", "123456789012"))
        self.account_concurrency = int(config.get("account_concurrency", 1000))
        # New accounts may set MemorySize only up to 3008 MB (an account cap below
        # Lambda's 10240): UpdateFunctionConfiguration refuses more, as Lambda does.
        self.memory_cap = _int(config, "memory_cap_mb", 10240, 128, 10240, "(control plane)")
        self.update_delay = float(config.get("update_delay_ms", 300)) / 1000
        creds = config.get("credentials")
        if creds is None:
            creds = {os.environ.get("AWS_ACCESS_KEY_ID", "testing"): os.environ.get("AWS_SECRET_ACCESS_KEY", "testing")}
        self.secrets = dict(creds)
        self.rie = rie
        self.functions = {n: Function(n, s if isinstance(s, dict) else {}, base) for n, s in config["functions"].items()}
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"

    def function(self, ref: str, qualifier: str | None = None) -> Function:
        return self.qualified(ref, qualifier)[0]

    def qualified(self, ref: str, qualifier: str | None = None) -> tuple[Function, str | None]:
        """The function a name or ARN names, and its qualifier (from the ARN or the
        Qualifier parameter), which must exist."""
        ref = urllib.parse.unquote(ref)
        name = ref
        if ref.startswith("arn:"):
            parts = ref.split(":")
            name = parts[6] if len(parts) >= 7 else ""
            if len(parts) == 8:
                qualifier = qualifier or parts[7]
        elif ":" in ref:
            name, _, q = ref.partition(":")
            qualifier = qualifier or q
        fn = self.functions.get(name)
        what = self.arn(name) + (f":{qualifier}" if qualifier else "")
        if fn is None:
            raise ApiError(404, "ResourceNotFoundException", f"Function not found: {what}")
        if qualifier not in (None, "", "$LATEST"):
            with fn.lock:
                try:
                    fn.resolve(qualifier)
                except KeyError:
                    raise ApiError(404, "ResourceNotFoundException", f"Function not found: {what}") from None
        return fn, (qualifier or None)

    def view(self, fn: Function, qualifier: str | None = None) -> dict:
        with fn.lock:
            if qualifier in (None, "", "$LATEST"):
                version, cfg = "$LATEST", fn.pending or fn.config
                status, revision, modified = fn.update_status, fn.revision, fn.modified
            else:
                version, _ = fn.resolve(qualifier)
                v = fn.versions[version]
                cfg, status, revision, modified = v["config"], "Successful", v["revision"], v["modified"]
            if fn.kms_access == "denied":
                # What Lambda answers a caller that may not use the function's key.
                environment = {
                    "Error": {
                        "ErrorCode": "AccessDeniedException",
                        "Message": "Lambda was unable to decrypt the environment variables because KMS access was denied. "
                        "Please check the function's KMS key settings. KMS Exception: AccessDeniedException",
                    }
                }
            else:
                environment = {"Variables": dict(cfg["environment"])}
            extra = {"KMSKeyArn": fn.kms_key_arn} if fn.kms_key_arn else {}
            return {
                **extra,
                "FunctionName": fn.name,
                "FunctionArn": self.arn(fn.name) + ("" if version == "$LATEST" else f":{version}"),
                "Runtime": "provided.al2023",
                "Handler": "bootstrap",
                "Role": f"arn:aws:iam::{self.account}:role/{fn.name}",
                "CodeSize": os.path.getsize(fn.bootstrap),
                "Description": cfg["description"],
                "Timeout": cfg["timeout"],
                "MemorySize": cfg["memory_size"],
                "LastModified": modified,
                "CodeSha256": fn.code_sha,
                "Version": version,
                "Environment": environment,
                "RevisionId": revision,
                "State": "Active",
                "LastUpdateStatus": status,
                "PackageType": "Zip",
                "Architectures": [fn.architecture],
                "EphemeralStorage": {"Size": 512},
            }

    # --- UpdateFunctionConfiguration ---------------------------------------

    def update(self, fn: Function, body: dict) -> dict:
        allowed = {"MemorySize", "Timeout", "Environment", "Description", "RevisionId"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise ApiError(400, "InvalidParameterValueException", f"{unknown[0]} is not supported by the local control plane")
        with fn.lock:
            if fn.pending is not None:
                raise ApiError(
                    409,
                    "ResourceConflictException",
                    f"The operation cannot be performed at this time. An update is in progress for resource: {self.arn(fn.name)}",
                )
            if "RevisionId" in body and body["RevisionId"] != fn.revision:
                raise ApiError(412, "PreconditionFailedException", "The RevisionId provided does not match the latest RevisionId for the Lambda function.")
            new = {**fn.config, "environment": dict(fn.config["environment"])}
            if "MemorySize" in body:
                m = body["MemorySize"]
                if not isinstance(m, int) or not 128 <= m <= 10240:
                    raise ApiError(400, "InvalidParameterValueException", "MemorySize must be from 128 to 10240 MB")
                if m > self.memory_cap:
                    raise ApiError(
                        400,
                        "InvalidParameterValueException",
                        f"'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to {self.memory_cap}",
                    )
                new["memory_size"] = m
            if "Timeout" in body:
                t = body["Timeout"]
                if not isinstance(t, int) or not 1 <= t <= 900:
                    raise ApiError(400, "InvalidParameterValueException", "Timeout must be from 1 to 900 seconds")
                new["timeout"] = t
            if "Environment" in body:
                if fn.kms_access == "denied":
                    raise ApiError(
                        502,
                        "KMSAccessDeniedException",
                        "Lambda was unable to encrypt the environment variables because KMS access was denied. "
                        "Please check the function's KMS key settings.",
                    )
                variables = (body["Environment"] or {}).get("Variables") or {}
                if not all(isinstance(v, str) for v in variables.values()):
                    raise ApiError(400, "InvalidParameterValueException", "Environment.Variables must be strings")
                new["environment"] = dict(variables)
            if "Description" in body:
                new["description"] = str(body["Description"])
            fn.pending = new
            fn.update_status = "InProgress"
            fn.revision = str(uuid.uuid4())
            fn.modified = _now_iso()
            fn.stats["updates"] += 1
            if fn.busy:
                fn.stats["updates_while_invoking"] += 1
        threading.Timer(self.update_delay, self._finish_update, args=(fn,)).start()
        log(f"{fn.name}: update in progress (MemorySize {new['memory_size']}, Timeout {new['timeout']})")
        return self.view(fn)

    def _finish_update(self, fn: Function) -> None:
        with fn.lock:
            fn.config, fn.pending = fn.pending, None
            fn.generation += 1
            retired, fn.idle = fn.idle, []
            fn.update_status = "Successful"
        for sb in retired:
            sb.stop()
        log(f"{fn.name}: update successful; {len(retired)} warm sandbox(es) retired")

    # --- Versions, aliases, concurrency, account --------------------------------

    def publish_version(self, fn: Function, body: dict) -> dict:
        with fn.lock:
            if fn.pending is not None:
                raise ApiError(
                    409,
                    "ResourceConflictException",
                    f"The operation cannot be performed at this time. An update is in progress for resource: {self.arn(fn.name)}",
                )
            if "RevisionId" in body and body["RevisionId"] != fn.revision:
                raise ApiError(412, "PreconditionFailedException", "The RevisionId provided does not match the latest RevisionId for the Lambda function.")
            if "CodeSha256" in body and body["CodeSha256"] != fn.code_sha:
                raise ApiError(412, "PreconditionFailedException", "CodeSha256 does not match the function's code.")
            # Lambda publishes nothing new when $LATEST has not changed since the last
            # version: it answers with that version.
            existing = fn.published_from.get(fn.revision)
            if existing is None or existing not in fn.versions:
                existing = str(fn.next_version)
                fn.next_version += 1
                fn.versions[existing] = {
                    "config": {
                        **fn.config,
                        "environment": dict(fn.config["environment"]),
                        "description": str(body.get("Description", fn.config["description"])),
                    },
                    "revision": str(uuid.uuid4()),
                    "modified": _now_iso(),
                }
                fn.published_from[fn.revision] = existing
                fn.stats["versions_published"] += 1
        log(f"{fn.name}: published version {existing}")
        return self.view(fn, existing)

    def delete_version(self, fn: Function, qualifier: str | None) -> None:
        if qualifier in (None, "", "$LATEST"):
            raise ApiError(
                400,
                "InvalidParameterValueException",
                "$LATEST version cannot be deleted without deleting the function (deleting a whole function is not an operation of the local control plane).",
            )
        with fn.lock:
            if qualifier not in fn.versions:
                raise ApiError(404, "ResourceNotFoundException", f"Function not found: {self.arn(fn.name)}:{qualifier}")
            using = sorted(a for a, v in fn.aliases.items() if v["version"] == qualifier)
            if using:
                raise ApiError(
                    409,
                    "ResourceConflictException",
                    f"Unable to delete version because the following aliases reference it: [{', '.join(using)}]",
                )
            del fn.versions[qualifier]
            fn.stats["versions_deleted"] += 1
            retired = [sb for sb in fn.idle if sb.version == qualifier]
            fn.idle = [sb for sb in fn.idle if sb.version != qualifier]
        for sb in retired:
            sb.stop()
        log(f"{fn.name}: deleted version {qualifier}; {len(retired)} warm sandbox(es) ended")

    def alias_view(self, fn: Function, name: str) -> dict:
        a = fn.aliases[name]
        return {
            "AliasArn": f"{self.arn(fn.name)}:{name}",
            "Name": name,
            "FunctionVersion": a["version"],
            "Description": a["description"],
            "RevisionId": a["revision"],
        }

    def _alias_version(self, fn: Function, version) -> str:
        if not isinstance(version, str) or not (version == "$LATEST" or version in fn.versions):
            raise ApiError(404, "ResourceNotFoundException", f"Function not found: {self.arn(fn.name)}:{version}")
        return version

    def create_alias(self, fn: Function, body: dict) -> dict:
        name = body.get("Name")
        if not isinstance(name, str) or not name or name.isdigit() or name == "$LATEST":
            raise ApiError(400, "ValidationException", "1 validation error detected: Value at 'name' failed to satisfy constraint")
        with fn.lock:
            if name in fn.aliases:
                raise ApiError(409, "ResourceConflictException", f"Alias already exists: {self.arn(fn.name)}:{name}")
            version = self._alias_version(fn, body.get("FunctionVersion"))
            fn.aliases[name] = {"version": version, "description": str(body.get("Description", "")), "revision": str(uuid.uuid4())}
            fn.stats["aliases_created"] += 1
            return self.alias_view(fn, name)

    def get_alias(self, fn: Function, name: str) -> dict:
        with fn.lock:
            if name not in fn.aliases:
                raise ApiError(404, "ResourceNotFoundException", f"Alias not found: {self.arn(fn.name)}:{name}")
            return self.alias_view(fn, name)

    def update_alias(self, fn: Function, name: str, body: dict) -> dict:
        with fn.lock:
            if name not in fn.aliases:
                raise ApiError(404, "ResourceNotFoundException", f"Alias not found: {self.arn(fn.name)}:{name}")
            a = fn.aliases[name]
            if "RevisionId" in body and body["RevisionId"] != a["revision"]:
                raise ApiError(412, "PreconditionFailedException", "The RevisionId provided does not match the latest RevisionId for the alias.")
            if "FunctionVersion" in body:
                a["version"] = self._alias_version(fn, body["FunctionVersion"])
            if "Description" in body:
                a["description"] = str(body["Description"])
            a["revision"] = str(uuid.uuid4())
            return self.alias_view(fn, name)

    def delete_alias(self, fn: Function, name: str) -> None:
        with fn.lock:
            # Lambda answers 204 for an alias that is not there.
            if fn.aliases.pop(name, None) is not None:
                fn.stats["aliases_deleted"] += 1

    def put_concurrency(self, fn: Function, body: dict) -> dict:
        n = body.get("ReservedConcurrentExecutions")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ApiError(400, "InvalidParameterValueException", "ReservedConcurrentExecutions must be a whole number of at least 0")
        with self.lock:
            others = sum(f.reserved or 0 for f in self.functions.values() if f is not fn)
            if self.account_concurrency - others - n < 100:
                raise ApiError(
                    400,
                    "InvalidParameterValueException",
                    "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].",
                )
            fn.reserved = n
        return {"ReservedConcurrentExecutions": n}

    def delete_concurrency(self, fn: Function) -> None:
        with self.lock:
            fn.reserved = None

    def account_settings(self) -> dict:
        with self.lock:
            sizes = [os.path.getsize(f.bootstrap) for f in self.functions.values()]
            return {
                "AccountLimit": {
                    "TotalCodeSize": 80530636800,
                    "CodeSizeUnzipped": 262144000,
                    "CodeSizeZipped": 52428800,
                    "ConcurrentExecutions": self.account_concurrency,
                    "UnreservedConcurrentExecutions": self.unreserved(),
                },
                "AccountUsage": {"TotalCodeSize": sum(sizes), "FunctionCount": len(sizes)},
            }

    def set_account(self, body: dict) -> None:
        """Test hook (/_lgb/account): the account's concurrency and memory cap."""
        with self.lock:
            if "account_concurrency" in body:
                self.account_concurrency = _int(body, "account_concurrency", 1000, 1, 100000, "(account)")
            if "memory_cap_mb" in body:
                self.memory_cap = _int(body, "memory_cap_mb", 10240, 128, 10240, "(account)")

    # --- Invoke --------------------------------------------------------------

    def unreserved(self) -> int:
        """UnreservedConcurrentExecutions: the account's concurrency less every
        function's reservation (call with self.lock held)."""
        return self.account_concurrency - sum(f.reserved or 0 for f in self.functions.values())

    def invoke(self, fn: Function, payload: bytes, url: bool, qualifier: str | None = None) -> tuple[int, bytes, str, bool, str]:
        """Runs one invocation of the version `qualifier` names on a warm or new
        sandbox: (status, body, log tail, function error, executed version)."""
        with self.lock, fn.lock:
            try:
                version, config = fn.resolve(qualifier)
            except KeyError:
                raise ApiError(404, "ResourceNotFoundException", f"Function not found: {self.arn(fn.name)}:{qualifier}") from None
            if fn.reserved is not None:
                full = len(fn.busy) >= fn.reserved
            else:
                # Functions without a reservation share what the others left.
                shared = sum(len(f.busy) for f in self.functions.values() if f.reserved is None)
                full = shared >= self.unreserved()
            if full or self.in_flight >= self.account_concurrency:
                fn.stats["throttles"] += 1
                reason = (
                    "ReservedFunctionConcurrentInvocationLimitExceeded"
                    if fn.reserved is not None
                    else "ConcurrentInvocationLimitExceeded"
                )
                raise ApiError(429, "TooManyRequestsException", "Rate Exceeded.", {"Reason": reason, "Type": "User"})
            fn.stats["url_invocations" if url else "invocations"] += 1
            sandbox = next((sb for sb in reversed(fn.idle) if sb.version == version), None)
            if sandbox is not None:
                fn.idle.remove(sandbox)
            else:
                fn.started += 1
                fn.stats["cold_starts"] += 1
                fn.stats["sandbox_memory_sizes"].append(config["memory_size"])
                slot = (dict(config), fn.generation, fn.started, version)
            placeholder = sandbox or object()
            fn.busy[placeholder] = version
            fn.stats["max_in_flight"] = max(fn.stats["max_in_flight"], len(fn.busy))
            fn.stats["max_versions_in_flight"] = max(fn.stats["max_versions_in_flight"], len(set(fn.busy.values())))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            timeout = config["timeout"]
        keep = False
        try:
            if sandbox is None:
                # A new sandbox is started up to three times: the emulator's two ports are
                # picked free and then bound by it, and on a busy machine another process
                # can take one in between ("address already in use": the emulator or the
                # bootstrap exits). A bootstrap that cannot start fails every time.
                for attempt in range(3):
                    try:
                        sandbox = Sandbox(self, fn, *slot)
                        status, body, tail, _ = sandbox.invoke(str(uuid.uuid4()), payload, timeout)
                        break
                    except SandboxInitFailed as e:
                        if sandbox is not None:
                            sandbox.stop()
                            sandbox = None
                        if attempt == 2:
                            raise
                        log(f"{fn.name}: {e.message}; starting the sandbox again")
            else:
                status, body, tail, _ = sandbox.invoke(str(uuid.uuid4()), payload, timeout)
            failed = _function_error(status, body)
            if failed:
                fn.stats["function_errors"] += 1
                body = failed
            keep = not failed
            return 200, body, tail, bool(failed), version
        finally:
            with self.lock, fn.lock:
                fn.busy.pop(placeholder, None)
                self.in_flight -= 1
                current = sandbox is not None and (
                    sandbox.generation == fn.generation if version == "$LATEST" else version in fn.versions
                )
                if keep and current:
                    fn.idle.append(sandbox)
                    sandbox = None
            if sandbox is not None:
                sandbox.stop()

    def stats(self) -> dict:
        out = {}
        with self.lock:
            total = {
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "account_concurrency": self.account_concurrency,
                "memory_cap_mb": self.memory_cap,
            }
            for fn in self.functions.values():
                with fn.lock:
                    out[fn.name] = {
                        **fn.stats,
                        "sandbox_memory_sizes": list(fn.stats["sandbox_memory_sizes"]),
                        "in_flight": len(fn.busy),
                        "reserved_concurrency": fn.reserved,
                        "versions": sorted(fn.versions, key=int),
                        "aliases": {a: v["version"] for a, v in fn.aliases.items()},
                        "environment": dict(fn.config["environment"]),
                        "sandboxes": len(fn.idle) + sum(isinstance(s, Sandbox) for s in fn.busy),
                        "warm": len(fn.idle),
                        "memory_size": fn.config["memory_size"],
                        "last_update_status": fn.update_status,
                    }
        return {"functions": out, "total": total}

    def reset(self) -> None:
        with self.lock:
            self.max_in_flight = self.in_flight
            for fn in self.functions.values():
                with fn.lock:
                    fn.reset()

    def shutdown(self) -> None:
        for fn in self.functions.values():
            with fn.lock:
                sandboxes = list(fn.idle) + [s for s in fn.busy if isinstance(s, Sandbox)]
                fn.idle = []
            for sb in sandboxes:
                sb.stop()


def _function_error(status: int, body: bytes) -> bytes | None:
    """The error body when the invocation failed (crash, timeout, unhandled error)."""
    if body.startswith(b"Task timed out"):
        return json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": body.decode("utf-8", "replace")}).encode()
    if status >= 500 or status == 400:
        return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": body.decode("utf-8", "replace") or f"emulator status {status}"}).encode()
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if isinstance(value, dict) and set(value) >= {"errorType", "errorMessage"} and len(value) <= 4:
        return body
    return None


# ------------------------------------------------------------------- HTTP ---


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lgb-lambda-control-plane"
    cp: ControlPlane

    def log_message(self, fmt, *args):  # noqa: D102 - quiet: one line per error only
        pass

    def _body(self) -> bytes:
        if self.headers.get("expect", "").lower() == "100-continue":
            self.send_response_only(100)
            self.end_headers()
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("content-length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        headers = {"Content-Type": "application/json", **(headers or {})}
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value, headers: dict | None = None) -> None:
        self._send(status, json.dumps(value).encode(), headers)

    def _error(self, e: ApiError, url: bool) -> None:
        if url:
            # Function URLs answer like an HTTP front end, without AWS error types.
            self._json(e.status, {"Message": e.message})
        else:
            self._json(
                e.status,
                {"Type": "User", "message": e.message, **e.extra},
                {"x-amzn-ErrorType": e.code, "x-amzn-RequestId": str(uuid.uuid4())},
            )

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_PUT(self):
        self._route("PUT")

    def do_DELETE(self):
        self._route("DELETE")

    def do_PATCH(self):
        self._route("PATCH")

    def _route(self, method: str) -> None:
        cp = self.cp
        raw_path = self.path
        path, _, query = raw_path.partition("?")
        params = dict(urllib.parse.parse_qsl(query))
        parts = [p for p in path.split("/") if p]
        url = bool(parts) and parts[0] == "lambda-url"
        fn = None
        try:
            body = self._body()
            if parts[:1] == ["_lgb"]:
                return self._internal(method, parts[1:], body)
            if url:
                if len(parts) < 2:
                    raise ApiError(404, "NotFound", "no such Function URL")
                fn = cp.function(parts[1])
                if fn.url_auth == "AWS_IAM":
                    try:
                        verify_sigv4(method, raw_path, self.headers, body, cp.secrets)
                    except ApiError:
                        with fn.lock:
                            fn.stats["signature_failures"] += 1
                        raise ApiError(403, "AccessDeniedException", "Forbidden") from None
                return self._url(fn, method, "/" + "/".join(parts[2:]) + ("/" if path.endswith("/") and len(parts) > 2 else ""), query, body)
            try:
                verify_sigv4(method, raw_path, self.headers, body, cp.secrets)
            except ApiError:
                if len(parts) >= 3 and parts[1] == "functions" and parts[2] in cp.functions:
                    f = cp.functions[parts[2]]
                    with f.lock:
                        f.stats["signature_failures"] += 1
                raise
            def document() -> dict:
                try:
                    value = json.loads(body or b"{}")
                except ValueError:
                    raise ApiError(400, "InvalidRequestContentException", "Could not parse request body into json") from None
                if not isinstance(value, dict):
                    raise ApiError(400, "InvalidRequestContentException", "the request body must be a JSON object")
                return value

            if parts == ["2016-08-19", "account-settings"] and method == "GET":
                return self._json(200, cp.account_settings())
            if parts[:2] == ["2015-03-31", "functions"]:
                if len(parts) == 2 and method == "GET":
                    items = [cp.view(f) for f in cp.functions.values()]
                    return self._json(200, {"Functions": items})
                fn, qualifier = cp.qualified(parts[2], params.get("Qualifier")) if len(parts) >= 3 else (None, None)
                rest = parts[3:]
                if fn and rest == ["invocations"] and method == "POST":
                    return self._invoke(fn, body, qualifier)
                if fn and rest == ["configuration"] and method == "GET":
                    return self._json(200, cp.view(fn, qualifier))
                if fn and rest == ["configuration"] and method == "PUT":
                    if qualifier is not None:
                        raise ApiError(400, "InvalidParameterValueException", "Only $LATEST's configuration can be changed")
                    return self._json(200, cp.update(fn, document()))
                if fn and rest == ["versions"] and method == "POST":
                    return self._json(201, cp.publish_version(fn, document()))
                if fn and rest == ["versions"] and method == "GET":
                    with fn.lock:
                        published = sorted(fn.versions, key=int)
                    return self._json(200, {"Versions": [cp.view(fn)] + [cp.view(fn, v) for v in published]})
                if fn and rest == ["aliases"] and method == "POST":
                    return self._json(201, cp.create_alias(fn, document()))
                if fn and rest == ["aliases"] and method == "GET":
                    with fn.lock:
                        return self._json(200, {"Aliases": [cp.alias_view(fn, a) for a in sorted(fn.aliases)]})
                if fn and len(rest) == 2 and rest[0] == "aliases":
                    name = urllib.parse.unquote(rest[1])
                    if method == "GET":
                        return self._json(200, cp.get_alias(fn, name))
                    if method == "PUT":
                        return self._json(200, cp.update_alias(fn, name, document()))
                    if method == "DELETE":
                        cp.delete_alias(fn, name)
                        return self._send(204, b"")
                if fn and rest == [] and method == "DELETE":
                    cp.delete_version(fn, qualifier)
                    return self._send(204, b"")
                if fn and rest == [] and method == "GET":
                    cfg = cp.view(fn, qualifier)
                    extra = {"Concurrency": {"ReservedConcurrentExecutions": fn.reserved}} if fn.reserved is not None else {}
                    return self._json(200, {"Configuration": cfg, "Code": {"RepositoryType": "Local", "Location": fn.bootstrap}, **extra})
            if parts[:2] == ["2019-09-30", "functions"] and len(parts) == 4 and parts[3] == "concurrency" and method == "GET":
                fn = cp.function(parts[2])
                return self._json(200, {} if fn.reserved is None else {"ReservedConcurrentExecutions": fn.reserved})
            if parts[:2] == ["2017-10-31", "functions"] and len(parts) == 4 and parts[3] == "concurrency":
                fn = cp.function(parts[2])
                if method == "PUT":
                    return self._json(200, cp.put_concurrency(fn, document()))
                if method == "DELETE":
                    cp.delete_concurrency(fn)
                    return self._send(204, b"")
            raise ApiError(404, "UnknownOperationException", f"{method} {path} is not an operation of the local control plane")
        except ApiError as e:
            self._error(e, url)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # noqa: BLE001 - answer, log, keep serving
            log(f"{method} {path}: {type(e).__name__}: {e}")
            self._error(ApiError(500, "ServiceException", f"{type(e).__name__}: {e}"), url)

    def _internal(self, method: str, parts: list[str], body: bytes = b"") -> None:
        if parts == ["health"]:
            return self._json(200, {"ok": True, "functions": sorted(self.cp.functions)})
        if parts == ["stats"] and method == "GET":
            return self._json(200, self.cp.stats())
        if parts == ["reset"] and method == "POST":
            self.cp.reset()
            return self._json(200, self.cp.stats())
        if parts == ["account"] and method == "POST":
            try:
                self.cp.set_account(json.loads(body or b"{}"))
            except (ValueError, AttributeError) as e:
                raise ApiError(400, "InvalidParameterValueException", str(e)) from None
            return self._json(200, self.cp.stats())
        raise ApiError(404, "NotFound", "unknown /_lgb endpoint")

    def _invoke(self, fn: Function, body: bytes, qualifier: str | None = None) -> None:
        kind = self.headers.get("x-amz-invocation-type", "RequestResponse")
        if kind == "DryRun":
            return self._send(204, b"")
        if kind == "Event":
            threading.Thread(target=self._background, args=(fn, body, qualifier), daemon=True).start()
            return self._send(202, b"")
        if kind != "RequestResponse":
            raise ApiError(400, "InvalidParameterValueException", f"unknown X-Amz-Invocation-Type {kind}")
        status, out, tail, failed, version = self.cp.invoke(fn, body, url=False, qualifier=qualifier)
        headers = {"X-Amz-Executed-Version": version, "x-amzn-RequestId": str(uuid.uuid4())}
        if failed:
            headers["X-Amz-Function-Error"] = "Unhandled"
        if self.headers.get("x-amz-log-type") == "Tail":
            headers["X-Amz-Log-Result"] = base64.b64encode(tail.encode()).decode()
        self._send(status, out, headers)

    def _background(self, fn: Function, body: bytes, qualifier: str | None = None) -> None:
        try:
            self.cp.invoke(fn, body, url=False, qualifier=qualifier)
        except ApiError as e:
            log(f"{fn.name}: asynchronous invocation failed: {e.message}")

    def _url(self, fn: Function, method: str, path: str, query: str, body: bytes) -> None:
        now = time.time()
        text = True
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            text = False
        headers: dict[str, str] = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = f"{headers[k]},{v}" if k in headers else v
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "accountId": "anonymous" if fn.url_auth == "NONE" else self.cp.account,
                "apiId": fn.name,
                "domainName": headers.get("host", ""),
                "domainPrefix": fn.name,
                "http": {
                    "method": method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": self.client_address[0],
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": "$default",
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "isBase64Encoded": not text,
        }
        if query:
            event["queryStringParameters"] = dict(urllib.parse.parse_qsl(query))
        if body:
            event["body"] = body.decode() if text else base64.b64encode(body).decode()
        _, out, _, failed, _ = self.cp.invoke(fn, json.dumps(event).encode(), url=True)
        if failed:
            return self._json(502, {"Message": "Internal Server Error"})
        try:
            value = json.loads(out)
        except ValueError:
            value = None
        if isinstance(value, dict) and "statusCode" in value:
            raw = value.get("body") or ""
            data = base64.b64decode(raw) if value.get("isBase64Encoded") else raw.encode()
            hdrs = {str(k): str(v) for k, v in (value.get("headers") or {}).items()}
            hdrs.pop("content-length", None)
            return self._send(int(value["statusCode"]), data, hdrs)
        # Any other answer is the body of a 200 application/json, like Lambda does.
        return self._send(200, out)


class Server(ThreadingHTTPServer):
    # A whole fan-out of workers connects at once.
    request_queue_size = 1024
    daemon_threads = True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", required=True, help="functions JSON file")
    parser.add_argument("--rie", required=True, help="path of aws-lambda-rie")
    args = parser.parse_args()
    try:
        with open(args.config) as f:
            config = json.load(f)
        cp = ControlPlane(config, os.path.dirname(os.path.abspath(args.config)), args.rie)
    except (OSError, ValueError) as e:
        log(f"bad configuration {args.config}: {e}")
        return 2
    Handler.cp = cp
    server = Server(("127.0.0.1", args.port), Handler)

    def stop(_sig, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f"serving {', '.join(sorted(cp.functions))} on http://127.0.0.1:{args.port} (region {cp.region})")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        cp.shutdown()
        log("stopped; sandboxes ended")
    return 0


if __name__ == "__main__":
    sys.exit(main())
