import { createHash } from 'node:crypto';
import { JobSpecError } from '../errors.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { JobSpec } from '../spec/job.ts';
import { workPrefix } from './layout.ts';

/** A file of the script-mode source that packages TF-Hub models (training/ in this repository). */
export interface SourceFile {
  readonly name: string;
  readonly content: Buffer;
}

/** Where the packaging job reads and writes: deployment settings, part of the plan's. */
export interface PackagingConfig {
  /** The URL SageMaker reads or writes an object at: s3://<bucket>/<key>. */
  readonly objectUrl: (key: string) => string;
  /** The TensorFlow training image that packages TF-Hub models. */
  readonly trainingImage: string;
  /** The packaging script and its requirements, uploaded under code/ the first time a job needs them. */
  readonly packagingSource: () => Promise<readonly SourceFile[]>;
}

/** An InputDataConfig channel of the packaging training job. */
export interface TrainingChannel {
  readonly ChannelName: string;
  readonly DataSource: {
    readonly S3DataSource: {
      readonly S3DataType: 'S3Prefix';
      readonly S3Uri: string;
      readonly S3DataDistributionType: 'FullyReplicated';
    };
  };
}

/** What the PackageModel and CacheModel states need. */
export interface Packaging {
  readonly image: string;
  /** Script mode's: the program and where its source is, as JSON strings, beside the script's own. */
  readonly hyperParameters: Record<string, string>;
  readonly channels: TrainingChannel[];
  readonly outputPath: string;
  /** The training job's model.tar.gz, copied to where later jobs with the same handle find it. */
  readonly cache: { readonly bucket: string; readonly copySource: string; readonly key: string };
}

/** The script that packages TF-Hub models, and where script mode finds its source: the `code` channel. */
export const PACKAGING_PROGRAM = 'package_hub_model.py';
const SOURCE_CHANNEL_DIR = '/opt/ml/input/data/code';
const HUB_CACHE = 'models/hub-cache/';

export interface PlannedPackaging {
  readonly modelName: string;
  readonly dataUrl: string;
  /** Absent when the handle was packaged before, with the same script, code and training image. */
  readonly packaging?: Packaging;
  /** Puts the packaging source under code/ when it is not there yet; called once the plan is valid. */
  readonly upload: () => Promise<void>;
}

/**
 * Packaging a TF-Hub handle: a script-mode training job whose source comes in as the `code` channel
 * (the training toolkit copies a directory given as sagemaker_submit_directory), with inference.py and
 * requirements.txt as channels of their own when the spec gives them. Its model.tar.gz is kept under
 * models/hub-cache/<key>/, the key naming the handle, the training image (the framework version), the
 * script and the code files, so a later job with the same key skips packaging.
 */
export async function planPackaging(
  store: ObjectStore,
  config: PackagingConfig,
  spec: JobSpec,
  jobId: string,
  trainingJob: string,
): Promise<PlannedPackaging> {
  const handle = spec.model.slice('tfhub:'.length);
  const { name, version } = hubModelName(handle, spec.modelName);
  const source = await config.packagingSource();
  const sourcePrefix = `code/package-hub-model/${digest(source.map((file) => [file.name, digest(file.content)]))}/`;
  const channels: TrainingChannel[] = [channel('code', config.objectUrl(sourcePrefix))];
  const codeVersions: Record<string, string> = {};
  for (const [field, url] of Object.entries(spec.code ?? {})) {
    if (url === undefined) continue;
    const key = keyInBucket(config, url);
    if (key === undefined || !key.startsWith('models/')) {
      throw new JobSpecError(`code.${field}`, `must be an object under ${config.objectUrl('models/')}`);
    }
    const info = await store.head(key);
    if (!info) throw new JobSpecError(`code.${field}`, `${url} does not exist`);
    codeVersions[field] = info.etag;
    channels.push(channel(field, url));
  }
  const key = digest([handle, name, version, config.trainingImage, sourcePrefix, codeVersions]).slice(0, 24);
  const cacheKey = `${HUB_CACHE}${key}/model.tar.gz`;
  const dataUrl = config.objectUrl(cacheKey);
  const upload = async (): Promise<void> => {
    for (const file of source) {
      if (await store.head(`${sourcePrefix}${file.name}`)) continue;
      const sink = await store.write(`${sourcePrefix}${file.name}`);
      await sink.write(file.content);
      await sink.close();
    }
  };
  if (await store.head(cacheKey)) return { modelName: name, dataUrl, upload: async () => undefined };
  const outputPrefix = `${workPrefix(jobId)}model/`;
  const bucket = bucketOf(config);
  const packaged = `${outputPrefix}${trainingJob}/output/model.tar.gz`;
  return {
    modelName: name,
    dataUrl,
    upload,
    packaging: {
      image: config.trainingImage,
      hyperParameters: {
        handle: JSON.stringify(handle),
        model_name: JSON.stringify(name),
        model_version: JSON.stringify(version),
        sagemaker_program: JSON.stringify(PACKAGING_PROGRAM),
        sagemaker_submit_directory: JSON.stringify(SOURCE_CHANNEL_DIR),
      },
      channels,
      outputPath: config.objectUrl(outputPrefix),
      cache: {
        bucket,
        copySource: `${bucket}/${packaged.split('/').map(encodeURIComponent).join('/')}`,
        key: cacheKey,
      },
    },
  };
}

/**
 * The TFS name and version a handle is saved under: the spec's modelName or the handle's last word
 * (`google/universal-sentence-encoder/4` is universal-sentence-encoder), and its version number, or 1.
 */
export function hubModelName(handle: string, modelName?: string): { name: string; version: string } {
  const parts = handle
    .replace(/[?#].*$/, '')
    .split('/')
    .filter((part) => part.length > 0);
  const last = parts[parts.length - 1] ?? '';
  const version = /^\d+$/.test(last) ? String(Number(last)) : '1';
  const word = [...parts].reverse().find((part) => !/^\d+$/.test(part)) ?? 'model';
  return { name: modelName ?? word.replace(/[^A-Za-z0-9_.-]+/g, '-'), version };
}

function channel(name: string, url: string): TrainingChannel {
  return {
    ChannelName: name,
    DataSource: {
      S3DataSource: { S3DataType: 'S3Prefix', S3Uri: url, S3DataDistributionType: 'FullyReplicated' },
    },
  };
}

function bucketOf(config: PackagingConfig): string {
  return config
    .objectUrl('')
    .replace(/^s3:\/\//, '')
    .replace(/\/$/, '');
}

/** The key of an s3:// URL in the deployment's bucket, or undefined for a URL elsewhere. */
function keyInBucket(config: PackagingConfig, url: string): string | undefined {
  const root = config.objectUrl('');
  return url.startsWith(root) ? url.slice(root.length) : undefined;
}

function digest(value: unknown): string {
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value));
  return createHash('sha256').update(bytes).digest('hex');
}
