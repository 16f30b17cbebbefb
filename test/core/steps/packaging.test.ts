import { describe, expect, it } from 'vitest';
import { hubModelName } from '../../../src/core/steps/packaging.ts';

describe('hubModelName', () => {
  it('names a TF-Hub model after its handle, unless the spec names it', () => {
    expect(hubModelName('google/universal-sentence-encoder/4')).toEqual({
      name: 'universal-sentence-encoder',
      version: '4',
    });
    expect(
      hubModelName('https://www.kaggle.com/models/google/mobilenet-v3/TensorFlow2/classification/005'),
    ).toEqual({ name: 'classification', version: '5' });
    expect(hubModelName('https://example.com/models/my model', 'mine')).toEqual({
      name: 'mine',
      version: '1',
    });
  });
});
