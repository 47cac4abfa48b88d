#!/usr/bin/env python3
"""Checks FHIR R4 JSON documents that a program writes one a line on stdout.

Each document must be valid against the FHIR R4 JSON schema (draft-06, python3-jsonschema).
For Bundles also: every fullUrl unique, and every `urn:uuid:` reference resolves to an entry
of the same Bundle (other references, such as `Subscription/123`, point at the server). Exit 0
when the program exited 0, wrote at least one document and all hold; otherwise each problem
is printed.

usage: validate_fhir_json.py SCHEMA PROGRAM [ARGS...]
"""
import json
import subprocess
import sys

import jsonschema


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


def problems_of(doc, validator, schema):
    problems = []
    if not validator.is_valid(doc):
        rt = doc.get("resourceType")
        if rt not in schema["definitions"]:
            return [f"unknown resourceType {rt}"]
        one = jsonschema.Draft6Validator({"$ref": f"#/definitions/{rt}", "definitions": schema["definitions"]})
        for err in one.iter_errors(doc):
            path = "/".join(str(p) for p in err.absolute_path)
            problems.append(f"schema: {rt}/{path}: {err.message[:200]}")
        if not problems:
            problems.append("schema: not valid FHIR R4")
    if doc.get("resourceType") == "Bundle":
        urls = [e.get("fullUrl") for e in doc.get("entry", [])]
        if len(urls) != len(set(urls)):
            problems.append("duplicate fullUrl")
        for ref in references(doc):
            if ref.startswith("urn:uuid:") and ref not in urls:
                problems.append(f"unresolved reference {ref}")
    return problems


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    validator = jsonschema.Draft6Validator(schema)
    run = subprocess.run(sys.argv[2:], capture_output=True, text=True)
    if run.returncode != 0:
        print(f"FAIL program exited {run.returncode}: {run.stderr.strip()}")
    failures = docs = 0
    for n, line in enumerate(run.stdout.splitlines(), 1):
        docs += 1
        problems = problems_of(json.loads(line), validator, schema)
        for p in problems[:20]:
            print(f"FAIL document {n}: {p}")
        failures += bool(problems)
    print(f"{docs} documents checked, {failures} failures")
    return 1 if failures or docs == 0 or run.returncode != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
