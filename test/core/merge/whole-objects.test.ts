import { describe, expect, it } from 'vitest';
import { mergeObjects, type WholeObject } from '../../../src/core/merge/whole-objects.ts';
import { jsonLines } from '../../support/memory.ts';
import { RecordingObjects } from '../../support/recording.ts';

async function* listed(objects: WholeObject[]): AsyncGenerator<WholeObject> {
  yield* objects;
}

const object = (name: string, request: number, size = 10): WholeObject => ({
  key: `inbox/${name}`,
  name,
  size,
  request,
});

describe('mergeObjects', () => {
  it('writes one line per object in order, the answer parsed when it is JSON, and the others as errors', async () => {
    // Prepare
    const memory = new RecordingObjects();
    memory.objects.set('inbox/a.png.out', Buffer.from('{"label": "stripes"}\n'));
    memory.objects.set('inbox/b.png.out', Buffer.from('plain text answer\r\n'));
    memory.objects.set('inbox/d.png.out', Buffer.from('[1, 2]'));
    const objects = [
      object('a.png', 0),
      object('b.png', 0),
      object('c.png', 1),
      object('d.png', 1),
      object('e.png', 1, 99),
    ];
    // Act
    const summary = await mergeObjects(
      listed(objects),
      {
        answer: async ({ key }) =>
          memory.objects.has(`${key}.out`) ? memory.source(`${key}.out`, [3]) : undefined,
        refused: ({ size }) => (size > 50 ? `object is ${size} bytes, over 50` : undefined),
        missingReason: 'ClientError: c.png: request failed: 400',
      },
      { out: await memory.sink('predictions'), errors: await memory.sink('errors') },
    );
    // Assess
    expect(jsonLines(memory.text('predictions'))).toEqual([
      { input: 'a.png', SageMakerOutput: { label: 'stripes' } },
      { input: 'b.png', SageMakerOutput: 'plain text answer' },
      { input: 'd.png', SageMakerOutput: [1, 2] },
    ]);
    expect(jsonLines(memory.text('errors'))).toEqual([
      { input: 'c.png', record: 1, reason: 'ClientError: c.png: request failed: 400' },
      { input: 'e.png', record: 1, reason: 'object is 99 bytes, over 50' },
    ]);
    expect(summary).toEqual({
      records: 5,
      out: 3,
      errors: 2,
      requests: [
        { request: 0, records: 2, out: 2, errors: 0 },
        { request: 1, records: 3, out: 1, errors: 2 },
      ],
    });
  });

  it('leaves neither file when an answer cannot be read', async () => {
    const memory = new RecordingObjects();
    const failing = async function* (): AsyncGenerator<Buffer> {
      yield Buffer.from('{"a"');
      throw new Error('connection reset');
    };
    await expect(
      mergeObjects(
        listed([object('a.png', 0)]),
        { answer: async () => failing(), refused: () => undefined, missingReason: 'none' },
        { out: await memory.sink('predictions'), errors: await memory.sink('errors') },
      ),
    ).rejects.toThrow('connection reset');
    expect(memory.ended('predictions')).toEqual(['aborted']);
    expect(memory.ended('errors')).toEqual(['aborted']);
  });
});
