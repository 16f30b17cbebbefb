import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { StateMachine } from 'aws-local-stepfunctions';
import { loadDefinition } from './asl.ts';
import { loadInterpreter, loadStateMachine } from './interpreter.ts';

type Json = Parameters<StateMachine['run']>[0];
type Events = ReturnType<StateMachine['run']>['eventLogs'];
export type EventLog = Events extends AsyncGenerator<infer Event> ? Event : never;

/** A Lambda handler as middy builds it: an event and a context in, a result out. */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/** What serves the state machine's Task states locally, by the resource each one names. */
export interface TaskTargets {
  /** The step functions' handlers by function name (`plan`, `shard`, ...), as serverless.yml names them. */
  readonly functions: Readonly<Record<string, LambdaHandler>>;
  /**
   * SageMaker by API action (`createModel`, `createTransformJob`, ...); `.sync` actions resolve when the
   * job ends. `stopped` aborts when the execution is stopped: Step Functions then stops the job a `.sync`
   * task waits for (and runs no Catch, so nothing deletes the model; the orphan sweeper does).
   */
  readonly sageMaker: Readonly<Record<string, (input: Json, stopped: AbortSignal) => Promise<unknown>>>;
  /** S3 by API action (`copyObject`), as the AWS SDK integrations call it. */
  readonly s3: Readonly<Record<string, (input: Json) => Promise<unknown>>>;
}

export interface RunOptions {
  /** Seconds to wait instead of a Wait state's own, by state name. */
  readonly waitTimeOverrides?: Record<string, number>;
  /** Milliseconds between retries instead of the Retry's own, by state name. */
  readonly retryIntervalOverrides?: Record<string, number>;
  /** Every state machine event, as it happens: what progress reports are made of. */
  readonly onEvent?: (event: EventLog) => void;
  /** Stops the execution, as StopExecution does; it ends ABORTED once the tasks under way have ended. */
  readonly signal?: AbortSignal;
}

export type ExecutionOutcome =
  | { readonly status: 'SUCCEEDED'; readonly output: Record<string, unknown> }
  | { readonly status: 'FAILED'; readonly error: { readonly name: string; readonly message: string } }
  | { readonly status: 'ABORTED' };

/** The task a resource ARN names: a Lambda function, or a SageMaker or S3 action through Step Functions. */
export function taskTarget(
  resource: string,
): { kind: 'function'; name: string } | { kind: 'sageMaker' | 's3'; action: string } {
  const lambda = /^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:([^:]+)$/.exec(resource);
  if (lambda?.[1]) return { kind: 'function', name: lambda[1].charAt(0).toLowerCase() + lambda[1].slice(1) };
  const sageMaker = /^arn:aws[\w-]*:states:::(?:aws-sdk:)?sagemaker:(\w+)(?:\.sync)?$/.exec(resource);
  if (sageMaker?.[1]) return { kind: 'sageMaker', action: sageMaker[1] };
  const s3 = /^arn:aws[\w-]*:states:::aws-sdk:s3:(\w+)$/.exec(resource);
  if (s3?.[1]) return { kind: 's3', action: s3[1] };
  throw new Error(`no local target for the resource ${resource}`);
}

/**
 * Runs `statemachine/pipeline.asl.json` through the ASL interpreter. Each Task state is served by the
 * target its Resource names, found by walking the definition: the flow is only in the ASL file.
 */
export async function runExecution(
  name: string,
  input: Record<string, unknown>,
  targets: TaskTargets,
  options: RunOptions = {},
): Promise<ExecutionOutcome> {
  const definition = await loadDefinition();
  const machine = await loadStateMachine();
  const { ExecutionAbortedError, ExecutionError } = await loadInterpreter();
  const stopped = new AbortController();
  // Tasks under way: the interpreter lets go of them when the execution is stopped, but they go on.
  const running = new Set<Promise<unknown>>();
  const track = <T>(task: Promise<T>): Promise<T> => {
    running.add(task);
    const done = (): void => void running.delete(task);
    task.then(done, done);
    return task;
  };
  const handlers: Record<string, (input: Json) => Promise<Json>> = {};
  for (const [state, resource] of taskResources(definition)) {
    const target = taskTarget(resource);
    if (target.kind === 'function') {
      const handler = targets.functions[target.name];
      if (!handler) throw new Error(`no local handler for the function ${target.name} (state ${state})`);
      handlers[state] = async (event) => asStateData(await track(handler(event, lambdaContext(target.name))));
    } else if (target.kind === 's3') {
      const action = targets.s3[target.action];
      if (!action) throw new Error(`no local S3 action ${target.action} (state ${state})`);
      handlers[state] = async (event) => asStateData(await track(action(event)));
    } else {
      const action = targets.sageMaker[target.action];
      if (!action) throw new Error(`no local SageMaker action ${target.action} (state ${state})`);
      handlers[state] = async (event) => asStateData(await track(action(event, stopped.signal)));
    }
  }
  const execution = machine.run(input as Json, {
    context: { Execution: { Name: name, Id: `local:execution:${name}` } },
    overrides: {
      taskResourceLocalHandlers: handlers,
      ...(options.waitTimeOverrides && { waitTimeOverrides: options.waitTimeOverrides }),
      ...(options.retryIntervalOverrides && { retryIntervalOverrides: options.retryIntervalOverrides }),
    },
  });
  const stop = (): void => {
    stopped.abort();
    execution.abort();
  };
  if (options.signal?.aborted) stop();
  else options.signal?.addEventListener('abort', stop, { once: true });
  const onEvent = options.onEvent;
  const events = onEvent
    ? (async () => {
        for await (const event of execution.eventLogs) onEvent(event);
      })()
    : undefined;
  try {
    const output = (await execution.result) as Record<string, unknown>;
    return { status: 'SUCCEEDED', output };
  } catch (error) {
    if (error instanceof ExecutionError) {
      const cause = error.cause as Error;
      return { status: 'FAILED', error: { name: cause.name, message: cause.message } };
    }
    if (error instanceof ExecutionAbortedError) {
      await Promise.allSettled(running);
      return { status: 'ABORTED' };
    }
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', stop);
    await events;
  }
}

/** Every Task state with its Resource, including those inside Map states. */
function* taskResources(definition: Record<string, unknown>): Generator<[string, string]> {
  const states = (definition.States ?? {}) as Record<string, Record<string, unknown>>;
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task' && typeof state.Resource === 'string') yield [name, state.Resource];
    const processor = (state.ItemProcessor ?? state.Iterator) as Record<string, unknown> | undefined;
    if (processor) yield* taskResources(processor);
  }
}

/** What Lambda does to a result on its way to Step Functions: JSON, nothing else. */
function asStateData(result: unknown): Json {
  return (result === undefined ? null : JSON.parse(JSON.stringify(result))) as Json;
}

/** The context Lambda gives a handler, for a function run on this machine. */
export function lambdaContext(functionName: string): Context {
  const deadline = Date.now() + 15 * 60 * 1000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
