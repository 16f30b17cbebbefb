import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipeline } from '../support/cli.ts';
import { halfPlusThree } from '../support/half-plus-three.ts';
import { pipelineServe } from '../support/serve.ts';

const irisSample = fileURLToPath(new URL('../../samples/models/iris', import.meta.url));

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'package-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function modelFolder(name: string, files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = join(root, name);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

describe('pipeline package', () => {
  it('packages a model and its code into a model.tar.gz that pipeline serve serves as the container would', async () => {
    const dir = await modelFolder('scaler', {
      '00000001/model.onnx': halfPlusThree(),
      '00000001/saved_model.pb': 'the graph for the cloud',
      '2/model.onnx': halfPlusThree(),
    });
    const code = await modelFolder('code', {
      'inference.py': [
        'import json',
        'def input_handler(data, context):',
        '    return json.dumps({"instances": [float(data.read())]})',
        'def output_handler(response, context):',
        '    return str(response.json()["predictions"][0]), "text/plain"',
      ].join('\n'),
    });
    const out = join(root, 'model.tar.gz');

    const packaged = await pipeline('package', dir, '--code', code, '--out', out);

    expect(packaged).toMatchObject({ code: 0, stdout: `${out}\n` });
    expect(packaged.stderr).toContain('Packaged 00000001/, 2/, code/');
    const serve = await pipelineServe(['--model', out]);
    try {
      expect(serve.stderr()).toContain('Serving model (versions 2, 1)');
      const scored = await fetch(`${serve.url}/invocations`, { method: 'POST', body: '4' });
      expect(await scored.text()).toBe('5.0');
      const direct = await fetch(`${serve.url}/v1/models/model/versions/1:predict`, {
        method: 'POST',
        body: '{"instances": [1.0]}',
      });
      expect(await direct.json()).toEqual({ predictions: [3.5] });
    } finally {
      await serve.stop();
    }
  });

  it('packages the bundled iris model as is', async () => {
    const out = join(root, 'iris.tar.gz');
    await cp(irisSample, join(root, 'iris'), { recursive: true });
    expect((await pipeline('package', join(root, 'iris'), '--out', out)).code).toBe(0);
  });

  it('exits 2 naming the rule a model breaks', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ 'notes.txt': '' }, 'has no version folder'],
      [{ '1/readme.md': '' }, 'holds neither saved_model.pb nor model.onnx'],
      [{ '1/model.onnx': '', 'code/requirements.txt': '' }, 'inference.py is missing'],
      [
        { '1/model.onnx': '', 'code/inference.py': 'def handler(:\n' },
        'does not compile under python3: SyntaxError',
      ],
      [
        { '1/model.onnx': '', 'code/inference.py': 'def input_handler(data, context):\n    pass\n' },
        'must define handler(data, context), or both input_handler(data, context) and output_handler',
      ],
    ];
    for (const [index, [files, message]] of cases.entries()) {
      const dir = await modelFolder(`broken-${index}`, files);
      const result = await pipeline('package', dir, '--out', join(root, `broken-${index}.tar.gz`));
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(message);
    }
  });
});

describe('pipeline run --model-url', () => {
  it('needs no model', async () => {
    const serve = await pipelineServe(['--model', irisSample]);
    try {
      const input = join(root, 'flowers.jsonl');
      await writeFile(input, '[5.1, 3.5, 1.4, 0.2]\n[6.7, 3.0, 5.2, 2.3]\n');
      const result = await pipeline(
        'run',
        input,
        '--model-url',
        serve.url,
        '--out',
        join(root, 'out'),
        '--json',
      );
      expect(result.code).toBe(0);
      expect(result.report).toMatchObject({ status: 'Succeeded', records: { in: 2, out: 2, errors: 0 } });
    } finally {
      await serve.stop();
    }
  });
});
