import { describe, expect, it } from 'vitest';
import { compileJsonPath } from '../../../src/core/json/path.ts';
import {
  type InputSummary,
  type MergeOptions,
  mergeGroup,
  mergeInput,
} from '../../../src/core/merge/merger.ts';
import { framedRecords, type RecordHandler } from '../../../src/core/records/types.ts';
import { readerFor, type ShardIndex } from '../../../src/core/shard/sharder.ts';
import { jsonLines } from '../../support/memory.ts';
import { RecordingObjects } from '../../support/recording.ts';
import {
  type ErrorRowSeen,
  linesOf,
  type ShardSettings,
  shardName,
  shardOptions,
  shardToMemory,
} from '../../support/shards.ts';

const OUT = 'results/in.out';
const ERRORS = 'work/merge-errors.jsonl';

/**
 * The index of input `in` whose shards hold these many records, in this framing, with the record
 * numbers the Shard step quarantined among them.
 */
function indexOf(
  shardRecords: readonly number[],
  { quarantined = [], format = 'instances' }: { quarantined?: number[]; format?: ShardIndex['format'] } = {},
): ShardIndex {
  const sentTotal = shardRecords.reduce((sum, n) => sum + n, 0);
  const total = sentTotal + quarantined.length;
  const sent = Array.from({ length: total }, (_, k) => k + 1).filter((n) => !quarantined.includes(n));
  let next = 0;
  const shards = shardRecords.map((records, shard) => {
    const entry = { shard, firstRecord: sent[next] ?? 0, records, bytes: 10 * records };
    next += records;
    return entry;
  });
  const records = { in: total, skipped: 0, errors: quarantined.length, sent: sentTotal };
  return { input: 'in', format, shards, records, quarantined };
}

/** Memory objects holding each shard's transform output (one response a line) and the input. */
function prepare(shardResponses: readonly (readonly string[])[], input?: string): RecordingObjects {
  const objects = new RecordingObjects();
  shardResponses.forEach((responses, shard) => {
    objects.objects.set(`${shardName(shard)}.out`, Buffer.from(linesOf(...responses)));
  });
  if (input !== undefined) objects.objects.set('inbox/in', Buffer.from(input));
  return objects;
}

/** Merges; `reading` says how the input is read again for a join. */
async function merge(
  objects: RecordingObjects,
  index: ShardIndex,
  { reading, ...options }: Partial<MergeOptions> & { reading?: ShardSettings } = {},
): Promise<InputSummary> {
  return mergeInput(
    index,
    {
      shardOutput: (shard) => objects.source(`${shardName(shard)}.out`, [7]),
      ...(reading && {
        inputRecords: (handler: RecordHandler) =>
          framedRecords(objects.source('inbox/in', [5]), readerFor(shardOptions(reading), handler)),
      }),
    },
    { tfsMethod: 'predict', joinSource: 'None', ...options },
    { out: await objects.sink(OUT), errors: await objects.sink(ERRORS) },
  );
}

const joinJsonLines = {
  joinSource: 'Input',
  reading: { splitType: 'Line', decoding: 'json' },
} as const;

const summary = (records: number, out: number, errors: number): InputSummary => ({
  key: 'in',
  records,
  out,
  errors,
  skipped: 0,
});

