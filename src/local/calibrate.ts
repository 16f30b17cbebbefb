import { type Calibration, type CalibrationLimits, recordsIn } from '../core/calibration.ts';
import { CalibrationError } from '../core/errors.ts';
import type { Batch } from '../core/records/batches.ts';
import { LOCAL_BUCKET, LocalModelHost } from './model-host.ts';
import { defaultWorkers } from './model-server/server.ts';
import { ContainerClient, describeFailure, invocation, succeeded } from './sagemaker/container-client.ts';

export interface CalibrationRun {
  /** The model as the job spec names it: a folder, a .tar.gz, or s3://local/<key in the data dir>. */
  readonly model: string;
  /** The model container's environment, as CreateModel would give it. */
  readonly environment: Readonly<Record<string, string>>;
  /** The folder playing the bucket, for a model given as s3://local/<key>. */
  readonly dataDir: string;
  /** The transform job's ContentType and Accept headers. */
  readonly contentType?: string;
  readonly accept: string;
  /** Requests out at once, as the transform job keeps them (MaxConcurrentTransforms). */
  readonly concurrency: number;
  readonly timeoutSeconds: number;
  readonly limits: Pick<CalibrationLimits, 'seconds' | 'records'>;
}

/**
 * Measures the model's rate on this machine: starts the local model server `pipeline run` uses, sends
 * the sample's requests until one is answered (the warm-up, not timed), then sends them over and over,
 * `concurrency` at a time, until `limits.seconds` have passed or `limits.records` records have been
 * sent, and times from the first timed request to the last answer. The server's start-up is not
 * timed. Throws CalibrationError, naming the model, when it does not load or answers no request.
 */
export async function calibrateModel(run: CalibrationRun, requests: readonly Batch[]): Promise<Calibration> {
  const { model } = run;
  if (model.startsWith('tfhub:')) {
    throw new CalibrationError(
      `model ${model}: a TF-Hub model is packaged in the cloud, so it cannot be calibrated here: ` +
        'calibrate the packaged model (--model <folder or model.tar.gz>), or give --records-per-second',
    );
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(model) && !model.startsWith(`s3://${LOCAL_BUCKET}/`)) {
    throw new CalibrationError(
      `model ${model}: only a model on this machine can be calibrated (a folder, a model.tar.gz, or ` +
        `s3://${LOCAL_BUCKET}/<key in the data dir>): give the same model with --model <folder or model.tar.gz>, or give --records-per-second`,
    );
  }
  const host = new LocalModelHost({ dataDir: run.dataDir });
  let server: { url: string; close(): Promise<void> };
  try {
    server = await host.start({ modelDataUrl: model, environment: { ...run.environment } });
  } catch (error) {
    await host.close();
    throw new CalibrationError(`model ${model} cannot be calibrated: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const client = new ContainerClient(server.url);
  const signal = new AbortController().signal;
  const headers: Record<string, string> = { Accept: run.accept };
  if (run.contentType !== undefined) headers['Content-Type'] = run.contentType;
  // Why a request failed, or undefined when it was answered with success.
  const send = async (batch: Batch): Promise<string | undefined> => {
    const outcome = await invocation(client, {
      body: batch.body,
      headers,
      timeoutMs: run.timeoutSeconds * 1000,
      signal,
    });
    if (succeeded(outcome)) return undefined;
    return outcome instanceof Error ? outcome.message : `status ${describeFailure(outcome)}`;
  };
  try {
    let warmedUp = false;
    let firstFailure: string | undefined;
    for (const batch of requests) {
      const failed = await send(batch);
      firstFailure ??= failed;
      if (failed === undefined) {
        warmedUp = true;
        break;
      }
    }
    if (!warmedUp) {
      throw new CalibrationError(
        `model ${model} answered none of the ${requests.length} sample request${requests.length === 1 ? '' : 's'} ` +
          `with success: ${firstFailure ?? 'no request to send'}`,
      );
    }
    return await timed(run, requests, send);
  } finally {
    client.close();
    await server.close();
    await host.close();
  }
}

async function timed(
  run: CalibrationRun,
  requests: readonly Batch[],
  send: (batch: Batch) => Promise<string | undefined>,
): Promise<Calibration> {
  const { limits } = run;
  let next = 0;
  let started = 0;
  let records = 0;
  let answered = 0;
  let failedRequests = 0;
  let failure: string | undefined;
  const start = performance.now();
  const deadline = start + limits.seconds * 1000;
  let end = start;
  const sender = async (): Promise<void> => {
    while (performance.now() < deadline && started < limits.records) {
      const batch = requests[next++ % requests.length] as Batch;
      started += recordsIn(batch);
      const failed = await send(batch);
      end = performance.now();
      if (failed === undefined) {
        answered++;
        records += recordsIn(batch);
      } else {
        failedRequests++;
        failure ??= failed;
      }
    }
  };
  const concurrency = Math.max(1, run.concurrency);
  await Promise.all(Array.from({ length: concurrency }, sender));
  const seconds = (end - start) / 1000;
  if (records === 0) {
    throw new CalibrationError(
      `model ${run.model} answered none of the ${failedRequests} timed requests with success: ${failure}`,
    );
  }
  return {
    model: run.model,
    records,
    seconds,
    recordsPerSecond: records / seconds,
    requests: answered + failedRequests,
    failedRequests,
    ...(failure !== undefined && { failure }),
    concurrency,
    cores: defaultWorkers(),
    limits,
  };
}
