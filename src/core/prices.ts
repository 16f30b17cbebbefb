/**
 * SageMaker's on-demand prices in one region, for `pipeline plan`'s estimates. Prices change: the
 * estimate prints `asOf`, and this table is what to update (https://aws.amazon.com/sagemaker/pricing/).
 */
export interface PriceTable {
  readonly region: string;
  readonly currency: string;
  /** When these prices were taken from the pricing page. */
  readonly asOf: string;
  readonly source: string;
  /** Batch transform and training instances, per instance-hour. */
  readonly instanceHour: Readonly<Record<string, number>>;
  /** Serverless inference: compute per second by memory size (MB), and data in and out per GB. */
  readonly serverless: { readonly perSecond: Readonly<Record<string, number>>; readonly perGB: number };
}

export const PRICES: PriceTable = {
  region: 'us-east-1',
  currency: 'USD',
  asOf: '2024-11-01',
  source: 'https://aws.amazon.com/sagemaker/pricing/ (on-demand)',
  instanceHour: {
    'ml.m5.large': 0.115,
    'ml.m5.xlarge': 0.23,
    'ml.m5.2xlarge': 0.461,
    'ml.m5.4xlarge': 0.922,
    'ml.c5.xlarge': 0.204,
    'ml.c5.2xlarge': 0.408,
    'ml.c5.4xlarge': 0.816,
    'ml.g4dn.xlarge': 0.736,
    'ml.g4dn.2xlarge': 1.053,
    'ml.g5.xlarge': 1.408,
    'ml.g5.2xlarge': 1.515,
    'ml.p3.2xlarge': 3.825,
  },
  serverless: {
    perSecond: {
      '1024': 0.00002,
      '2048': 0.00004,
      '3072': 0.00006,
      '4096': 0.00008,
      '5120': 0.0001,
      '6144': 0.00012,
    },
    perGB: 0.016,
  },
};
