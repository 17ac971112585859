/**
 * Test and bench support: writes an ADT import file (NDJSON: Header, Models, Twins, Relationships)
 * of `twins` rooms in buildings and `relationships` links between them, streamed to disk, with
 * optional bad lines of every kind at known places. Returns what a correct import must end with.
 */
import fs from 'node:fs';

export const ROOM = 'dtmi:test:import:Room;1';
export const BUILDING = 'dtmi:test:import:Building;1';

export const IMPORT_MODELS = [
  {
    '@context': 'dtmi:dtdl:context;3',
    '@id': ROOM,
    '@type': 'Interface',
    contents: [
      { '@type': 'Property', name: 'temperature', schema: 'double' },
      { '@type': 'Property', name: 'label', schema: 'string' },
      {
        '@type': 'Relationship',
        name: 'next',
        target: ROOM,
        properties: [{ '@type': 'Property', name: 'weight', schema: 'double' }],
      },
    ],
  },
  {
    '@context': 'dtmi:dtdl:context;3',
    '@id': BUILDING,
    '@type': 'Interface',
    contents: [
      { '@type': 'Property', name: 'label', schema: 'string' },
      { '@type': 'Relationship', name: 'has', target: ROOM },
    ],
  },
];

/** The kinds of bad lines `writeImportFile` can add (each once, at a known line). */
export const BAD_KINDS = [
  'malformedJson',
  'badUtf8',
  'unknownModel',
  'invalidTwin',
  'duplicateTwin',
  'protoKey',
  'deepJson',
  'hugeLine',
  'missingTarget',
  'duplicateRelationship',
  'relationshipWithoutId',
  'sectionOutOfOrder',
] as const;
export type BadKind = (typeof BAD_KINDS)[number];

export interface ImportFileSpec {
  twins: number;
  relationships: number;
  /** Bad lines to add (default none). */
  bad?: readonly BadKind[];
  /** Bytes of the huge line (default 5 MiB). */
  hugeLineBytes?: number;
}

export interface ImportFileFacts {
  lines: number;
  bytes: number;
  twins: number;
  relationships: number;
  /** Line number → the kind of bad line written there (each must show up in the output log). */
  badLines: Map<number, BadKind>;
}

export function roomId(i: number): string {
  return `room-${i}`;
}

/** Writes the file; memory stays small whatever its size (lines are written in chunks). */
export async function writeImportFile(file: string, spec: ImportFileSpec): Promise<ImportFileFacts> {
  const out = fs.createWriteStream(file);
  const bad = new Set(spec.bad ?? []);
  const badLines = new Map<number, BadKind>();
  let line = 0;
  let bytes = 0;
  let buffer: (string | Buffer)[] = [];
  let buffered = 0;
  const flush = async () => {
    if (!buffer.length) return;
    const chunk = Buffer.concat(buffer.map((b) => (typeof b === 'string' ? Buffer.from(b) : b)));
    buffer = [];
    buffered = 0;
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  };
  const put = async (text: string | Buffer, kind?: BadKind) => {
    line++;
    if (kind) badLines.set(line, kind);
    const b = typeof text === 'string' ? Buffer.from(`${text}\n`) : Buffer.concat([text, Buffer.from('\n')]);
    bytes += b.length;
    buffer.push(b);
    buffered += b.length;
    if (buffered > 1 << 20) await flush();
  };
  const twin = (i: number) =>
    JSON.stringify({
      $dtId: roomId(i),
      $metadata: { $model: ROOM },
      temperature: 20 + (i % 10),
      label: `Room ${i}`,
    });

  await put('{"Section": "Header"}');
  await put(JSON.stringify({ fileVersion: '1.0.0', author: 'twinloop tests', organization: 'twinloop' }));
  await put('{"Section": "Models"}');
  for (const m of IMPORT_MODELS) await put(JSON.stringify(m));
  await put('{"Section": "Twins"}');
  await put(JSON.stringify({ $dtId: 'building-1', $metadata: { $model: BUILDING }, label: 'HQ' }));
  const badTwinsAt = Math.floor(spec.twins / 2);
  for (let i = 0; i < spec.twins; i++) {
    await put(twin(i));
    if (i !== badTwinsAt) continue;
    if (bad.has('malformedJson')) await put('{"$dtId": "broken", "$metadata": {"$model": ', 'malformedJson');
    if (bad.has('badUtf8'))
      await put(
        Buffer.concat([
          Buffer.from('{"$dtId": "utf8-'),
          Buffer.from([0xc3, 0x28]),
          Buffer.from(`", "$metadata": {"$model": "${ROOM}"}}`),
        ]),
        'badUtf8',
      );
    if (bad.has('unknownModel'))
      await put(
        JSON.stringify({ $dtId: 'nomodel', $metadata: { $model: 'dtmi:test:import:Nope;1' } }),
        'unknownModel',
      );
    if (bad.has('invalidTwin'))
      await put(
        JSON.stringify({ $dtId: 'invalid', $metadata: { $model: ROOM }, temperature: 'hot' }),
        'invalidTwin',
      );
    if (bad.has('duplicateTwin')) await put(twin(0), 'duplicateTwin');
    if (bad.has('protoKey'))
      await put(
        `{"$dtId": "proto", "$metadata": {"$model": "${ROOM}"}, "__proto__": {"polluted": true}}`,
        'protoKey',
      );
    if (bad.has('deepJson'))
      await put(
        `{"$dtId": "deep", "$metadata": {"$model": "${ROOM}"}, "label": ${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
        'deepJson',
      );
    if (bad.has('hugeLine'))
      await put(`{"$dtId": "huge", "label": "${'x'.repeat(spec.hugeLineBytes ?? 5 << 20)}"}`, 'hugeLine');
  }
  await put('{"Section": "Relationships"}');
  const rel = (i: number) => {
    const s = i % spec.twins;
    const t = (s + 1 + Math.floor(i / spec.twins)) % spec.twins;
    return JSON.stringify({
      $dtId: roomId(s),
      $relationshipId: `r-${i}`,
      $targetId: roomId(t),
      $relationshipName: 'next',
      weight: i % 7,
    });
  };
  const badRelsAt = Math.floor(spec.relationships / 2);
  for (let i = 0; i < spec.relationships; i++) {
    await put(rel(i));
    if (i !== badRelsAt) continue;
    if (bad.has('missingTarget'))
      await put(
        JSON.stringify({
          $dtId: roomId(0),
          $relationshipId: 'to-ghost',
          $targetId: 'ghost',
          $relationshipName: 'next',
        }),
        'missingTarget',
      );
    if (bad.has('duplicateRelationship')) await put(rel(0), 'duplicateRelationship');
    if (bad.has('relationshipWithoutId'))
      await put(
        JSON.stringify({ $dtId: roomId(0), $targetId: roomId(1), $relationshipName: 'next' }),
        'relationshipWithoutId',
      );
  }
  await put(
    JSON.stringify({
      $dtId: 'building-1',
      $relationshipId: 'has-0',
      $targetId: roomId(0),
      $relationshipName: 'has',
    }),
  );
  if (bad.has('sectionOutOfOrder')) {
    await put('{"Section": "Twins"}', 'sectionOutOfOrder');
    // Read in no section: refused, and logged with its own line.
    await put(JSON.stringify({ $dtId: 'late', $metadata: { $model: ROOM } }), 'sectionOutOfOrder');
  }
  await flush();
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  return { lines: line, bytes, twins: spec.twins + 1, relationships: spec.relationships + 1, badLines };
}
