import { describe, expect, it } from 'vitest';
import { DLC_ACCOUNTS, isGpuInstance, tensorflowImage } from '../../src/core/images.ts';

describe('tensorflowImage', () => {
  it('names the GPU inference image for ml.p3 and the CPU one otherwise', () => {
    expect(tensorflowImage({ region: 'us-east-1', kind: 'inference', instanceType: 'ml.p3.2xlarge' })).toBe(
      '763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-inference:2.16-gpu',
    );
    expect(
      tensorflowImage({
        region: 'eu-west-1',
        kind: 'training',
        instanceType: 'ml.m5.large',
        version: '2.14',
      }),
    ).toBe('763104351884.dkr.ecr.eu-west-1.amazonaws.com/tensorflow-training:2.14-cpu');
  });

  it('uses the regional registry account of opt-in regions', () => {
    expect(tensorflowImage({ region: 'af-south-1', kind: 'inference', instanceType: 'ml.g5.xlarge' })).toBe(
      '626614931356.dkr.ecr.af-south-1.amazonaws.com/tensorflow-inference:2.16-gpu',
    );
    expect(
      tensorflowImage({ region: 'me-south-1', kind: 'inference', instanceType: 'ml.c5.xlarge' }),
    ).toMatch(/^217643126080\./);
  });

  it('knows every commercial region it lists with a 12-digit account, and refuses others with what to do', () => {
    expect(Object.keys(DLC_ACCOUNTS).length).toBeGreaterThanOrEqual(27);
    for (const account of Object.values(DLC_ACCOUNTS)) expect(account).toMatch(/^\d{12}$/);
    expect(() =>
      tensorflowImage({ region: 'xx-mars-1', kind: 'inference', instanceType: 'ml.p3.2xlarge' }),
    ).toThrow('set SERVING_IMAGE and TRAINING_IMAGE');
  });

  it('tells GPU instance families from the others', () => {
    expect(['ml.p3.2xlarge', 'ml.p4d.24xlarge', 'ml.g4dn.xlarge'].every(isGpuInstance)).toBe(true);
    expect(['ml.m5.large', 'ml.c5.xlarge', 'ml.inf1.xlarge'].some(isGpuInstance)).toBe(false);
  });
});
