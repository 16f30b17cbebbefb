/**
 * Worker thread of the model server: loads every servable (each version of each model) into an
 * onnxruntime session, says what their inputs and outputs are, then answers the requests it is sent
 * one at a time. Parsing, image decoding, inference and writing the answer all happen here, off the
 * HTTP thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { ModelLoadError, RequestError } from '../errors.ts';
import { readRequest } from './invocation.ts';
import { readNumericRows } from './numeric-rows.ts';
import type { Answer, Job, Ready, Reply, Stop } from './pool.ts';
import { isTensorType, TENSOR_TYPES } from './tensor-types.ts';
import { formatResponse, type Prepared, prepareRequest, type Signature, type TensorInfo } from './tfs.ts';

const port = parentPort;
if (!port) throw new Error('model server worker: must run in a worker thread');
const { files } = workerData as { files: string[] };

interface Servable {
  readonly session: InferenceSession;
  readonly signature: Signature;
  /** Whether integers must be read exactly (past 2^53) for a 64-bit integer input. */
  readonly exactIntegers: boolean;
}

const servables: Servable[] = [];
for (const file of files) {
  // One thread per session: the pool runs one worker per core already.
  const session = await InferenceSession.create(file, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const signature: Signature = {
    inputs: session.inputMetadata.map((metadata) => tensorInfo(metadata, 'input')),
    outputs: session.outputMetadata.map((metadata) => tensorInfo(metadata, 'output')),
  };
  for (const tensor of [...signature.inputs, ...signature.outputs]) {
    if (!isTensorType(tensor.type)) {
      throw new ModelLoadError(
        `${file}: ${JSON.stringify(tensor.name)} is ${tensor.type}; the local model server feeds and answers ${TENSOR_TYPES.join(', ')}`,
      );
    }
  }
  const exactIntegers = signature.inputs.some((input) => input.type === 'int64' || input.type === 'uint64');
  servables.push({ session, signature, exactIntegers });
}
const ready: Ready = { signatures: servables.map((servable) => servable.signature) };
port.postMessage(ready);

const encoder = new TextEncoder();
let queue = Promise.resolve();
let stopping = false;
port.on('message', (message: Job | Stop) => {
  if ('stop' in message) {
    stopping = true;
    queue = queue.then(() => port.close());
    return;
  }
  const job = message;
  queue = queue.then(async () => {
    if (stopping) return;
    const { status, body } = await answer(job);
    const reply: Reply = { id: job.id, status, body };
    port.postMessage(reply, [body.buffer as ArrayBuffer]);
  });
});

async function answer(job: Job): Promise<Answer> {
  try {
    const servable = servables[job.servable];
    if (!servable) throw new Error(`no servable ${job.servable}`);
    const { session, signature } = servable;
    const prepared =
      numericRows(job, signature) ??
      (await prepareRequest(readRequest(job.kind, job.body, servable.exactIntegers), job.method, signature));
    const feeds = Object.fromEntries(
      prepared.feeds.map(({ name, type, data, dims }) => [
        name,
        new Tensor(type as Tensor.Type, data as Tensor.DataType, dims),
      ]),
    );
    const results = await session.run(feeds).catch((error: unknown) => {
      throw new RequestError(`the model cannot run on this request: ${messageOf(error)}`);
    });
    return { status: 200, body: formatResponse(prepared, signature.outputs, results) };
  } catch (error) {
    if (error instanceof RequestError) return json(error.status, JSON.stringify({ error: error.message }));
    return json(500, JSON.stringify({ error: messageOf(error) }));
  }
}

/** Rows of numbers for a model with one float32 vector input, read without JSON arrays in between. */
function numericRows(job: Job, signature: Signature): Prepared | undefined {
  const [input, ...others] = signature.inputs;
  if (job.kind !== 'json' || job.method !== 'predict' || !input || others.length > 0) return undefined;
  if (input.shape.length !== 2 || input.type !== 'float32') return undefined;
  const dim = input.shape[1];
  const rows = readNumericRows(job.body, typeof dim === 'number' && dim >= 0 ? dim : undefined);
  if (!rows) return undefined;
  return {
    method: 'predict',
    columnar: false,
    batch: rows.rows,
    feeds: [{ name: input.name, type: 'float32', data: rows.data, dims: [rows.rows, rows.width] }],
  };
}

function json(status: number, text: string): Answer {
  return { status, body: encoder.encode(text) };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function tensorInfo(metadata: InferenceSession.ValueMetadata, role: string): TensorInfo {
  if (!metadata.isTensor) {
    throw new ModelLoadError(
      `${role} ${JSON.stringify(metadata.name)} is not a tensor, which TFS answers cannot hold`,
    );
  }
  return { name: metadata.name, type: metadata.type, shape: metadata.shape };
}
