import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type * as z from 'zod/mini';
import { IN_ENGLISH } from '../core/messages.ts';
import { InvalidEventError } from './errors.ts';

/** One logger for every function, configured once; record contents and secrets are never logged. */
export const logger = new Logger({ serviceName: 'tf-batch-pipeline' });

/**
 * A Lambda handler as this project writes them: the event parsed with a zod schema (a typed error
 * naming the field when it does not fit), the logger given the invocation's context, then one domain
 * call. Errors are thrown with their own name, which is what Step Functions Retry and Catch match.
 */
export function lambdaHandler<Schema extends z.ZodMiniType, Result>(
  schema: Schema,
  handle: (event: z.infer<Schema>, context: Context) => Promise<Result>,
) {
  return middy<unknown, Result, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .before((request) => resolveEnvironment(process.env, request.context.invokedFunctionArn))
    .handler(async (event, context) => {
      try {
        return await handle(parseEvent(schema, event), context);
      } catch (error) {
        logger.error('step failed', { error: error as Error });
        throw error;
      }
    });
}

/**
 * The event as the schema reads it. Fields whose schema compiles them (a job spec) throw their own
 * typed error; any other misfit is an InvalidEventError naming the field.
 */
function parseEvent<Schema extends z.ZodMiniType>(schema: Schema, event: unknown): z.infer<Schema> {
  const parsed = schema.safeParse(event, IN_ENGLISH);
  if (parsed.success) return parsed.data;
  const [issue] = parsed.error.issues;
  throw new InvalidEventError(
    `event field ${issue?.path.join('.') || '(event)'}: ${issue?.message ?? 'invalid'}`,
  );
}

/**
 * What a function's handler is built over, made on its first invocation (once the environment is
 * resolved) and kept for the rest of the cold start.
 */
export function perColdStart<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => {
    built ??= { value: build() };
    return built.value;
  };
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
