import * as z from 'zod/mini';
import type { EndpointInvoker } from '../core/ports/endpoints.ts';
import type { ObjectStore } from '../core/ports/object-store.ts';
import { scoreOnEndpointStep } from '../core/steps/endpoint.ts';
import { compiledJob } from './events.ts';
import { lambdaHandler } from './lambda.ts';

const id = z.string().check(z.minLength(1));
const scoreEvent = z.object({ jobId: id, spec: compiledJob, endpoint: id });

export interface ScoreDependencies {
  readonly store: ObjectStore;
  readonly endpoints: EndpointInvoker;
}

export const createScoreHandler = (dependencies: () => ScoreDependencies) =>
  lambdaHandler(scoreEvent, async ({ jobId, spec: job, endpoint }) => {
    const { store, endpoints } = dependencies();
    return scoreOnEndpointStep(store, endpoints, jobId, job, endpoint);
  });
