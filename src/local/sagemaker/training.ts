import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { CreateTrainingJobRequest } from '@aws-sdk/client-sagemaker';
import type { ObjectStore } from '../../core/ports/object-store.ts';
import { SageMakerJobError, TrainingFailure, validationError } from '../errors.ts';
import { arn, checkName, missing } from './names.ts';

export interface TrainingOptions {
  /** The Python that runs training scripts: python3 on the PATH by default. */
  readonly python?: string;
  /** Added to the script's environment (PYTHONPATH, say). */
  readonly environment?: Readonly<Record<string, string>>;
}

export interface LocalTrainingOptions extends TrainingOptions {
  readonly store: ObjectStore;
  readonly keyOf: (url: string) => string;
}

/** What `createTrainingJob.sync` returns: the completed job as DescribeTrainingJob shows it. */
export interface TrainingJobDescription {
  readonly TrainingJobName: string;
  readonly TrainingJobArn: string;
  readonly TrainingJobStatus: 'Completed';
  readonly SecondaryStatus: 'Completed';
  readonly HyperParameters: Record<string, string>;
  readonly ModelArtifacts: { readonly S3ModelArtifacts: string };
  readonly CreationTime: number;
  readonly TrainingStartTime: number;
  readonly TrainingEndTime: number;
}

interface TrainingJob {
  readonly controller: AbortController;
  settled: Promise<void>;
  running: boolean;
}

/** SageMaker's paths in a training container, under a folder of this machine. */
const CONTAINER_ROOT = '/opt/ml/';
const STDERR_KEEP = 4000;

/**
 * Training jobs as SageMaker's TensorFlow training container runs them in script mode: the input
 * channels are copied from the store into `input/data/<channel>/`, the program named by the
 * `sagemaker_program` hyperparameter runs from `sagemaker_submit_directory` (a channel's folder) with
 * the machine's Python, the other hyperparameters as `--name value` arguments and the SM_* environment,
 * and what it saves under SM_MODEL_DIR becomes `<S3OutputPath>/<job>/output/model.tar.gz`. The
 * container's Python packages are the machine's: a job whose modules do not import fails saying what to
 * install.
 */
export class LocalTrainingJobs {
  readonly #options: LocalTrainingOptions;
  /** Every training job ever created: a name is never used twice. */
  readonly #jobs = new Map<string, TrainingJob>();

  constructor(options: LocalTrainingOptions) {
    this.#options = options;
  }

