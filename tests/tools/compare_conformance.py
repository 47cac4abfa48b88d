#!/usr/bin/env python3
"""Compares `courier convert --to fhir` with reference HL7 v2 -> FHIR conversions.

Reads every <name>.hl7 with a <name>-expected.json beside it under CORPUS (the Microsoft
FHIR converter's samples) and compares the clinically meaningful elements, not generated ids
or timestamps:

  patient      Patient.identifier values
  encounter    Encounter.class code and period start/end dates
  conditions   Condition codes (code.coding.code)
  procedures   Procedure codes
  observations Observation (code, value, unit) for results that carry a value
  immunizations Immunization.vaccineCode codes

A category agrees when both sides yield the same set. A pair agrees when every category
does. Prints per-category and per-pair figures; exits 1 when the share of agreeing pairs is
below --min-pairs or the share of agreeing category checks is below --min-checks; exits 0
(skipped) when CORPUS does not exist.

usage: compare_conformance.py COURIER CORPUS [--min-pairs F] [--min-checks F] [-v]
"""
import argparse
import json
import os
import subprocess
import sys

ENC_CLASS = {  # the reference converter's v2 0004 -> v3 ActCode map, same as ours
    "IMP", "AMB", "EMER", "PRENC",
}


def codes(concept):
    if not isinstance(concept, dict):
        return set()
    return {c.get("code") for c in concept.get("coding", []) if c.get("code")}


def number(v):
    try:
        return f"{float(v):g}"
    except (TypeError, ValueError):
        return str(v)


def obs_value(r):
    if "valueQuantity" in r:
        q = r["valueQuantity"]
        return number(q.get("value")), frozenset(u for u in (q.get("unit"), q.get("code")) if u)
    if "valueString" in r:
        return r["valueString"].strip(), None
    if "valueCodeableConcept" in r:
        c = sorted(codes(r["valueCodeableConcept"]))
        return (c[0] if c else r["valueCodeableConcept"].get("text")), None
    if "valueDateTime" in r:
        return r["valueDateTime"][:10], None
    return None, None


def extract(bundle):
    out = {k: set() for k in ("patient", "encounter", "conditions", "procedures", "observations", "immunizations")}
    for e in bundle.get("entry", []):
        r = e.get("resource", {})
        t = r.get("resourceType")
        if t == "Patient":
            out["patient"] |= {i.get("value") for i in r.get("identifier", []) if i.get("value")}
        elif t == "Encounter":
            cls = r.get("class", {}).get("code")
            out["encounter"].add(("class", cls if cls in ENC_CLASS else None))
            p = r.get("period", {})
            if p.get("start"):
                out["encounter"].add(("start", p["start"][:10]))
            if p.get("end"):
                out["encounter"].add(("end", p["end"][:10]))
        elif t == "Condition":
            out["conditions"] |= codes(r.get("code"))
        elif t == "Procedure":
            out["procedures"] |= codes(r.get("code"))
        elif t == "Observation":
            value, unit = obs_value(r)
            c = sorted(codes(r.get("code")))
            if value is not None and c:
                out["observations"].add((c[0], value, unit or frozenset()))
        elif t == "Immunization":
            out["immunizations"] |= codes(r.get("vaccineCode"))
    return out


def same(cat, theirs, ours):
    """Set equality; observation units match when any spelling (unit text or code) agrees."""
    if cat != "observations":
        return theirs == ours
    def index(items):
        d = {}
        for code, value, units in items:
            d.setdefault((code, value), set()).update(units)
        return d
    a, b = index(theirs), index(ours)
    return a.keys() == b.keys() and all((not a[k] and not b[k]) or (a[k] & b[k]) for k in a)


def covered(cat, theirs, ours):
    """Everything the reference extracted, Courier extracted too (Courier may have more)."""
    if cat != "observations":
        return theirs <= ours
    ours_keys = {(c, v) for c, v, _ in ours}
    return all((c, v) in ours_keys for c, v, _ in theirs)


def pairs(corpus):
    for root, _, names in os.walk(corpus):
        for n in sorted(names):
            if n.endswith(".hl7"):
                expected = os.path.join(root, n[:-4] + "-expected.json")
                if os.path.exists(expected):
                    yield os.path.join(root, n), expected


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("courier")
    ap.add_argument("corpus")
    ap.add_argument("--min-pairs", type=float, default=0.0)
    ap.add_argument("--min-checks", type=float, default=0.0)
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    if not os.path.isdir(a.corpus):
        print(f"corpus {a.corpus} absent: skipped")
        return 0
    total = agree = checks = checks_ok = checks_covered = 0
    per_cat = {}
    for hl7, expected_path in pairs(a.corpus):
        total += 1
        with open(expected_path) as f:
            expected = extract(json.load(f))
        run = subprocess.run([a.courier, "convert", "--to", "fhir", hl7], capture_output=True, text=True)
        if run.returncode != 0 or not run.stdout.strip():
            ours = {k: set() for k in expected}
            if a.v:
                print(f"NOCONVERT {os.path.relpath(hl7, a.corpus)}: {run.stderr.strip()}")
        else:
            ours = extract(json.loads(run.stdout.splitlines()[0]))
        pair_ok = True
        for cat in expected:
            if not expected[cat] and not ours[cat]:
                continue
            checks += 1
            ok = same(cat, expected[cat], ours[cat])
            cov = covered(cat, expected[cat], ours[cat])
            checks_covered += cov
            stats = per_cat.setdefault(cat, [0, 0, 0])
            stats[1] += 1
            stats[2] += cov
            if ok:
                checks_ok += 1
                stats[0] += 1
            else:
                pair_ok = False
                if a.v:
                    print(f"DIFF {os.path.relpath(hl7, a.corpus)} {cat}: "
                          f"only theirs {sorted(map(str, expected[cat] - ours[cat]))[:6]} "
                          f"only ours {sorted(map(str, ours[cat] - expected[cat]))[:6]}"[:600])
        agree += pair_ok
    if total == 0:
        print("no pairs found: skipped")
        return 0
    for cat, (ok, n, cov) in sorted(per_cat.items()):
        print(f"{cat:14s} {ok}/{n} agree exactly, {cov}/{n} cover the reference")
    pair_share, check_share = agree / total, (checks_ok / checks if checks else 1.0)
    print(f"pairs agreeing on every element: {agree}/{total} ({pair_share:.1%}); "
          f"element checks agreeing: {checks_ok}/{checks} ({check_share:.1%}); "
          f"covering the reference: {checks_covered}/{checks}")
    if pair_share < a.min_pairs or check_share < a.min_checks:
        print(f"FAIL: below threshold (pairs {a.min_pairs:.0%}, checks {a.min_checks:.0%})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
