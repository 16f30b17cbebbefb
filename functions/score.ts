import { z } from 'zod';
import { type StepDependencies, stepDependencies } from '../src/adapters/aws.ts';
import { lambdaHandler } from '../src/adapters/lambda.ts';
import { jobSpecSchema } from '../src/core/spec/job.ts';
import { SPLIT_TYPES } from '../src/core/spec/records.ts';
import { scoreOnEndpointStep } from '../src/core/steps/scoring.ts';

const event = z.object({
  jobId: z.string().min(1),
  spec: jobSpecSchema,
  endpoint: z.string().min(1),
  contentType: z.string().min(1),
  splitType: z.enum(SPLIT_TYPES),
});

/** The handler over the given dependencies: AWS's when deployed, the local stack's in local mode. */
export const createScoreHandler = (dependencies: () => StepDependencies) =>
  lambdaHandler(event, async (job) => {
    const { store, endpoints } = dependencies();
    return scoreOnEndpointStep(store, endpoints, job);
  });

export const handler = createScoreHandler(() => stepDependencies());
