import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { halfPlusThreeRoot } from '../../support/half-plus-three.ts';
import { pipelineServe, type ServeProcess } from '../../support/serve.ts';

/**
 * TensorFlow Serving's REST API cases (its REST API guide and its handler tests), replayed against
 * `pipeline serve` with half_plus_three as an ONNX file of no declared input shape, in the zero-padded
 * version folders of the SageMaker TFS container's tests.
 */
let root: string;
let serve: ServeProcess;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tf-serving-rest-'));
  await halfPlusThreeRoot(join(root, 'model'));
  serve = await pipelineServe(['--model', join(root, 'model', 'half_plus_three')]);
}, 120_000);

afterAll(async () => {
  await serve?.stop();
  await rm(root, { recursive: true, force: true });
});

async function call(path: string, body?: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${serve.url}${path}`, body === undefined ? {} : { method: 'POST', body });
  return { status: response.status, body: await response.json() };
}

const available = (version: string) => ({
  version,
  state: 'AVAILABLE',
  status: { error_code: 'OK', error_message: '' },
});

describe('TF Serving REST API against pipeline serve', () => {
  it('reports every version available, leading zeros dropped', async () => {
    expect(await call('/v1/models/half_plus_three')).toEqual({
      status: 200,
      body: { model_version_status: [available('124'), available('123')] },
    });
    expect(await call('/v1/models/half_plus_three/versions/123')).toEqual({
      status: 200,
      body: { model_version_status: [available('123')] },
    });
  });

  it('predicts scalars in the row format and in the columnar format', async () => {
    expect(await call('/v1/models/half_plus_three:predict', '{"instances": [1.0, 2.0, 5.0]}')).toEqual({
      status: 200,
      body: { predictions: [3.5, 4.0, 5.5] },
    });
    expect(await call('/v1/models/half_plus_three:predict', '{"inputs": [3.0, 4.0]}')).toEqual({
      status: 200,
      body: { outputs: [4.5, 5.0] },
    });
  });

  it('takes any rank, since the input declares no shape', async () => {
    expect(
      await call(
        '/v1/models/half_plus_three/versions/123:predict',
        '{"instances": [[1.0, 2.0], [3.0, 4.0]]}',
      ),
    ).toEqual({
      status: 200,
      body: {
        predictions: [
          [3.5, 4.0],
          [4.5, 5.0],
        ],
      },
    });
    expect(await call('/v1/models/half_plus_three:predict', '{"inputs": 2.0}')).toEqual({
      status: 200,
      body: { outputs: 4.0 },
    });
  });

  it('serves each version by number, and the signature named explicitly', async () => {
    for (const path of ['/versions/123', '/versions/124', '/versions/00000124']) {
      const body = '{"signature_name": "serving_default", "instances": [3.0, 4.0]}';
      expect(await call(`/v1/models/half_plus_three${path}:predict`, body)).toEqual({
        status: 200,
        body: { predictions: [4.5, 5.0] },
      });
    }
  });

  it('regresses examples', async () => {
    const body = '{"signature_name": "tensorflow/serving/regress", "examples": [{"x": 1.0}, {"x": 2.0}]}';
    expect(await call('/v1/models/half_plus_three:regress', body)).toEqual({
      status: 200,
      body: { results: [3.5, 4.0] },
    });
  });

  it('answers errors with TF Serving texts', async () => {
    const cases: [string, string | undefined, number, string | RegExp][] = [
      [
        '/v1/models/half:predict',
        '{"instances": [1.0, 5.0]}',
        404,
        'Servable not found for request: Latest(half)',
      ],
      [
        '/v1/models/half_plus_three/versions/125:predict',
        '{"instances": [1.0]}',
        404,
        'Servable not found for request: Specific(half_plus_three, 125)',
      ],
      ['/v1/models/half', undefined, 404, 'Could not find any versions of model half'],
      [
        '/v1/models/half_plus_three/versions/7',
        undefined,
        404,
        'Could not find version 7 of model half_plus_three',
      ],
      ['/v1/models/half_plus_three:predict', '', 400, 'JSON Parse error: The document is empty'],
      ['/v1/models/half_plus_three:predict', 'instances = [1, 2]', 400, /^JSON Parse error/],
      ['/v1/models/half_plus_three:predict', '{"instances": ["x", "y"]}', 400, /not of expected type: float/],
      [
        '/v1/models/half_plus_three:predict',
        '{ "signature_name": 100 }',
        400,
        /'signature_name' key must be a string value\./,
      ],
      ['/v1/models/half_plus_three:predict', '{"rows": [1]}', 400, "Missing 'inputs' or 'instances' key"],
    ];
    for (const [path, body, status, message] of cases) {
      const reply = await call(path, body);
      expect(reply.status).toBe(status);
      expect((reply.body as { error: string }).error).toMatch(message);
    }
  });

  it('describes the input as of unknown rank in the metadata', async () => {
    const reply = await call('/v1/models/half_plus_three/metadata');
    expect(reply.body).toMatchObject({
      model_spec: { name: 'half_plus_three', version: '124' },
      metadata: {
        signature_def: {
          signature_def: {
            serving_default: {
              inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [], unknown_rank: true }, name: 'x' } },
            },
          },
        },
      },
    });
  });
});
