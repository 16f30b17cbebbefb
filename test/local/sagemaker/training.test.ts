import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CreateTrainingJobRequest } from '@aws-sdk/client-sagemaker';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/local-store.ts';
import { writeText } from '../../../src/core/ports/object-store.ts';
import { LocalSageMaker } from '../../../src/local/sagemaker/index.ts';
import type { TrainingOptions } from '../../../src/local/sagemaker/training.ts';
import { pythonStubs } from '../../support/python-stubs.ts';
import { FakeModelHost } from './container.ts';

// The real packaging script (training/), run by the local training job with the machine's python3 over
// stub tensorflow and tensorflow_hub packages: what is checked is script mode's contract (channels,
// hyperparameters, SM_MODEL_DIR, model.tar.gz), not TensorFlow.

const run = promisify(execFile);
const BUCKET = 's3://bucket/';
let stubs = '';
let store: LocalObjectStore;

beforeAll(async () => {
  stubs = await pythonStubs();
});

beforeEach(async () => {
  store = new LocalObjectStore(await mkdtemp(join(tmpdir(), 'local-training-')));
  for (const name of ['package_hub_model.py', 'requirements.txt']) {
    await writeText(
      store,
      `code/src/${name}`,
      await readFile(new URL(`../../../training/${name}`, import.meta.url), 'utf8'),
    );
  }
});

function sageMaker(training: TrainingOptions = { environment: { PYTHONPATH: stubs } }): LocalSageMaker {
  return new LocalSageMaker({
    store,
    keyOf: (url) => url.slice(BUCKET.length),
    models: new FakeModelHost(),
    training,
  });
}

const channel = (name: string, key: string) => ({
  ChannelName: name,
  DataSource: {
    S3DataSource: {
      S3DataType: 'S3Prefix' as const,
      S3Uri: `${BUCKET}${key}`,
      S3DataDistributionType: 'FullyReplicated' as const,
    },
  },
});

/** The request the state machine's PackageModel state makes. */
function packaging(
  name: string,
  handle: string,
  extra: ReturnType<typeof channel>[] = [],
): CreateTrainingJobRequest {
  return {
    TrainingJobName: name,
    RoleArn: 'arn:aws:iam::000000000000:role/SageMakerExecutionRole',
    AlgorithmSpecification: { TrainingImage: 'local/tensorflow-training', TrainingInputMode: 'File' },
    HyperParameters: {
      handle: JSON.stringify(handle),
      model_name: '"nnlm-en-dim50"',
      model_version: '"2"',
      sagemaker_program: '"package_hub_model.py"',
      sagemaker_submit_directory: '"/opt/ml/input/data/code"',
    },
    InputDataConfig: [channel('code', 'code/src/'), ...extra],
    OutputDataConfig: { S3OutputPath: `${BUCKET}work/j/model/` },
    ResourceConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 30 },
    EnableManagedSpotTraining: true,
    StoppingCondition: { MaxRuntimeInSeconds: 3600, MaxWaitTimeInSeconds: 7200 },
  };
}

/** The files of a model.tar.gz in the store, unpacked with Python's tarfile. */
async function unpack(key: string): Promise<{ names: string[]; folder: string }> {
  const folder = await mkdtemp(join(tmpdir(), 'model-tar-'));
  const archive = join(folder, 'model.tar.gz');
  const chunks: Buffer[] = [];
  for await (const chunk of store.read(key)) chunks.push(Buffer.from(chunk));
  await writeFile(archive, Buffer.concat(chunks));
  const listed = await run('python3', ['-m', 'tarfile', '-l', archive]);
  await run('python3', ['-m', 'tarfile', '-e', archive, join(folder, 'x')]);
  const names = listed.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ')[0] ?? '');
  return { names: names.sort(), folder: join(folder, 'x') };
}

