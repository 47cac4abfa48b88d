#!/usr/bin/env node
// Reads an 837P interchange with node-x12 (an X12 parser Courier did not write) and checks
// it against an expectation file, so that Courier's own structure checker is not the only
// judge of its output.
//
// usage: node check_837p.js FILE.x12 EXPECT.json
// EXPECT.json: {"claims": [{"id", "total", "place_of_service", "diagnoses": ["E119", ...],
//               "lines": [{"procedure": "HC:J1885:JZ", "charge", "units", "pointers": "1:2",
//               "date"}]}]}
// Exit 0 when every check holds; otherwise each failure is printed and the exit is 1.
'use strict';
const fs = require('fs');
const { X12Parser } = require('node-x12');

const [file, expectFile] = process.argv.slice(2);
if (!file || !expectFile) {
  console.error('usage: node check_837p.js FILE.x12 EXPECT.json');
  process.exit(2);
}
const expected = JSON.parse(fs.readFileSync(expectFile, 'utf8'));
const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
}
const values = (seg) => seg.elements.map((e) => e.value);
const num = (s) => Number(s);

let interchange;
try {
  // strict: the parser itself rejects a malformed envelope.
  interchange = new X12Parser(true).parse(fs.readFileSync(file, 'utf8'));
} catch (e) {
  console.error(`FAIL ${file}: node-x12 could not parse it: ${e.message}`);
  process.exit(1);
}

const isa = values(interchange.header);
check(isa.length === 16, `ISA has ${isa.length} elements, not 16`);
check(isa[10] === '^' && isa[15] === ':', 'ISA11/ISA16 are not the repetition ^ and component : separators');
check(interchange.elementDelimiter === '*' && interchange.segmentTerminator === '~', 'delimiters are not * and ~');
const iea = values(interchange.trailer);
check(num(iea[0]) === interchange.functionalGroups.length, 'IEA01 does not count the groups');
check(num(iea[1]) === num(isa[12]), 'IEA02 does not match ISA13');

const claims = [];
for (const group of interchange.functionalGroups) {
  const gs = values(group.header);
  const ge = values(group.trailer);
  check(gs[0] === 'HC' && gs[7] === '005010X222A1', 'GS is not HC / 005010X222A1');
  check(num(ge[0]) === group.transactions.length, 'GE01 does not count the transaction sets');
  check(num(ge[1]) === num(gs[5]), 'GE02 does not match GS06');
  for (const txn of group.transactions) {
    const st = values(txn.header);
    const se = values(txn.trailer);
    const where = `ST ${st[1]}`;
    check(st[0] === '837' && st[2] === '005010X222A1', `${where}: ST is not 837 / 005010X222A1`);
    check(num(se[0]) === txn.segments.length + 2, `${where}: SE01 ${se[0]} does not count ST..SE (${txn.segments.length + 2})`);
    check(se[1] === st[1], `${where}: SE02 does not match ST02`);
    const tags = txn.segments.map((s) => s.tag);
    check(tags[0] === 'BHT', `${where}: BHT does not follow ST`);
    const bht = values(txn.segments[0]);
    check(bht[0] === '0019' && bht[1] === '00' && bht[5] === 'CH', `${where}: BHT is not 0019/00/CH`);
    // Loops, in order: 1000A, 1000B, 2000A (HL 20), 2000B (HL 22) under it, then the claim.
    const nm1 = txn.segments.filter((s) => s.tag === 'NM1').map((s) => values(s)[0]);
    check(JSON.stringify(nm1) === JSON.stringify(['41', '40', '85', 'IL', 'PR']),
      `${where}: NM1 loops are ${nm1.join(',')}, not 41,40,85,IL,PR`);
    const hls = txn.segments.filter((s) => s.tag === 'HL').map(values);
    const ids = new Set();
    for (const hl of hls) {
      check(hl[1] === '' || ids.has(hl[1]), `${where}: HL ${hl[0]} names parent ${hl[1]} that comes nowhere before`);
      ids.add(hl[0]);
      const hasChildren = hls.some((h) => h[1] === hl[0]);
      check((hl[3] === '1') === hasChildren, `${where}: HL ${hl[0]} HL04 is wrong`);
    }
    check(hls.length === 2 && hls[0][2] === '20' && hls[1][2] === '22' && hls[1][1] === hls[0][0],
      `${where}: HL loops are not billing provider (20) then subscriber (22) under it`);
    const sbr = txn.segments.find((s) => s.tag === 'SBR');
    check(sbr && values(sbr)[0] === 'P' && values(sbr)[1] === '18' && values(sbr)[8] === 'CI',
      `${where}: SBR is not P / 18 (self) / CI`);
    let claim = null;
    for (const seg of txn.segments) {
      const v = values(seg);
      if (seg.tag === 'CLM') {
        claim = { id: v[0], total: v[1], place_of_service: v[4].split(':')[0], diagnoses: [], lines: [] };
        check(v[4].split(':')[1] === 'B' && v[4].split(':')[2] === '1', `${where}: CLM05 is not <pos>:B:1`);
        check(v[0].length <= 38, `${where}: CLM01 is longer than 38`);
        claims.push(claim);
      } else if (seg.tag === 'HI' && claim) {
        v.filter((x) => x !== '').forEach((x, i) => {
          const [qual, code] = x.split(':');
          check(qual === (i === 0 ? 'ABK' : 'ABF'), `${where}: HI${i + 1} qualifier ${qual}`);
          claim.diagnoses.push(code);
        });
      } else if (seg.tag === 'LX' && claim) {
        check(num(v[0]) === claim.lines.length + 1, `${where}: LX ${v[0]} out of sequence`);
        claim.lines.push({});
      } else if (seg.tag === 'SV1' && claim) {
        const line = claim.lines[claim.lines.length - 1];
        check(v[2] === 'UN', `${where}: SV103 is not UN`);
        Object.assign(line, { procedure: v[0], charge: v[1], units: v[3], pointers: v[6] });
        for (const p of v[6].split(':')) {
          check(num(p) >= 1 && num(p) <= claim.diagnoses.length, `${where}: SV107 pointer ${p} names no diagnosis`);
        }
      } else if (seg.tag === 'DTP' && v[0] === '472' && claim) {
        claim.lines[claim.lines.length - 1].date = v[2];
      }
    }
    if (claim) {
      const sum = claim.lines.reduce((a, l) => a + Math.round(num(l.charge) * 100), 0);
      check(sum === Math.round(num(claim.total) * 100), `${where}: CLM02 ${claim.total} is not the sum of SV102`);
    } else {
      check(false, `${where}: no CLM`);
    }
  }
}

check(JSON.stringify(claims) === JSON.stringify(expected.claims),
  `claims read:\n${JSON.stringify(claims, null, 1)}\nexpected:\n${JSON.stringify(expected.claims, null, 1)}`);

for (const f of failures) console.error(`FAIL ${file}: ${f}`);
console.log(`${file}: ${claims.length} claims, ${failures.length} failures`);
process.exit(failures.length ? 1 : 0);