describe('mergeInput', () => {
  it('writes one line per record, in input order, across shards and responses', async () => {
    // Prepare: compact lists, spaced numbers, and mixed values, split over several responses.
    const objects = prepare([
      ['{"predictions":[[0.1,0.9],[0.2,0.8]]}', '{"predictions":[[0.3,0.7]]}'],
      ['{"predictions": [1, 2]}', '{"predictions":[3]}'],
      ['{ "predictions" : [ {"label": "b", "p": [1]} , "x" ] }'],
    ]);
    // Act
    const result = await merge(objects, indexOf([3, 3, 2]));
    // Assess
    expect(objects.text(OUT)).toBe(
      '[0.1,0.9]\n[0.2,0.8]\n[0.3,0.7]\n1\n2\n3\n{"label": "b", "p": [1]}\n"x"\n',
    );
    expect(result).toEqual(summary(8, 8, 0));
    expect(objects.ended(OUT)).toEqual(['closed']);
    expect(objects.text(ERRORS)).toBe('');
  });

  it('takes each response line whole as the output of a record kept in its own framing', async () => {
    const objects = prepare([['{"predictions":[0.5]}', '{"predictions":[0.25]}'], ['{"predictions":[1]}']]);

    const result = await merge(objects, indexOf([2, 1], { format: 'original' }));

    expect(objects.text(OUT)).toBe('{"predictions":[0.5]}\n{"predictions":[0.25]}\n{"predictions":[1]}\n');
    expect(result).toEqual(summary(3, 3, 0));
  });

  it.each([
    [
      'classify',
      '{"results": [[["cat", 0.9], ["dog", 0.1]], [["cat", 0.2], ["dog", 0.8]]]}',
      '[["cat", 0.9], ["dog", 0.1]]\n[["cat", 0.2], ["dog", 0.8]]\n',
    ],
    ['regress', '{"results":[0.5,1.5e2,-3]}', '0.5\n1.5e2\n-3\n'],
  ] as const)('splits the results of %s into one line per record', async (tfsMethod, response, expected) => {
    const objects = prepare([[response]]);

    await merge(objects, indexOf([expected.split('\n').length - 1]), { tfsMethod });

    expect(objects.text(OUT)).toBe(expected);
  });

  describe('when a shard has another number of outputs than records', () => {
    const fewer = /^shard 1 of in: 1 outputs for 2 records$/;
    const more = /^shard 1 of in: more outputs than its 2 records/;
    const filtered = { outputFilter: compileJsonPath('$') };
    it.each([
      ['fewer, without join', ['{"predictions":[1]}'], {}, fewer],
      ['more, without join', ['{"predictions":[1,2,3]}'], {}, more],
      ['fewer, filtered', ['{"predictions":[1]}'], filtered, fewer],
      ['more, filtered', ['{"predictions":[1]}', '{"predictions":[2,3]}'], filtered, more],
      ['fewer, joined', ['{"predictions":[1]}'], joinJsonLines, fewer],
      ['more, joined', ['{"predictions":[1,2,3]}'], joinJsonLines, more],
    ] as const)(
      'fails naming the shard and the input, and writes nothing (%s)',
      async (_, second, options, message) => {
        // Prepare: shard 0 answers its two records; shard 1 does not.
        const objects = prepare([['{"predictions":[0,0]}'], second], '1\n2\n3\n4\n');
        // Act
        const merging = merge(objects, indexOf([2, 2]), options);
        // Assess
        await expect(merging).rejects.toMatchObject({
          name: 'PredictionCountError',
          message: expect.stringMatching(message),
        });
        expect(objects.ended(OUT)).toEqual(['aborted']);
        expect(objects.ended(ERRORS)).toEqual(['aborted']);
        expect(objects.objects.has(OUT)).toBe(false);
        expect(objects.objects.has(ERRORS)).toBe(false);
      },
    );
  });

  it('skips the records the Shard step quarantined when pairing outputs with the input', async () => {
    // Prepare: records 2 and 4 never reached the model; the outputs belong to records 1, 3 and 5.
    const input = '{"id":1,"f":[1]}\n{broken\n{"id":3,"f":[3]}\n{"id":4}\n{"id":5,"f":[5]}\n';
    const objects = prepare([['{"predictions":[[0.1],[0.3]]}'], ['{"predictions":[[0.5]]}']], input);
    const index = indexOf([2, 1], { quarantined: [2, 4] });
    // Act
    const result = await merge(objects, index, joinJsonLines);
    // Assess
    expect(objects.text(OUT)).toBe(
      linesOf(
        '{"id":1,"f":[1],"SageMakerOutput":[0.1]}',
        '{"id":3,"f":[3],"SageMakerOutput":[0.3]}',
        '{"id":5,"f":[5],"SageMakerOutput":[0.5]}',
      ),
    );
    expect(result).toEqual(summary(5, 3, 2));
  });

  it('joins values that are not objects as SageMakerInput and SageMakerOutput', async () => {
    const objects = prepare([['{"predictions":[1,[2],{"c":3},null]}']], '{ "a": 0 }\r\n[1, 2]\n"text"\n7\n');

    await merge(objects, indexOf([4]), joinJsonLines);

    expect(objects.text(OUT)).toBe(
      linesOf(
        '{ "a": 0,"SageMakerOutput":1}',
        '{"SageMakerInput":[1, 2],"SageMakerOutput":[2]}',
        '{"SageMakerInput":"text","SageMakerOutput":{"c":3}}',
        '{"SageMakerInput":7,"SageMakerOutput":null}',
      ),
    );
  });

  it('joins CSV rows as CSV, the prediction appended as columns', async () => {
    const objects = prepare([['{"predictions":[[0.5],[0.25, 0.75]]}']], '1,"a,b"\r\n2,"say ""hi"""\n');

    await merge(objects, indexOf([2]), {
      joinSource: 'Input',
      csvInput: true,
      reading: { splitType: 'Line', decoding: 'csv' },
    });

    expect(objects.text(OUT)).toBe('1,"a,b",0.5\n2,"say ""hi""",0.25,0.75\n');
  });

  it('quarantines an output the output filter does not match, and counts it as an error', async () => {
    // Prepare: record 2 was quarantined when sharding; the second output (record 3) is not an object.
    const objects = prepare([
      ['{"predictions":[{"id":1,"SageMakerOutput":0.9,"debug":[1]},[0.1],{"SageMakerOutput":0.2,"id":4}]}'],
    ]);
    // Act
    const result = await merge(objects, indexOf([3], { quarantined: [2] }), {
      outputFilter: compileJsonPath("$['id','SageMakerOutput']"),
    });
    // Assess
    expect(objects.text(OUT)).toBe('{"id":1,"SageMakerOutput":0.9}\n{"id":4,"SageMakerOutput":0.2}\n');
    expect(jsonLines(objects.text(ERRORS))).toEqual([
      {
        input: 'in',
        record: 3,
        reason: expect.stringMatching(/^outputFilter \$\['id','SageMakerOutput'\]: .*not an object/),
        raw: '[0.1]',
        size: 5,
      } satisfies ErrorRowSeen,
    ]);
    expect(result).toEqual(summary(4, 2, 2));
  });

  it('fails naming the counts when records in are not records out plus records in error', async () => {
    const objects = prepare([['{"predictions":[1,2]}']]);
    const index = indexOf([2]);

    const merging = merge(objects, { ...index, records: { ...index.records, in: 3 } });

    await expect(merging).rejects.toMatchObject({
      name: 'CountMismatchError',
      message: 'in: 3 records in, 2 out and 0 in error do not add up',
    });
    expect(objects.objects.has(OUT)).toBe(false);
  });

  it.each([
    ['not JSON at all', 'upstream timed out'],
    ['a missing closing brace', '{"predictions":[1,2]'],
    ['an extra closing bracket', '{"predictions":[1,2]]}'],
    ['text after the document', '{"predictions":[1,2]} trailing'],
    ['a member without a value', '{"predictions":[{"a":1},{"a":}]}'],
  ])('fails on a response line with %s, and writes nothing', async (_, response) => {
    const objects = prepare([[response]]);

    const merging = merge(objects, indexOf([2]));

    await expect(merging).rejects.toThrow();
    expect(objects.objects.has(OUT)).toBe(false);
    expect(objects.objects.has(ERRORS)).toBe(false);
  });

  it.each([
    ['without join', {}],
    ['filtered', { outputFilter: compileJsonPath('$') }],
    ['joined', joinJsonLines],
  ] as const)(
    'names the shard, the input and the output line of a response that is not JSON (%s)',
    async (_, options) => {
      const objects = prepare(
        [['{"predictions":[0,0]}'], ['{"predictions":[1]}', 'upstream timed out']],
        '1\n2\n3\n4\n',
      );

      const merging = merge(objects, indexOf([2, 2]), options);

      await expect(merging).rejects.toMatchObject({
        name: 'ResponseFormatError',
        message: 'shard 1 of in: output line 2: response is not valid JSON (at byte 1): upstream timed out',
      });
      expect(objects.objects.has(OUT)).toBe(false);
    },
  );

  describe('with the NaN, Infinity and -Infinity that TFS writes for non-finite floats', () => {
    const csvJoin = {
      joinSource: 'Input',
      csvInput: true,
      reading: { splitType: 'Line', decoding: 'csv' },
    } as const;
    it.each([
      ['numbers', '{"predictions":[NaN,1.5,-Infinity,Infinity]}', {}, 'NaN\n1.5\n-Infinity\nInfinity\n'],
      ['lists', '{"predictions":[[0.5,NaN],[-Infinity,Infinity]]}', {}, '[0.5,NaN]\n[-Infinity,Infinity]\n'],
      ['spaced lists', '{"predictions": [[0.5, NaN], [-Infinity]]}', {}, '[0.5, NaN]\n[-Infinity]\n'],
      ['lists of lists', '{"predictions":[[[NaN,1]],[[2,-Infinity]]]}', {}, '[[NaN,1]]\n[[2,-Infinity]]\n'],
      [
        'objects',
        '{"predictions":[{"p":NaN,"c":[Infinity]},{"p":-Infinity,"c":[]}]}',
        {},
        '{"p":NaN,"c":[Infinity]}\n{"p":-Infinity,"c":[]}\n',
      ],
      [
        'classify results',
        '{"results":[[["cat",NaN],["dog",Infinity]],[["cat",0.5],["dog",-Infinity]]]}',
        { tfsMethod: 'classify' },
        '[["cat",NaN],["dog",Infinity]]\n[["cat",0.5],["dog",-Infinity]]\n',
      ],
      ['regress results', '{"results":[NaN,-Infinity]}', { tfsMethod: 'regress' }, 'NaN\n-Infinity\n'],
      [
        'outputs of a multi-output model',
        '{"outputs":{"scores":[[NaN,1],[Infinity,0]],"label":[-Infinity,2]}}',
        {},
        '{"scores":[NaN,1],"label":-Infinity}\n{"scores":[Infinity,0],"label":2}\n',
      ],
      [
        'filtered outputs',
        '{"predictions":[[1,NaN],[2,Infinity]]}',
        { outputFilter: compileJsonPath('$[1]') },
        'NaN\nInfinity\n',
      ],
      [
        'outputs joined to JSON records',
        '{"predictions":[NaN,[-Infinity]]}',
        joinJsonLines,
        '{"id":1,"SageMakerOutput":NaN}\n{"id":2,"SageMakerOutput":[-Infinity]}\n',
      ],
      [
        'outputs joined to CSV rows',
        '{"predictions":[[NaN,0.5],[Infinity]]}',
        csvJoin,
        '1,NaN,0.5\n2,Infinity\n',
      ],
    ] as const)('merges %s as written', async (_, response, options, expected) => {
      const records = expected.split('\n').length - 1;
      const input = Array.from({ length: records }, (_, k) =>
        'csvInput' in options ? `${k + 1}` : `{"id":${k + 1}}`,
      );
      const objects = prepare([[response]], linesOf(...input));

      const result = await merge(objects, indexOf([records]), options);

      expect(objects.text(OUT)).toBe(expected);
      expect(result).toEqual(summary(records, records, 0));
    });

    it.each(
      ['Nan', 'nan', 'Inf', '+Infinity', '-NaN', 'NaNx'].flatMap((word) => [
        [word, `{"predictions":[1,${word}]}`],
        [word, `{"predictions":[[0.5],[0.5,${word}]]}`],
        [word, `{"predictions":[{"p":${word}},{"p":1}]}`],
      ]),
    )('fails on %s in %s, and writes nothing', async (_, response) => {
      const objects = prepare([[response]]);

      const merging = merge(objects, indexOf([2]));

      await expect(merging).rejects.toMatchObject({
        name: 'ResponseFormatError',
        message: expect.stringMatching(
          /^shard 0 of in: output line 1: response is not valid JSON \(at byte \d+\)/,
        ),
      });
      expect(objects.objects.has(OUT)).toBe(false);
    });

    it('still quarantines an input record that holds one, as invalid JSON', async () => {
      // Prepare: records 2 and 3 hold non-finite numbers; the model answers NaN for record 1.
      const input = '{"f":[1,2]}\n{"f":[NaN,1]}\n{"f":[3,-Infinity]}\n{"f":[4,5]}\n';
      const sharded = await shardToMemory(Buffer.from(input), {
        splitType: 'Line',
        decoding: 'json',
        inputFilter: '$.f',
      });
      const objects = prepare([['{"predictions":[[NaN],[0.5]]}']], input);
      // Act
      const result = await merge(objects, sharded.index, joinJsonLines);
      // Assess
      expect(sharded.shards.map((shard) => shard.toString())).toEqual([linesOf('[1,2]', '[4,5]')]);
      expect(sharded.errors).toEqual([
        {
          input: 'in',
          record: 2,
          line: 2,
          reason: 'invalid JSON at column 7',
          raw: '{"f":[NaN,1]}',
          size: 13,
        },
        {
          input: 'in',
          record: 3,
          line: 3,
          reason: 'invalid JSON at column 10',
          raw: '{"f":[3,-Infinity]}',
          size: 19,
        },
      ] satisfies ErrorRowSeen[]);
      expect(objects.text(OUT)).toBe(
        linesOf('{"f":[1,2],"SageMakerOutput":[NaN]}', '{"f":[4,5],"SageMakerOutput":[0.5]}'),
      );
      expect(result).toEqual(summary(4, 2, 2));
    });
  });

  it('writes an empty output for an input none of whose records was sent', async () => {
    const objects = prepare([], '{bad\n{bad\n');
    const index = indexOf([], { quarantined: [1, 2] });

    const alone = await merge(objects, index);
    const joined = await merge(objects, index, joinJsonLines);

    expect(alone).toEqual(summary(2, 0, 2));
    expect(joined).toEqual(summary(2, 0, 2));
    expect(objects.text(OUT)).toBe('');
    expect(objects.ended(OUT)).toEqual(['closed']);
  });
});

