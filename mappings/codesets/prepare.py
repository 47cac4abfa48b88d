#!/usr/bin/env python3
"""Builds mappings/codesets/ from the shared, official code-set files.

Run once by a developer (never at build or run time):
    python3 mappings/codesets/prepare.py ../shared/codesets mappings/codesets

Data files are copied byte-for-byte and gzip-compressed. Two files are derived
(see PROVENANCE.md): the Tabular List notes (from the FY2021 Tabular XML) and the
complete FY2017 Alphabetic Index (from its XML).
"""
import gzip
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

src = Path(sys.argv[1])
dst = Path(sys.argv[2])
dst.mkdir(parents=True, exist_ok=True)


def gz_copy(rel, name):
    p = src / rel
    out = dst / name
    if p.suffix == ".gz":
        shutil.copyfile(p, out)
        return
    with open(p, "rb") as f, gzip.GzipFile(out, "wb", compresslevel=9, mtime=0) as g:
        shutil.copyfileobj(f, g)


gz_copy("icd10cm/icd10cm_2026.tsv", "icd10cm_2026.tsv.gz")
gz_copy("icd10cm/previous_years/icd10cm_2025.tsv.gz", "icd10cm_2025.tsv.gz")
gz_copy("icd10cm/icd10cm_2027_reconstructed.tsv", "icd10cm_2027_reconstructed.tsv.gz")
gz_copy("icd10pcs/icd10pcs_2026.tsv", "icd10pcs_2026.tsv.gz")
gz_copy("hcpcs/hcpcs_2025_oct.tsv", "hcpcs_2025_oct.tsv.gz")
gz_copy("gems/2018_I9gem.txt", "gem_2018_i9_to_i10.txt.gz")
gz_copy("gems/2018_I10gem.txt", "gem_2018_i10_to_i9.txt.gz")
gz_copy("icd10cm/derived/icd10cm_index_2025_flattened.csv", "icd10cm_index_2025_flattened.csv.gz")


def clean(s):
    return " ".join((s or "").split())


# Tabular notes: code \t kind \t text, in document order.
NOTE_KINDS = ["inclusionTerm", "includes", "excludes1", "excludes2", "codeFirst",
              "useAdditionalCode", "codeAlso", "notes"]
tab = ET.parse(src / "icd10cm/xml/fy2021/icd10cm_tabular_2021.xml").getroot()
rows = []


def walk_diag(d, inherited7):
    code = d.findtext("name")
    for kind in NOTE_KINDS:
        for el in d.findall(kind):
            for n in el.findall("note"):
                rows.append((code, kind, clean("".join(n.itertext()))))
    s7 = d.find("sevenChrDef")
    if s7 is not None:
        for ext in s7.findall("extension"):
            rows.append((code, "sevenChr", ext.get("char") + "=" + clean(ext.text)))
    for child in d.findall("diag"):
        walk_diag(child, inherited7)


for chapter in tab.findall("chapter"):
    for section in chapter.findall("section"):
        for d in section.findall("diag"):
            walk_diag(d, None)
with gzip.open(dst / "icd10cm_tabular_notes_2021.tsv.gz", "wt", encoding="utf-8", compresslevel=9) as g:
    g.write("code\tkind\ttext\n")
    for r in rows:
        g.write("\t".join(r) + "\n")

# FY2017 Index, complete: level \t title \t nemod \t code \t manif \t see \t seealso,
# one row per mainTerm/term in document order (level 0 = main term).
idx = ET.parse(src / "icd10cm/xml/fy2017/icd10cm_index_2017.xml").getroot()
out_rows = []


def walk_term(t, level):
    title = t.find("title")
    nemod = ""
    text = ""
    if title is not None:
        text = clean(title.text or "")
        nemod = " ".join(clean("".join(n.itertext())) for n in title.findall("nemod"))
        # Text after a nemod (rare) belongs to the title.
        for n in title.findall("nemod"):
            if n.tail and n.tail.strip():
                text = clean(text + " " + n.tail)
    code = clean(t.findtext("code") or "")
    if not code and t.find("subcat") is not None:
        code = clean(t.findtext("subcat") or "")
    manif = ",".join(clean(m.text) for m in t.findall("manif"))
    see = clean(t.findtext("see") or "")
    see_also = clean(t.findtext("seeAlso") or "")
    out_rows.append((str(level), text, nemod, code, manif, see, see_also))
    for sub in t.findall("term"):
        walk_term(sub, level + 1)


for letter in idx.findall("letter"):
    for mt in letter.findall("mainTerm"):
        walk_term(mt, 0)
with gzip.open(dst / "icd10cm_index_2017.tsv.gz", "wt", encoding="utf-8", compresslevel=9) as g:
    g.write("level\ttitle\tnemod\tcode\tmanif\tsee\tseealso\n")
    for r in out_rows:
        g.write("\t".join(r) + "\n")
print("notes", len(rows), "index rows", len(out_rows))
