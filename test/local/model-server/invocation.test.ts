import { describe, expect, it } from 'vitest';
import { RequestError } from '../../../src/local/errors.ts';
import { type BodyKind, readRequest } from '../../../src/local/model-server/invocation.ts';

const read = (kind: BodyKind, body: string) => readRequest(kind, Buffer.from(body));

function failure(run: () => unknown): RequestError {
  try {
    run();
  } catch (error) {
    if (error instanceof RequestError) return error;
  }
  throw new Error('expected a RequestError');
}

describe('JSON bodies of /invocations, as the SageMaker TFS container reads them', () => {
  it('passes a TFS request through as it is', () => {
    expect(read('json', '{"instances": [[1, 2]]}')).toEqual({ instances: [[1, 2]] });
    expect(read('json', '{"signature_name": "serving_default", "inputs": [[1]]}')).toEqual({
      signature_name: 'serving_default',
      inputs: [[1]],
    });
    expect(read('json', '{"examples": [{"x": [1]}]}')).toEqual({ examples: [{ x: [1] }] });
  });

  it('reads JSON Lines as one instance per line, skipping empty lines, LF or CRLF', () => {
    expect(read('json', '[1, 2]\n[3, 4]\r\n\n  [5, 6]  \n')).toEqual({
      instances: [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
    });
    expect(read('json', '{"a": 1}\n{"a": 2}')).toEqual({ instances: [{ a: 1 }, { a: 2 }] });
  });

  it('takes a body of one line as one instance, or as the instances when it is a list of lists', () => {
    expect(read('json', '[1, 2, 3, 4]\n')).toEqual({ instances: [[1, 2, 3, 4]] });
    expect(read('json', '{"features": [1, 2]}')).toEqual({ instances: [{ features: [1, 2] }] });
    expect(read('json', '7')).toEqual({ instances: [7] });
    expect(read('json', '[[1, 2], [3, 4]]')).toEqual({
      instances: [
        [1, 2],
        [3, 4],
      ],
    });
  });

  it('names the line that does not parse', () => {
    const error = failure(() => read('json', '[1, 2]\n\n[3, 4\n[5, 6]'));

    expect(error.status).toBe(400);
    expect(error.message).toMatch(/^JSON Parse error on line 3: /);
  });
});

describe('TFS REST bodies', () => {
  it('are parsed as one JSON document, without the container rules', () => {
    expect(failure(() => read('tfs', '[1, 2]\n[3, 4]')).message).toMatch(/^JSON Parse error/);
    expect(read('tfs', '[[1, 2]]')).toEqual([[1, 2]]);
  });

  it('says when a TFS body is empty or not JSON', () => {
    expect(failure(() => read('tfs', '')).message).toBe('JSON Parse error: The document is empty');
    expect(failure(() => read('tfs', '{"instances": [1,]}')).message).toMatch(/^JSON Parse error: /);
  });
});

describe('CSV bodies of /invocations', () => {
  it('makes one instance per line: a scalar for one column, an array for several', () => {
    expect(read('csv', '5.1,3.5,1.4,0.2\r\n6.7, 3.0 ,5.2,2.3\n\n')).toEqual({
      instances: [
        [5.1, 3.5, 1.4, 0.2],
        [6.7, 3.0, 5.2, 2.3],
      ],
    });
    expect(read('csv', '1\n2.5\n')).toEqual({ instances: [1, 2.5] });
  });

  it('keeps fields that are not numbers as strings, and quoted commas inside their field', () => {
    expect(read('csv', 'red,"a, b",3\n')).toEqual({ instances: [['red', 'a, b', 3]] });
  });

  it('gives no instances for an empty body', () => {
    expect(read('csv', '\n')).toEqual({ instances: [] });
  });
});