describe('mergeGroup', () => {
  // Three inputs in two shared shards: shard 0 holds a's two records and b's first, shard 1 b's other two
  // and c's one sent record (c's first was quarantined). Requests span inputs, as MultiRecord packs them.
  const inputIndex = (input: string, shards: [number, number][], quarantined: number[] = []): ShardIndex => {
    const sent = shards.reduce((sum, [, records]) => sum + records, 0);
    return {
      input,
      format: 'instances',
      shards: shards.map(([shard, records]) => ({ shard, firstRecord: 1, records, bytes: records })),
      records: { in: sent + quarantined.length, skipped: 0, errors: quarantined.length, sent },
      quarantined,
    };
  };
  const group = {
    format: 'instances' as const,
    shards: [
      { shard: 0, records: 3 },
      { shard: 1, records: 3 },
    ],
    inputs: [
      inputIndex('a', [[0, 2]]),
      inputIndex('b', [
        [0, 1],
        [1, 2],
      ]),
      inputIndex('c', [[1, 1]], [1]),
    ],
  };

  async function mergeShared(objects: RecordingObjects, options: Partial<MergeOptions> = {}) {
    return mergeGroup(
      group,
      'group 0',
      { shardOutput: (shard) => objects.source(`${shardName(shard)}.out`, [7]) },
      { tfsMethod: 'predict', joinSource: 'None', ...options },
      { out: (input) => objects.sink(`${input.input}.out`), errors: await objects.sink(ERRORS) },
    );
  }

  it('hands each input its own outputs, in order, whatever requests and shards they came in', async () => {
    const objects = prepare([['{"predictions":[1,2,3]}'], ['{"predictions":[4]}', '{"predictions":[5,6]}']]);

    const summaries = await mergeShared(objects);

    expect(objects.text('a.out')).toBe(linesOf('1', '2'));
    expect(objects.text('b.out')).toBe(linesOf('3', '4', '5'));
    expect(objects.text('c.out')).toBe(linesOf('6'));
    expect(summaries.map(({ key, records, out, errors }) => [key, records, out, errors])).toEqual([
      ['a', 2, 2, 0],
      ['b', 3, 3, 0],
      ['c', 2, 1, 1],
    ]);
    expect(objects.ended(ERRORS)).toEqual(['closed']);
  });

  it('quarantines by the output filter per input, naming the input and its record number', async () => {
    const objects = prepare([
      ['{"predictions":[{"y":1},2,{"y":3}]}'],
      ['{"predictions":[{"y":4},{"y":5},6]}'],
    ]);

    await mergeShared(objects, { outputFilter: compileJsonPath('$.y') });

    expect(objects.text('a.out')).toBe(linesOf('1'));
    expect(objects.text('b.out')).toBe(linesOf('3', '4', '5'));
    expect(objects.text('c.out')).toBe('');
    expect(jsonLines(objects.text(ERRORS))).toMatchObject([
      { input: 'a', record: 2 },
      { input: 'c', record: 2 },
    ]);
  });

  it('fails, writing no errors, when the shared shards hold more or fewer outputs than records', async () => {
    const fewer = prepare([['{"predictions":[1,2,3]}'], ['{"predictions":[4,5]}']]);
    await expect(mergeShared(fewer)).rejects.toMatchObject({ name: 'PredictionCountError' });
    expect(fewer.ended(ERRORS)).toContain('aborted');
    const more = prepare([['{"predictions":[1,2,3]}'], ['{"predictions":[4,5,6,7]}']]);
    await expect(mergeShared(more)).rejects.toMatchObject({ name: 'PredictionCountError' });
  });
});
