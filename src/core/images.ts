/**
 * The SageMaker TensorFlow images (AWS Deep Learning Containers): the registry account per commercial
 * region, as AWS publishes it, and the URI of the inference or training image for a version.
 */
const DEFAULT_ACCOUNT = '763104351884';

export const DLC_ACCOUNTS: Readonly<Record<string, string>> = {
  'af-south-1': '626614931356',
  'ap-east-1': '871362719292',
  'ap-northeast-1': DEFAULT_ACCOUNT,
  'ap-northeast-2': DEFAULT_ACCOUNT,
  'ap-northeast-3': '364406365360',
  'ap-south-1': DEFAULT_ACCOUNT,
  'ap-south-2': '772153158452',
  'ap-southeast-1': DEFAULT_ACCOUNT,
  'ap-southeast-2': DEFAULT_ACCOUNT,
  'ap-southeast-3': '907027046896',
  'ap-southeast-4': '457447274322',
  'ca-central-1': DEFAULT_ACCOUNT,
  'eu-central-1': DEFAULT_ACCOUNT,
  'eu-central-2': '380420809688',
  'eu-north-1': DEFAULT_ACCOUNT,
  'eu-south-1': '692866216735',
  'eu-south-2': '503227376785',
  'eu-west-1': DEFAULT_ACCOUNT,
  'eu-west-2': DEFAULT_ACCOUNT,
  'eu-west-3': DEFAULT_ACCOUNT,
  'me-central-1': '914824155844',
  'me-south-1': '217643126080',
  'sa-east-1': DEFAULT_ACCOUNT,
  'us-east-1': DEFAULT_ACCOUNT,
  'us-east-2': DEFAULT_ACCOUNT,
  'us-west-1': DEFAULT_ACCOUNT,
  'us-west-2': DEFAULT_ACCOUNT,
};

export const DEFAULT_TENSORFLOW_VERSION = '2.16';

/** Instance families with an accelerator the GPU images run on. */
export function isGpuInstance(instanceType: string): boolean {
  return /^ml\.(p\d|g\d)/.test(instanceType);
}

export function tensorflowImage(options: {
  region: string;
  kind: 'inference' | 'training';
  instanceType: string;
  version?: string;
}): string {
  const account = DLC_ACCOUNTS[options.region];
  if (!account) {
    throw new Error(
      `no TensorFlow image is known for region ${options.region}: set SERVING_IMAGE and TRAINING_IMAGE`,
    );
  }
  const processor = isGpuInstance(options.instanceType) ? 'gpu' : 'cpu';
  const version = options.version ?? DEFAULT_TENSORFLOW_VERSION;
  return `${account}.dkr.ecr.${options.region}.amazonaws.com/tensorflow-${options.kind}:${version}-${processor}`;
}
