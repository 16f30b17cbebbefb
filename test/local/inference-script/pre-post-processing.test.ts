import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { halfPlusThreeRoot } from '../../support/half-plus-three.ts';
import { pipelineServe, type ServeProcess } from '../../support/serve.ts';

/**
 * The SageMaker TFS container's pre/post-processing cases, replayed against `pipeline serve` over a model
 * root like theirs (half_plus_three in zero-padded version folders, code/ beside it), with scripts of
 * the five shapes their examples take: input_handler and output_handler; handler; handler with a
 * requirements.txt; handler with code/lib; handler with code/lib and a requirements.txt to ignore.
 */

/** Turns the request into a TFS predict body: JSON as is, CSV as a list of numbers. */
const PREPARE = `
import json

def prepare(data, context):
    text = data.read().decode("utf-8")
    if context.request_content_type == "application/json":
        return text
    if context.request_content_type == "text/csv":
        return json.dumps({"instances": [float(cell) for cell in text.split(",")]})
    raise ValueError("unsupported content type %s" % context.request_content_type)


def finish(response, context):
    if response.status_code != 200:
        raise ValueError(response.text)
    return response.content, context.accept_header
`;

const HANDLER = `
import requests
${PREPARE}

def handler(data, context):
    return finish(requests.post(context.rest_uri, data=prepare(data, context)), context)
`;

const SCRIPTS: Record<string, Record<string, string>> = {
  'input_handler and output_handler': {
    'inference.py': `${PREPARE}\ninput_handler = prepare\noutput_handler = finish\n`,
  },
  handler: { 'inference.py': HANDLER },
  'handler with requirements.txt': { 'inference.py': HANDLER, 'requirements.txt': 'requests>=2\n' },
  'handler with code/lib': {
    'inference.py': `import local_helper\n${HANDLER}\nassert local_helper.LOADED\n`,
    'lib/local_helper/__init__.py': 'LOADED = True\n',
  },
  'handler with code/lib and requirements.txt': {
    'inference.py': `import local_helper\n${HANDLER}`,
    'lib/local_helper/__init__.py': 'LOADED = True\n',
    // Never installed: with code/lib there, the container ignores requirements.txt.
    'requirements.txt': 'a-package-that-does-not-exist==9.9.9\n',
  },
};

const headers = (contentType: string, version?: string) => ({
  'Content-Type': contentType,
  'X-Amzn-SageMaker-Custom-Attributes': `tfs-model-name=half_plus_three,tfs-method=predict${version ? `,tfs-model-version=${version}` : ''}`,
});

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pre-post-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe.each(Object.entries(SCRIPTS))('code/inference.py with %s', (name, code) => {
  let serve: ServeProcess;
  beforeAll(async () => {
    const model = await halfPlusThreeRoot(join(root, name.replaceAll(/\W+/g, '-')), code);
    serve = await pipelineServe(['--model', model]);
  }, 120_000);
  afterAll(async () => {
    await serve?.stop();
  });

  const invoke = async (body: string, contentType: string, version?: string) => {
    const response = await fetch(`${serve.url}/invocations`, {
      method: 'POST',
      body,
      headers: headers(contentType, version),
    });
    return { status: response.status, text: await response.text() };
  };

  it('answers /ping', async () => {
    expect((await fetch(`${serve.url}/ping`)).status).toBe(200);
  });

  it('predicts JSON through the script', async () => {
    const reply = await invoke('{"instances": [1.0, 2.0, 5.0]}', 'application/json');
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.text)).toEqual({ predictions: [3.5, 4.0, 5.5] });
  });

  it('predicts CSV the script turns into instances', async () => {
    const reply = await invoke('1.0,2.0,5.0', 'text/csv');
    expect(JSON.parse(reply.text)).toEqual({ predictions: [3.5, 4.0, 5.5] });
  });

  it('predicts a large CSV input', async () => {
    const values = Array.from({ length: 100_000 }, (_, k) => String(k % 7));
    const reply = await invoke(values.join(','), 'text/csv');
    expect((JSON.parse(reply.text) as { predictions: number[] }).predictions).toHaveLength(100_000);
  });

  it('predicts with each version named', async () => {
    for (const version of ['123', '124']) {
      const reply = await invoke('{"instances": [1.0, 2.0, 5.0]}', 'application/json', version);
      expect(JSON.parse(reply.text)).toEqual({ predictions: [3.5, 4.0, 5.5] });
    }
  });

  it('answers an empty body with 500, TF Serving saying the document is empty', async () => {
    const reply = await invoke('', 'application/json');
    expect(reply.status).toBe(500);
    expect(reply.text).toContain('document is empty');
  });

  it('answers a content type the script refuses with 500 and its message', async () => {
    const reply = await invoke('aW1hZ2UgYnl0ZXM=', 'unsupported-type');
    expect(reply.status).toBe(500);
    expect(reply.text).toContain('unsupported content type');
  });
});
