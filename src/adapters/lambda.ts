import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { PipelineError } from '../core/errors.ts';

/** One logger for every function, configured once; record contents and secrets are never logged. */
export const logger = new Logger({ serviceName: 'tf-batch-pipeline' });

/** The event did not have the shape the function takes: a bug in the caller, not retried. */
export class InvalidEventError extends PipelineError {
  override readonly name = 'InvalidEventError';
}

/**
 * A Lambda handler as this project writes them: the event parsed with a zod schema (a typed error
 * naming the field when it does not fit), the logger given the invocation's context, then one domain
 * call. Errors are thrown with their own name, which is what Step Functions Retry and Catch match.
 */
export function lambdaHandler<Schema extends z.ZodType, Result>(
  schema: Schema,
  handle: (event: z.infer<Schema>, context: Context) => Promise<Result>,
) {
  return middy<unknown, Result, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .before((request) => resolveEnvironment(process.env, request.context.invokedFunctionArn))
    .handler(async (event, context) => {
      const parsed = schema.safeParse(event);
      if (!parsed.success) {
        const [issue] = parsed.error.issues;
        throw new InvalidEventError(
          `event field ${issue?.path.join('.') || '(event)'}: ${issue?.message ?? 'invalid'}`,
        );
      }
      try {
        return await handle(parsed.data, context);
      } catch (error) {
        logger.error('step failed', { error: error as Error });
        throw error;
      }
    });
}

/**
 * Settings the stack knows only once deployed (the account, the region) are written into the
 * functions' environment as `{account}`, `{region}` and `{partition}` and filled in here from the
 * function's own ARN, rather than as CloudFormation references: plain values can also be given to
 * `serverless invoke local`, which cannot resolve references without calling AWS.
 */
export function resolveEnvironment(environment: NodeJS.ProcessEnv, functionArn: string | undefined): void {
  const [, partition, , region, account] = (functionArn ?? '').split(':');
  if (!partition || !region || !account) return;
  const values: Record<string, string> = { account, region, partition };
  for (const [name, value] of Object.entries(environment)) {
    if (value?.includes('{')) {
      environment[name] = value.replace(
        /\{(account|region|partition)\}/g,
        (_, key: string) => values[key] ?? '',
      );
    }
  }
}
