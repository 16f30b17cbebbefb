import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { predictionsAsLines, splitResponse } from '../../../src/core/tfs/codec.ts';
import { listsToLines } from '../../../src/core/tfs/list-lines.ts';

const scores = fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 0, maxLength: 6 });

describe('listsToLines', () => {
  it('puts each flat list on its own line', () => {
    fc.assert(
      fc.property(fc.array(scores, { minLength: 1, maxLength: 60 }), (lists) => {
        const text = lists.map((list) => JSON.stringify(list)).join(',');
        const result = listsToLines(Buffer.from(text), 0, text.length);
        expect(result?.count).toBe(lists.length);
        expect(Buffer.from(result?.lines ?? []).toString()).toBe(
          lists.map((list) => `${JSON.stringify(list)}\n`).join(''),
        );
      }),
    );
  });

  it('refuses nested lists, numbers among lists and spaced separators', () => {
    for (const text of ['[[1]],[2]', '[1],2', '[1], [2]', '[1],[2,[3]]', '1,[2]']) {
      expect(listsToLines(Buffer.from(text), 0, text.length)).toBeUndefined();
    }
  });
});

describe('predictionsAsLines', () => {
  it('agrees with splitting the response record by record, whenever it applies', () => {
    const prediction = fc.oneof(
      scores,
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.array(scores, { maxLength: 2 }),
      fc.string(),
    );
    fc.assert(
      fc.property(fc.array(prediction, { maxLength: 30 }), fc.boolean(), (predictions, pretty) => {
        const response = Buffer.from(JSON.stringify({ predictions }, null, pretty ? 2 : undefined));
        const expected = splitResponse(Buffer.from(response), 0, response.length, 'predict');
        const lines = predictionsAsLines(response);
        if (!lines) return;
        expect(lines.count).toBe(expected.spans.starts.length);
        const text = Buffer.from(lines.lines).toString();
        expect(
          text
            .split('\n')
            .slice(0, -1)
            .map((line) => JSON.parse(line)),
        ).toEqual(predictions.map((p) => JSON.parse(JSON.stringify(p))));
      }),
      { numRuns: 400 },
    );
  });

  it('takes the fast way for compact lists of scores and lists of numbers', () => {
    expect(predictionsAsLines(Buffer.from('{"predictions":[[0.1,0.9],[0.8,0.2]]}'))?.count).toBe(2);
    expect(predictionsAsLines(Buffer.from('{"predictions":[1.5,2.5,3.5]}'))?.count).toBe(3);
    expect(predictionsAsLines(Buffer.from('{"predictions": [[0.1, 0.9], [0.8, 0.2]]}'))).toBeUndefined();
  });
});
