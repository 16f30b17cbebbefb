import { describe, expect, it } from 'vitest';
import {
  holdsImageExamples,
  imageInputsKind,
  imageProposal,
  PUBLISHED_RATES,
  TFS_BATCHING_ENVIRONMENT,
} from '../../src/core/image-jobs.ts';
import type { InputFile } from '../../src/core/io.ts';
import { encodeExample } from '../../src/core/records/example.ts';
import { encodeTfRecords } from '../../src/core/records/tfrecord.ts';

function input(bytes: Buffer): InputFile {
  return {
    size: bytes.length,
    read: async function* () {
      yield bytes;
    },
  };
}

describe('imageInputsKind', () => {
  it('takes images from an image contentType, or from every name when no contentType is given', () => {
    expect(imageInputsKind({ contentType: 'image/png' }, ['a.bin'])).toBe('images');
    expect(imageInputsKind({}, ['a/1.JPG', 'b/2.jpeg', '3.png', '4.webp'])).toBe('images');
    expect(imageInputsKind({}, ['a/1.jpg', 'notes.txt'])).toBeUndefined();
    expect(imageInputsKind({ contentType: 'application/jsonlines' }, ['1.jpg'])).toBeUndefined();
    expect(imageInputsKind({ splitType: 'Line' }, ['1.jpg'])).toBeUndefined();
  });

  it('takes TFRecord from the job spec or from the names, to be looked into', () => {
    expect(imageInputsKind({ splitType: 'TFRecord' }, ['part-0'])).toBe('tfrecord');
    expect(imageInputsKind({}, ['part-0.tfrecord', 'part-1.tfrecords'])).toBe('tfrecord');
  });
});

describe('holdsImageExamples', () => {
  it('looks at the first record for an encoded image', async () => {
    const image = encodeExample({ 'image/encoded': { bytes: [Buffer.from([0xff, 0xd8, 0xff])] } });
    const numbers = encodeExample({ x: { floats: [1, 2] } });
    expect(await holdsImageExamples(input(encodeTfRecords([image, numbers])), 'a.tfrecord')).toBe(true);
    expect(await holdsImageExamples(input(encodeTfRecords([numbers, image])), 'b.tfrecord')).toBe(false);
    expect(await holdsImageExamples(input(Buffer.from('not a record at all')), 'c.tfrecord')).toBe(false);
  });
});

describe('imageProposal', () => {
  it('proposes what the job spec leaves unset, within the payload rule', () => {
    expect(imageProposal('images', {}).fields).toEqual({
      contentType: 'application/x-image',
      splitType: 'None',
      batchStrategy: 'SingleRecord',
      maxPayloadInMB: 1,
      maxConcurrentTransforms: 64,
    });
    expect(imageProposal('images', { contentType: 'image/jpeg', maxPayloadInMB: 3 }).fields).toEqual({
      splitType: 'None',
      batchStrategy: 'SingleRecord',
      maxConcurrentTransforms: 33,
    });
  });

  it('turns TFS batching on for TFRecord images, leaving the variables the job spec sets', () => {
    const proposal = imageProposal('tfrecord-images', {
      environment: { SAGEMAKER_TFS_MAX_BATCH_SIZE: '32' },
    });
    expect(proposal.fields).toMatchObject({ splitType: 'TFRecord', maxConcurrentTransforms: 100 });
    expect(proposal.fields.environment).toEqual({
      SAGEMAKER_TFS_ENABLE_BATCHING: TFS_BATCHING_ENVIRONMENT.SAGEMAKER_TFS_ENABLE_BATCHING,
      SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS: TFS_BATCHING_ENVIRONMENT.SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS,
    });
    expect(proposal.rate).toBe(PUBLISHED_RATES.tfrecordImages);
  });

  it('rates images as measured: 100,000 in 12 minutes, or 8 as TFRecord with batching, on two instances', () => {
    expect(PUBLISHED_RATES.images.recordsPerSecond * 2 * 12 * 60).toBeCloseTo(100_000, 6);
    expect(PUBLISHED_RATES.tfrecordImages.recordsPerSecond * 2 * 8 * 60).toBeCloseTo(100_000, 6);
  });
});
