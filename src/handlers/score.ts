import * as z from 'zod';
import type { EndpointInvoker } from '../core/ports/endpoints.ts';
import type { ObjectStore } from '../core/ports/object-store.ts';
import { scoreOnEndpointStep } from '../core/steps/endpoint.ts';
import { compiledJob } from './events.ts';
import { lambdaHandler } from './lambda.ts';

const scoreEvent = z.object({ jobId: z.string().min(1), spec: compiledJob, endpoint: z.string().min(1) });

export interface ScoreDependencies {
  readonly store: ObjectStore;
  readonly endpoints: EndpointInvoker;
}

export const createScoreHandler = (dependencies: () => ScoreDependencies) =>
  lambdaHandler(scoreEvent, async ({ jobId, spec: job, endpoint }) => {
    const { store, endpoints } = dependencies();
    return scoreOnEndpointStep(store, endpoints, jobId, job, endpoint);
  });
