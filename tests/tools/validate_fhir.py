#!/usr/bin/env python3
"""Checks every FHIR Bundle `courier convert --to fhir` writes for the given HL7 v2 files
(`*.hl7` in directories) and FHIR JSON inputs (`.json` files named one by one).

For each Bundle: valid against the FHIR R4 JSON schema (draft-06, python3-jsonschema),
every fullUrl unique, every resource id unique, every `reference` resolves to an entry of
the same Bundle. Files whose name starts with `no_` must instead make convert exit 1 with a
located error. Exit status 0 when everything holds; otherwise each problem is printed.

usage: validate_fhir.py COURIER SCHEMA FILE_OR_DIR...
"""
import json
import os
import subprocess
import sys

import jsonschema
import jsonschema.exceptions


def hl7_files(args):
    for a in args:
        if os.path.isdir(a):
            for root, _, names in os.walk(a):
                for n in sorted(names):
                    if n.endswith(".hl7"):
                        yield os.path.join(root, n)
        elif os.path.exists(a):
            yield a  # any file named explicitly, HL7 v2 or FHIR JSON


def references(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "reference" and isinstance(v, str):
                yield v
            else:
                yield from references(v)
    elif isinstance(node, list):
        for v in node:
            yield from references(v)


_by_type = {}


def type_validator(schema, resource_type):
    # The schema dispatches resources through oneOf, whose errors say little; validating a
    # resource against its own definition names the failing element.
    if resource_type not in _by_type:
        _by_type[resource_type] = jsonschema.Draft6Validator(
            {"$ref": f"#/definitions/{resource_type}", "definitions": schema["definitions"]})
    return _by_type[resource_type]


def check_bundle(bundle, validator):
    problems = []
    if not validator.is_valid(bundle):
        problems.append("schema: Bundle is not valid FHIR R4")
        for i, entry in enumerate(bundle.get("entry", [])):
            res = entry.get("resource", {})
            rt = res.get("resourceType")
            if rt not in validator.schema["definitions"]:
                problems.append(f"schema: entry/{i}: unknown resourceType {rt}")
                continue
            for err in type_validator(validator.schema, rt).iter_errors(res):
                path = "/".join(str(p) for p in err.absolute_path)
                problems.append(f"schema: entry/{i}/{rt}/{path}: {err.message[:200]}")
    full_urls, ids = set(), set()
    for entry in bundle.get("entry", []):
        url = entry.get("fullUrl")
        rid = entry.get("resource", {}).get("id")
        if url in full_urls:
            problems.append(f"duplicate fullUrl {url}")
        if rid in ids:
            problems.append(f"duplicate id {rid}")
        full_urls.add(url)
        ids.add(rid)
    for ref in references(bundle):
        if ref not in full_urls:
            problems.append(f"unresolved reference {ref}")
    return problems


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    courier, schema_path = sys.argv[1], sys.argv[2]
    with open(schema_path) as f:
        schema = json.load(f)
    validator = jsonschema.Draft6Validator(schema)
    failures = bundles = files = 0
    for path in hl7_files(sys.argv[3:]):
        files += 1
        expect_error = os.path.basename(path).startswith("no_")
        run = subprocess.run([courier, "convert", "--to", "fhir", path], capture_output=True, text=True)
        if expect_error:
            if run.returncode != 1 or "PID" not in run.stderr:
                print(f"FAIL {path}: expected exit 1 with a located error, got {run.returncode}: {run.stderr.strip()}")
                failures += 1
            continue
        if run.returncode != 0:
            print(f"FAIL {path}: convert exited {run.returncode}: {run.stderr.strip()}")
            failures += 1
            continue
        for n, line in enumerate(run.stdout.splitlines(), 1):
            bundles += 1
            problems = check_bundle(json.loads(line), validator)
            for p in problems[:20]:
                print(f"FAIL {path} (message {n}): {p}")
            failures += bool(problems)
    print(f"{files} files, {bundles} bundles checked, {failures} failures")
    return 1 if failures or files == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
