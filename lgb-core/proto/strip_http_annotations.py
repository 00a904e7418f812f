#!/usr/bin/env python3
"""Vendors immudb's gRPC schema without its REST-gateway annotations.

Usage: strip_http_annotations.py SRC/pkg/api/schema/schema.proto VERSION > immudb/schema.proto

immudb's schema.proto imports google/api/annotations.proto and the grpc-gateway
swagger options, which only describe its REST gateway. A gRPC client needs neither,
so the `option (google.api.http)` and `option (grpc.gateway...)` blocks and their
imports are dropped; every message, field and rpc is kept byte for byte.
"""
import re
import sys

DROP_IMPORTS = ("google/api/annotations.proto", "protoc-gen-swagger/options/annotations.proto")
OPTION = re.compile(r"^\s*option \((google\.api\.http|grpc\.gateway\.[\w.]+)\) = \{")


def strip(text: str, version: str) -> str:
    out = []
    depth = 0
    licence_done = False
    for line in text.splitlines():
        if depth:
            depth += line.count("{") - line.count("}")
            continue
        if OPTION.match(line):
            depth = line.count("{") - line.count("}")
            continue
        if line.startswith("import ") and any(i in line for i in DROP_IMPORTS):
            continue
        out.append(line)
        if not licence_done and line.strip() == "*/":
            licence_done = True
            out.append("")
            out.append(f"// Vendored by lgb from immudb {version} (pkg/api/schema/schema.proto),")
            out.append("// with the REST-gateway annotations (google.api.http, grpc-gateway swagger")
            out.append("// options) and their imports removed by lgb-core/proto/strip_http_annotations.py.")
            out.append("// Messages, fields and rpcs are unchanged.")
    # An rpc whose only options were removed keeps an empty body `{ }`, which is valid.
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        sys.stdout.write(strip(f.read(), sys.argv[2]))
