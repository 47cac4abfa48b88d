#!/usr/bin/env python3
"""Checks FHIR R4 resources stored as JSON files (one resource per file, e.g. the golden
Claims under tests/data/claims/): each is valid against the FHIR R4 JSON schema (draft-06,
python3-jsonschema; errors named per element through validate_fhir.type_validator), every
local reference ("#id") names a contained resource, and every contained resource is
referenced (FHIR's rule for contained resources).

usage: validate_fhir_resources.py SCHEMA FILE...
"""
import json
import os
import sys

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from validate_fhir import references, type_validator  # noqa: E402


def check_resource(resource, validator):
    problems = []
    if not validator.is_valid(resource):
        rt = resource.get("resourceType")
        if rt not in validator.schema["definitions"]:
            return [f"unknown resourceType {rt}"]
        for err in type_validator(validator.schema, rt).iter_errors(resource):
            path = "/".join(str(p) for p in err.absolute_path)
            problems.append(f"schema: {rt}/{path}: {err.message[:200]}")
        if not problems:
            problems.append("schema: not valid FHIR R4")
    contained = {r.get("id") for r in resource.get("contained", [])}
    local = {ref[1:] for ref in references(resource) if ref.startswith("#")}
    for ref in sorted(local - contained):
        problems.append(f"reference #{ref} names no contained resource")
    for rid in sorted(contained - local):
        problems.append(f"contained resource {rid} is not referenced")
    return problems


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    with open(sys.argv[1]) as f:
        validator = jsonschema.Draft6Validator(json.load(f))
    failures = 0
    for path in sys.argv[2:]:
        with open(path) as f:
            problems = check_resource(json.load(f), validator)
        for p in problems[:20]:
            print(f"FAIL {path}: {p}")
        failures += bool(problems)
    print(f"{len(sys.argv) - 2} resources checked, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
