import { ExampleDecodeError, FramingError } from './errors.ts';
import type { InputFile } from './io.ts';
import { exampleToJson } from './records/example.ts';
import { createTfRecordReader } from './records/tfrecord.ts';
import { framedRecords } from './records/types.ts';
import type { JobSource } from './spec/sources.ts';

/**
 * Jobs over images, as AWS measured them: its published Batch Transform example scored 100,000 JPEG
 * images of Open Images with a ResNet-50 in the TFS container, each image one request, and the same
 * images packed into TFRecord files of tf.Example, with TFS request batching. A folder of such inputs
 * gets that configuration proposed, and its time estimated from those measurements.
 */

/** The contentTypes of a whole-object image job. */
export const IMAGE_CONTENT_TYPES: ReadonlySet<string> = new Set([
  'application/x-image',
  'image/jpeg',
  'image/png',
]);
const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];
const TFRECORD_EXTENSIONS = ['.tfrecord', '.tfrecords'];
/** The feature that holds the encoded image in tf.Example records (TensorFlow's image datasets). */
const IMAGE_FEATURE = 'image/encoded';

/** A scoring rate measured and published: the estimate says where its figure comes from. */
export interface MeasuredRate {
  /** Records one instance scored a second, start-up included (the measurement timed whole jobs). */
  readonly recordsPerSecond: number;
  readonly instanceType: string;
  /** What was measured, for people. */
  readonly measurement: string;
  readonly source: string;
}

const PUBLICATION =
  'AWS Machine Learning Blog, "Performing batch inference with TensorFlow Serving in Amazon SageMaker"';
const MEASURED_IMAGES = 100_000;
const MEASURED_INSTANCES = 2;

function measured(minutes: number, what: string): MeasuredRate {
  return {
    recordsPerSecond: MEASURED_IMAGES / (minutes * 60) / MEASURED_INSTANCES,
    instanceType: 'ml.p3.2xlarge',
    measurement: `${what} in about ${minutes} minutes on ${MEASURED_INSTANCES} × ml.p3.2xlarge`,
    source: PUBLICATION,
  };
}

export const PUBLISHED_RATES = {
  images: measured(12, '100,000 JPEG images (ResNet-50, one request per image)'),
  tfrecordImages: measured(8, '100,000 images in 100 TFRecord files (ResNet-50, TFS request batching)'),
} as const;

/** TFS request batching as the measured TFRecord job set it (the container's SAGEMAKER_TFS_* variables). */
export const TFS_BATCHING_ENVIRONMENT: Readonly<Record<string, string>> = {
  SAGEMAKER_TFS_ENABLE_BATCHING: 'true',
  SAGEMAKER_TFS_MAX_BATCH_SIZE: '16',
  SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS: '50000',
};

export type ImageInputs = 'images' | 'tfrecord-images';

export interface ImageProposal {
  readonly kind: ImageInputs;
  /** Job spec fields proposed where the user's job spec sets none, to go under it. */
  readonly fields: JobSource;
  readonly rate: MeasuredRate;
}

/**
 * What a job of these inputs would be, from what the user's job spec says and the inputs' names:
 * images, whole (an image contentType, or, when no contentType is given, every name an image's), or
 * TFRecord files (said so, or named so) that may hold images, to be confirmed by `holdsImageExamples`.
 */
export function imageInputsKind(
  given: JobSource,
  names: readonly string[],
): 'images' | 'tfrecord' | undefined {
  const { contentType, splitType } = given;
  const allNamed = (extensions: readonly string[]) =>
    names.length > 0 && names.every((name) => extensions.some((ext) => name.toLowerCase().endsWith(ext)));
  if (typeof contentType === 'string' && IMAGE_CONTENT_TYPES.has(contentType)) return 'images';
  if (
    contentType === undefined &&
    (splitType === undefined || splitType === 'None') &&
    allNamed(IMAGE_EXTENSIONS)
  )
    return 'images';
  if (contentType === 'application/x-tfrecord' || splitType === 'TFRecord') return 'tfrecord';
  if (contentType === undefined && splitType === undefined && allNamed(TFRECORD_EXTENSIONS))
    return 'tfrecord';
  return undefined;
}

/** Whether the first record of a TFRecord input is a tf.Example holding an encoded image. */
export async function holdsImageExamples(file: InputFile, input: string): Promise<boolean> {
  let first: Buffer | undefined;
  const reader = createTfRecordReader(
    {
      onRecord: (data) => {
        first ??= Buffer.from(data);
      },
      onBadRecord: () => undefined,
      onSkipped: () => undefined,
    },
    { input, maxRecordBytes: Number.MAX_SAFE_INTEGER },
  );
  // Framing that does not hold, or a record that is not a tf.Example: not TFRecord files of images.
  try {
    for await (const _ of framedRecords(file.read(), reader)) if (first) break;
    return (
      first !== undefined && IMAGE_FEATURE in (JSON.parse(exampleToJson(first)) as Record<string, unknown>)
    );
  } catch (error) {
    if (error instanceof FramingError || error instanceof ExampleDecodeError) return false;
    throw error;
  }
}

/**
 * The configuration measured for `kind`, for the fields the user's job spec leaves unset:
 * splitType None (each image one request), SingleRecord, maxPayloadInMB 1 and 64 concurrent requests;
 * for TFRecord, the records split out one a request with TFS batching on and 100 concurrent requests,
 * as TFS queues them. Fewer concurrent requests when the user's maxPayloadInMB allows fewer.
 */
export function imageProposal(kind: ImageInputs, given: JobSource): ImageProposal {
  const tfrecord = kind === 'tfrecord-images';
  const payload = typeof given.maxPayloadInMB === 'number' ? given.maxPayloadInMB : 1;
  const concurrency = tfrecord ? 100 : 64;
  const proposed: Record<string, unknown> = {
    contentType: tfrecord ? 'application/x-tfrecord' : 'application/x-image',
    splitType: tfrecord ? 'TFRecord' : 'None',
    batchStrategy: 'SingleRecord',
    maxPayloadInMB: 1,
    maxConcurrentTransforms: payload === 0 ? concurrency : Math.min(concurrency, Math.floor(100 / payload)),
  };
  const fields: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(proposed))
    if (given[field] === undefined) fields[field] = value;
  if (tfrecord) {
    const environment = (given.environment ?? {}) as Record<string, unknown>;
    const unset = Object.entries(TFS_BATCHING_ENVIRONMENT).filter(
      ([name]) => environment[name] === undefined,
    );
    if (unset.length > 0) fields.environment = Object.fromEntries(unset);
  }
  return { kind, fields, rate: tfrecord ? PUBLISHED_RATES.tfrecordImages : PUBLISHED_RATES.images };
}