describe('local training jobs', () => {
  it('run the packaging script in script mode and write <name>/<version>/ with code/ into model.tar.gz', async () => {
    // Prepare: the inference code of the job spec, as channels of their own.
    await writeText(
      store,
      'models/code/my_inference.py',
      'def input_handler(data, context):\n    return data\n',
    );
    await writeText(store, 'models/code/requirements.txt', 'pillow\n');
    // Act
    const job = await sageMaker().createTrainingJob(
      packaging('tfbp-j1', 'google/nnlm-en-dim50/2', [
        channel('inference', 'models/code/my_inference.py'),
        channel('requirements', 'models/code/requirements.txt'),
      ]),
    );
    // Assess
    expect(job).toMatchObject({
      TrainingJobName: 'tfbp-j1',
      TrainingJobStatus: 'Completed',
      ModelArtifacts: { S3ModelArtifacts: `${BUCKET}work/j/model/tfbp-j1/output/model.tar.gz` },
    });
    const { names, folder } = await unpack('work/j/model/tfbp-j1/output/model.tar.gz');
    expect(names).toEqual([
      'code/',
      'code/inference.py',
      'code/requirements.txt',
      'nnlm-en-dim50/',
      'nnlm-en-dim50/2/',
      'nnlm-en-dim50/2/saved_model.pb',
      'nnlm-en-dim50/2/variables/',
    ]);
    expect(JSON.parse(await readFile(join(folder, 'nnlm-en-dim50/2/saved_model.pb'), 'utf8'))).toEqual({
      handle: 'https://tfhub.dev/google/nnlm-en-dim50/2',
      signatures: ['serving_default'],
    });
    expect(await readFile(join(folder, 'code/inference.py'), 'utf8')).toContain('def input_handler');
    expect(await readFile(join(folder, 'code/requirements.txt'), 'utf8')).toBe('pillow\n');
  });

  it('without code channels, package the model alone', async () => {
    await sageMaker().createTrainingJob(packaging('tfbp-j2', 'https://tfhub.dev/google/nnlm-en-dim50/2'));
    const { names } = await unpack('work/j/model/tfbp-j2/output/model.tar.gz');
    expect(names.some((name) => name.startsWith('code/'))).toBe(false);
  });

  it('fail saying what to install when the machine has no TensorFlow or TF-Hub', async () => {
    // A Python that sees no site-packages: as a machine without them installed.
    const folder = await mkdtemp(join(tmpdir(), 'bare-python-'));
    const python = join(folder, 'python3');
    await writeFile(python, '#!/bin/sh\nexec python3 -S "$@"\n');
    await chmod(python, 0o755);
    await expect(
      sageMaker({ python }).createTrainingJob(packaging('tfbp-j3', 'x/y/1')),
    ).rejects.toMatchObject({
      name: 'States.TaskFailed',
      status: 'Failed',
      message: `ClientError: local training runs its script with ${python}, which cannot import tensorflow, tensorflow_hub, tf_keras: pip install tensorflow tensorflow-hub tf-keras`,
    });
    await expect(
      sageMaker({ python: join(folder, 'no-python') }).createTrainingJob(packaging('tfbp-j4', 'x/y/1')),
    ).rejects.toThrow('which was not found: install Python 3 with tensorflow, tensorflow-hub, tf-keras');
  });

  it('fail with the script error as SageMaker reports it', async () => {
    await expect(
      sageMaker().createTrainingJob(packaging('tfbp-j5', 'google/missing/1')),
    ).rejects.toMatchObject({
      name: 'States.TaskFailed',
      message: expect.stringMatching(
        /^AlgorithmError: ExecuteUserScriptError: ExitCode 1 ErrorMessage ".*ValueError: no model at https:\/\/tfhub.dev\/google\/missing\/1" Command "python3 package_hub_model.py"$/,
      ),
    });
    expect(await store.head('work/j/model/tfbp-j5/output/model.tar.gz')).toBeUndefined();
  });

  it('stop when asked, and refuse a name used before or a spot job without MaxWaitTimeInSeconds', async () => {
    const local = sageMaker();
    const slow = local.createTrainingJob(packaging('tfbp-j6', 'google/slow/1'));
    expect(await local.stopTrainingJob('tfbp-j6')).toBe(true);
    await expect(slow).rejects.toMatchObject({ status: 'Stopped' });
    expect(await local.stopTrainingJob('tfbp-j6')).toBe(false);
    await expect(local.createTrainingJob(packaging('tfbp-j6', 'x/y/1'))).rejects.toThrow(
      'a training job with this name already exists',
    );
    const noWait = { ...packaging('tfbp-j7', 'x/y/1'), StoppingCondition: { MaxRuntimeInSeconds: 3600 } };
    await expect(local.createTrainingJob(noWait)).rejects.toThrow('Invalid MaxWaitTimeInSeconds');
  });
});
