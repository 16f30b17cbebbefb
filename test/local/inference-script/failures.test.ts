import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningModelServer, startModelServer } from '../../../src/local/model-server/server.ts';
import { halfPlusThreeRoot } from '../../support/half-plus-three.ts';

/** code/inference.py's failure modes, each as the SageMaker TFS container shows it. */
let root: string;
let count = 0;
const lines: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'inference-failures-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function serve(code: Record<string, string>, environment: NodeJS.ProcessEnv = process.env) {
  const model = await halfPlusThreeRoot(join(root, String(count++)), code);
  return startModelServer({
    model,
    workers: 1,
    environment: { ...environment, SAGEMAKER_GUNICORN_WORKERS: '2' },
    log: (line) => lines.push(line),
  });
}

async function invoke(server: RunningModelServer, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/invocations`, { method: 'POST', body, headers });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

describe('a running script', () => {
  it('answers an exception with 500 {"error": str(e)}, and keeps serving', async () => {
    const server = await serve({
      'inference.py': [
        'def handler(data, context):',
        '    body = data.read()',
        '    if body == b"boom":',
        '        raise KeyError("no such thing")',
        '    return body.upper(), "text/plain"',
      ].join('\n'),
    });
    try {
      expect(await invoke(server, 'boom')).toEqual({
        status: 500,
        type: 'application/json',
        text: '{"error": "\'no such thing\'"}',
      });
      expect(await invoke(server, 'fine')).toEqual({ status: 200, type: 'text/plain', text: 'FINE' });
    } finally {
      await server.close();
    }
  });

  it('gives output_handler a requests.Response, TF Serving errors included, and the context of the request', async () => {
    const server = await serve({
      'inference.py': [
        'import json',
        'def input_handler(data, context):',
        '    return data.read()',
        'def output_handler(response, context):',
        '    answer = {',
        '        "status": response.status_code, "ok": response.ok, "reason": response.reason,',
        '        "type": response.headers["content-type"], "json": response.json(), "text": response.text,',
        '        "context": {k: v for k, v in context._asdict().items() if k != "channel"},',
        '        "fields": list(context._fields),',
        '    }',
        '    print("answered", response.status_code)',
        '    return json.dumps(answer), "application/json"',
      ].join('\n'),
    });
    try {
      const reply = await invoke(server, '{"instances": [2.0]}', {
        'Content-Type': 'application/json',
        'X-Amzn-SageMaker-Custom-Attributes': 'tfs-model-version=123',
      });
      const answer = JSON.parse(reply.text);
      expect(answer).toMatchObject({
        status: 200,
        ok: true,
        reason: 'OK',
        type: 'application/json',
        json: { predictions: [4.0] },
        context: {
          model_name: null,
          model_version: '123',
          method: null,
          rest_uri: `${server.url}/v1/models/half_plus_three/versions/123:predict`,
          custom_attributes: 'tfs-model-version=123',
          request_content_type: 'application/json',
          accept_header: '*/*',
          content_length: 20,
        },
        fields: [
          'model_name',
          'model_version',
          'method',
          'rest_uri',
          'grpc_port',
          'channel',
          'custom_attributes',
          'request_content_type',
          'accept_header',
          'content_length',
        ],
      });
      const missing = JSON.parse(
        (
          await invoke(server, '{"instances": [2.0]}', {
            'X-Amzn-SageMaker-Custom-Attributes': 'tfs-model-name=nope',
          })
        ).text,
      );
      expect(missing).toMatchObject({
        status: 404,
        ok: false,
        json: { error: 'Servable not found for request: Latest(nope)' },
      });
      expect(lines).toContain('answered 200');
    } finally {
      await server.close();
    }
  });

  it('answers 502 when a worker dies mid-request, and a new worker takes the next one', async () => {
    const server = await serve({
      'inference.py': [
        'import os',
        'def handler(data, context):',
        '    if data.read() == b"die":',
        '        os._exit(3)',
        '    return "alive", "text/plain"',
      ].join('\n'),
    });
    try {
      expect((await invoke(server, 'die')).status).toBe(502);
      for (let k = 0; k < 4; k++) expect((await invoke(server, 'again')).text).toBe('alive');
    } finally {
      await server.close();
    }
  });

  it('stops a worker that takes longer than SAGEMAKER_GUNICORN_TIMEOUT_SECONDS: 502 saying so, and the next request is served', async () => {
    const server = await serve(
      {
        'inference.py': [
          'import time',
          'def handler(data, context):',
          '    if data.read() == b"hang":',
          '        time.sleep(3600)',
          '    return "alive", "text/plain"',
        ].join('\n'),
      },
      { ...process.env, SAGEMAKER_GUNICORN_TIMEOUT_SECONDS: '1' },
    );
    try {
      const hung = await invoke(server, 'hang');
      expect(hung.status).toBe(502);
      expect(JSON.parse(hung.text).error).toBe(
        'inference.py took longer than 1 s (SAGEMAKER_GUNICORN_TIMEOUT_SECONDS) and its worker was stopped',
      );
      for (let k = 0; k < 4; k++) expect((await invoke(server, 'again')).text).toBe('alive');
    } finally {
      await server.close();
    }
  });
});

describe('a script that cannot serve', () => {
  it('without handler or both input_handler and output_handler: the server does not start, saying so', async () => {
    await expect(
      serve({ 'inference.py': 'def input_handler(data, context):\n    return data\n' }),
    ).rejects.toMatchObject({
      name: 'InferenceScriptError',
      message: expect.stringContaining(
        'NotImplementedError: Handlers are not implemented correctly in user script. (define handler(data, context), or both',
      ),
    });
  });

  it('that fails to load: the server does not start, naming the error', async () => {
    await expect(serve({ 'inference.py': 'import a_module_nobody_has\n' })).rejects.toThrow(
      "ModuleNotFoundError: No module named 'a_module_nobody_has'",
    );
    await expect(serve({ 'inference.py': 'def handler(:\n' })).rejects.toThrow('SyntaxError');
  });

  it('with a requirement that cannot be installed: the server does not start, naming it', async () => {
    const environment = { ...process.env, PIP_NO_INDEX: '1', PIPELINE_CACHE_DIR: join(root, 'cache') };
    await expect(
      serve(
        {
          'inference.py': 'def handler(data, context):\n    return b"", None\n',
          'requirements.txt': 'requests>=2\nno-such-package-here==1.0\n',
        },
        environment,
      ),
    ).rejects.toMatchObject({
      name: 'InferenceScriptError',
      message: expect.stringMatching(
        /requirements\.txt needs no-such-package-here==1\.0, which cannot be installed: /,
      ),
    });
  });

  it('without python3: the server does not start, naming python3', async () => {
    const environment = { ...process.env, PIPELINE_PYTHON: join(root, 'no-python-here') };
    await expect(
      serve({ 'inference.py': 'def handler(data, context):\n    pass\n' }, environment),
    ).rejects.toMatchObject({
      name: 'PythonNotFoundError',
      message: expect.stringContaining(
        'code/inference.py runs with python3, and none was found (tried PIPELINE_PYTHON)',
      ),
    });
  });
});

describe('code/requirements.txt', () => {
  it('is installed once into the cache, and the script imports what it installed', async () => {
    const wheels = join(root, 'wheels');
    await mkdir(wheels, { recursive: true });
    // A wheel built by hand, so that pip installs it without reaching any index.
    await promisify(execFile)('/usr/bin/python3', [
      '-c',
      [
        'import sys, zipfile',
        'files = {"tinyhelper/__init__.py": "ANSWER = 42\\n",',
        '  "tinyhelper-0.1.dist-info/METADATA": "Metadata-Version: 2.1\\nName: tinyhelper\\nVersion: 0.1\\n",',
        '  "tinyhelper-0.1.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: hand\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}',
        'record = "".join(name + ",,\\n" for name in files) + "tinyhelper-0.1.dist-info/RECORD,,\\n"',
        'with zipfile.ZipFile(sys.argv[1] + "/tinyhelper-0.1-py3-none-any.whl", "w") as wheel:',
        '    for name, text in files.items(): wheel.writestr(name, text)',
        '    wheel.writestr("tinyhelper-0.1.dist-info/RECORD", record)',
      ].join('\n'),
      wheels,
    ]);
    const code = {
      'inference.py':
        'import tinyhelper\ndef handler(data, context):\n    return str(tinyhelper.ANSWER), "text/plain"\n',
      'requirements.txt': `--no-index\n--find-links ${wheels}\ntinyhelper==0.1\n`,
    };
    const environment = { ...process.env, PIPELINE_CACHE_DIR: join(root, 'requirements-cache') };
    lines.length = 0;

    for (let start = 0; start < 2; start++) {
      const server = await serve(code, environment);
      try {
        expect((await invoke(server, '')).text).toBe('42');
      } finally {
        await server.close();
      }
    }

    expect(lines.filter((line) => line.startsWith('installing tinyhelper==0.1'))).toHaveLength(1);
  });
});