  /** `createTrainingJob.sync`: resolves once the job Completed; rejects with SageMakerJobError otherwise. */
  async create(input: CreateTrainingJobRequest): Promise<TrainingJobDescription> {
    const name = checkName('trainingJobName', input.TrainingJobName);
    if (this.#jobs.has(name.toLowerCase())) {
      throw validationError(
        `Training job names must be unique within an AWS account and region, and a training job with this name already exists (${arn('training-job', name)})`,
      );
    }
    const outputPath = input.OutputDataConfig?.S3OutputPath;
    if (!outputPath) throw missing('outputDataConfig.s3OutputPath');
    const stopping = input.StoppingCondition;
    if (
      input.EnableManagedSpotTraining &&
      (stopping?.MaxWaitTimeInSeconds ?? 0) < (stopping?.MaxRuntimeInSeconds ?? 86400)
    ) {
      throw validationError(
        'Invalid MaxWaitTimeInSeconds. It must be present and be greater than or equal to MaxRuntimeInSeconds',
      );
    }
    const job: TrainingJob = { controller: new AbortController(), settled: Promise.resolve(), running: true };
    this.#jobs.set(name.toLowerCase(), job);
    const startedAt = Date.now();
    const maxRuntime = stopping?.MaxRuntimeInSeconds;
    const timer =
      maxRuntime === undefined
        ? undefined
        : setTimeout(
            () => job.controller.abort(new TrainingFailure('MaxRuntimeExceeded')),
            maxRuntime * 1000,
          );
    const run = this.#run(name, input, outputPath, job.controller.signal);
    job.settled = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      const artifacts = await run;
      return {
        TrainingJobName: name,
        TrainingJobArn: arn('training-job', name),
        TrainingJobStatus: 'Completed',
        SecondaryStatus: 'Completed',
        HyperParameters: { ...input.HyperParameters },
        ModelArtifacts: { S3ModelArtifacts: artifacts },
        CreationTime: startedAt,
        TrainingStartTime: startedAt,
        TrainingEndTime: Date.now(),
      };
    } catch (error) {
      const { signal } = job.controller;
      if (signal.aborted && !(signal.reason instanceof TrainingFailure)) {
        throw new SageMakerJobError(
          name,
          'Stopped',
          `Stopped: training job ${name} was stopped before it completed`,
        );
      }
      const reason = signal.aborted
        ? `MaxRuntimeExceeded: training job ${name} ran longer than MaxRuntimeInSeconds (${maxRuntime})`
        : error instanceof TrainingFailure
          ? error.message
          : `InternalServerError: ${(error as Error).message}`;
      throw new SageMakerJobError(name, 'Failed', reason, { cause: error });
    } finally {
      clearTimeout(timer);
      job.running = false;
    }
  }

  /** Stops the training job if it is running and waits until its process has ended. */
  async stop(name: string): Promise<boolean> {
    const job = this.#jobs.get(name.toLowerCase());
    if (!job?.running) return false;
    job.controller.abort();
    await job.settled;
    return true;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#jobs.keys()].map((name) => this.stop(name)));
  }

  async #run(
    name: string,
    input: CreateTrainingJobRequest,
    outputPath: string,
    signal: AbortSignal,
  ): Promise<string> {
    const hyperParameters = Object.fromEntries(
      Object.entries(input.HyperParameters ?? {}).map(([key, value]) => [key, decode(value)]),
    );
    const program = hyperParameters.sagemaker_program;
    const submitted = hyperParameters.sagemaker_submit_directory;
    if (typeof program !== 'string' || typeof submitted !== 'string') {
      throw new TrainingFailure(
        'ClientError: local training runs script mode: the hyperparameters sagemaker_program and sagemaker_submit_directory are required',
      );
    }
    if (!submitted.startsWith(CONTAINER_ROOT)) {
      throw new TrainingFailure(
        `ClientError: sagemaker_submit_directory ${submitted}: local training takes the source from an input channel's folder (${CONTAINER_ROOT}input/data/<channel>)`,
      );
    }
    const root = await mkdtemp(join(tmpdir(), 'pipeline-training-'));
    try {
      const channels: string[] = [];
      for (const channel of input.InputDataConfig ?? []) {
        const name = channel.ChannelName ?? '';
        await this.#download(channel.DataSource?.S3DataSource?.S3Uri ?? '', join(root, 'input/data', name));
        channels.push(name);
      }
      const modelDir = join(root, 'model');
      const outputDir = join(root, 'output/data');
      await mkdir(modelDir, { recursive: true });
      await mkdir(outputDir, { recursive: true });
      const sourceDir = join(root, submitted.slice(CONTAINER_ROOT.length));
      const python = this.#options.python ?? 'python3';
      const environment = {
        ...process.env,
        SM_MODEL_DIR: modelDir,
        SM_OUTPUT_DATA_DIR: outputDir,
        SM_INPUT_DIR: join(root, 'input'),
        SM_CHANNELS: JSON.stringify(channels),
        SM_HPS: JSON.stringify(userHyperParameters(hyperParameters)),
        ...Object.fromEntries(
          channels.map((channel) => [
            `SM_CHANNEL_${channel.toUpperCase()}`,
            join(root, 'input/data', channel),
          ]),
        ),
        ...this.#options.environment,
      };
      await checkModules(python, sourceDir, environment, signal);
      const args = [join(sourceDir, program), ...commandArguments(userHyperParameters(hyperParameters))];
      const run = await execute(python, args, { cwd: sourceDir, env: environment, signal });
      if (run.code !== 0) {
        throw new TrainingFailure(
          `AlgorithmError: ExecuteUserScriptError: ExitCode ${run.code} ErrorMessage "${lastLines(run.stderr)}" Command "${python} ${program}"`,
        );
      }
      const entries = await readdir(modelDir);
      if (entries.length === 0) {
        throw new TrainingFailure(
          `AlgorithmError: ${program} saved nothing under SM_MODEL_DIR (/opt/ml/model)`,
        );
      }
      const archive = join(root, 'output', 'model.tar.gz');
      const packed = await execute(python, ['-m', 'tarfile', '-c', archive, ...entries], {
        cwd: modelDir,
        env: environment,
        signal,
      });
      if (packed.code !== 0)
        throw new Error(`model.tar.gz could not be written: ${lastLines(packed.stderr)}`);
      const output = `${outputPath.replace(/\/+$/, '')}/${name}/output/model.tar.gz`;
      const sink = await this.#options.store.write(this.#options.keyOf(output));
      for await (const chunk of createReadStream(archive)) await sink.write(chunk as Buffer);
      await sink.close();
      return output;
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }

  /** An S3Prefix channel: every object under the prefix, named by what follows the prefix's last '/'. */
  async #download(url: string, folder: string): Promise<void> {
    const prefix = this.#options.keyOf(url);
    const base = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    let found = 0;
    for await (const object of this.#options.store.list(prefix)) {
      const target = join(folder, object.key.slice(base.length));
      await mkdir(dirname(target), { recursive: true });
      const chunks: Buffer[] = [];
      for await (const chunk of this.#options.store.read(object.key)) chunks.push(Buffer.from(chunk));
      await writeFile(target, Buffer.concat(chunks));
      found++;
    }
    if (found === 0) throw new TrainingFailure(`ClientError: No S3 objects found under S3 URL "${url}"`);
  }
}

