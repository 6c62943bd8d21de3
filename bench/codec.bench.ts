// Which way to hand each caller its own typed copy of a cached value costs least?
// npm run bench:codec
import * as devalue from 'devalue';
import superjson from 'superjson';
import v8 from 'node:v8';
import { Bench } from 'tinybench';
import { costTable, incidentPage } from './support.js';
import { clonePlainData } from '../libs/single-flight/src/value-codec.js';
import { EntrySignature } from '../libs/single-flight/src/entry-signature.js';
import { checkValue, DEFAULT_DECODE_LIMITS } from '../libs/single-flight/src/value-limits.js';

const page = incidentPage();
const encoded = {
  devalue: devalue.stringify(page),
  superjson: JSON.stringify(superjson.serialize(page)),
  json: JSON.stringify(page),
  v8: v8.serialize(page),
};

// The floor for a typed copy: JSON.parse, then revive Dates at paths recorded when encoding.
// (What superjson does, minus its copy; it would be a format of our own to write and keep safe.)
const datePaths = page.items.flatMap((row, i) => (['createdAt', 'resolvedAt'] as const).filter((f) => row[f]).map((f) => [i, f] as const));
const reviveKnownPaths = (text: string) => {
  const value = JSON.parse(text);
  for (const [i, field] of datePaths) value.items[i][field] = new Date(value.items[i][field]);
  return value;
};

const decodedOnce = devalue.parse(encoded.devalue);

const signature = new EntrySignature('a bench secret of 32 characters!');
const signedContent = `tok1|${encoded.devalue}`;
const mac = signature.sign('sf:IncidentsService.list:[{}]', signedContent);
const bench = new Bench({ time: 700, warmupTime: 200 });
bench
  .add('JSON.parse (Dates lost: not an option)', () => JSON.parse(encoded.json))
  .add('JSON.parse + revive known Date paths', () => reviveKnownPaths(encoded.json))
  .add('devalue.parse (the default)', () => devalue.parse(encoded.devalue))
  .add('superjson: JSON.parse + deserialize', () => superjson.deserialize(JSON.parse(encoded.superjson)))
  .add('structuredClone (in process only)', () => structuredClone(page))
  .add('clonePlainData (joiners of one flight)', () => clonePlainData(decodedOnce))
  .add('v8.deserialize (evaluates no code, but not safe on untrusted bytes)', () => v8.deserialize(encoded.v8))
  .add('checkValue: the decode limits (once per decode)', () => checkValue(decodedOnce, DEFAULT_DECODE_LIMITS, true))
  .add('HMAC-SHA256 verification (signed entries: an entry not verified before)', () => signature.verify('sf:IncidentsService.list:[{}]', signedContent, mac))
  .add('devalue.stringify (once per load)', () => devalue.stringify(page))
  .add('superjson stringify (once per load)', () => JSON.stringify(superjson.serialize(page)));
await bench.run();
console.log('\nA typed copy of one 20-row page per caller; baseline: plain JSON.parse');
console.table(costTable(bench));
console.log('encoded sizes (bytes):', Object.fromEntries(Object.entries(encoded).map(([k, v]) => [k, v.length])));