/** Script mode passes hyperparameters JSON-encoded; a value that is not JSON is taken as it is. */
function decode(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function userHyperParameters(hyperParameters: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(hyperParameters).filter(([key]) => !key.startsWith('sagemaker_')));
}

/** `--name value` for each hyperparameter, as the training toolkit passes them to a script. */
function commandArguments(hyperParameters: Record<string, unknown>): string[] {
  return Object.entries(hyperParameters).flatMap(([key, value]) => [
    `--${key}`,
    typeof value === 'string' ? value : JSON.stringify(value),
  ]);
}

/**
 * The container's own modules are the machine's here: TensorFlow, and what the source's requirements.txt
 * would install (a requirement imports under its name with - as _). Missing ones fail the job naming
 * what to install.
 */
async function checkModules(
  python: string,
  sourceDir: string,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
): Promise<void> {
  const requirements = await readFile(join(sourceDir, 'requirements.txt'), 'utf8').catch(() => '');
  const packages = [
    'tensorflow',
    ...requirements
      .split('\n')
      .map((line) => line.replace(/#.*$/, '').trim())
      .filter((line) => line.length > 0)
      .map((line) => line.split(/[<>=!~;[ ]/)[0] ?? ''),
  ];
  const modules = packages.map((name) => name.replace(/-/g, '_'));
  const probe =
    'import importlib.util, sys; print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))';
  let run: { code: number; stdout: string; stderr: string };
  try {
    run = await execute(python, ['-c', probe, ...modules], { cwd: sourceDir, env, signal });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new TrainingFailure(
      `ClientError: local training runs its script with ${python}, which was not found: install Python 3 with ${packages.join(', ')}`,
    );
  }
  const absent = new Set(run.stdout.trim().split(/\s+/).filter(Boolean));
  const missingPackages = packages.filter((_, k) => absent.has(modules[k] ?? ''));
  if (run.code !== 0 || missingPackages.length > 0) {
    throw new TrainingFailure(
      `ClientError: local training runs its script with ${python}, which cannot import ${[...absent].join(', ') || 'its modules'}: pip install ${missingPackages.join(' ') || packages.join(' ')}`,
    );
  }
}

function execute(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; signal: AbortSignal },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      ...options,
      stdio: ['ignore', 'pipe', 'pipe'],
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout = (stdout + chunk.toString('utf8')).slice(-STDERR_KEEP);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEEP);
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' ').replace(/"/g, "'");
}
