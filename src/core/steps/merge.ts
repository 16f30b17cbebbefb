import { type InputSummary, mergeGroup } from '../merge/merger.ts';
import { mergeObjects, type ObjectsSummary } from '../merge/whole-objects.ts';
import { type ObjectStore, readText, storedInput, writeText } from '../ports/object-store.ts';
import { inputRecords } from '../shard/sharder.ts';
import { type CompiledJob, inputBytes, inputReading } from '../spec/compile.ts';
import { groupInputs, type InputGroup, type InputPart } from './inputs.ts';
import {
  indexKey,
  mergedKey,
  mergeErrorsKey,
  objectOutputKey,
  partOutputKey,
  predictionsPartKey,
  resultsPrefix,
  shardOutputKey,
} from './layout.ts';
import { objectTooLarge } from './manifest.ts';
import type { Plan } from './plan.ts';
import type { GroupedInput, GroupIndex } from './shard.ts';

/** What Merge leaves in work/<jobId>/merged/<group>.json for Finish. */
export type MergedGroup =
  | { readonly kind: 'inputs'; readonly inputs: MergedInput[] }
  | ({ readonly kind: 'objects' } & ObjectsSummary);

/** One input's counts and output; a part of a split input's, which Finish joins with the other parts. */
export type MergedInput = InputSummary & {
  readonly output: string;
  readonly part?: Pick<InputPart, 'part' | 'parts' | 'rows'> & { readonly index: number };
};

/** What Merge returns to the state machine: small, whatever the group holds. */
export interface MergeResult {
  readonly group: number;
  readonly records: { in: number; out: number; errors: number };
}

/** How the transform ran, as far as Merge needs it: where a whole-object job's objects are. */
export interface MergeContext {
  readonly transform: Pick<Plan['transform'], 'objects'>;
  /** The transform job's failure, caught so that a whole-object job's other objects are still merged. */
  readonly transformFailure?: { readonly Error?: string; readonly Cause?: string };
}

/**
 * Merge step, once per group: each input's transform outputs, back in input order, into
 * `results/<jobId>/<name>.out`; for a whole-object job, the group's lines of predictions.jsonl.
 */
export async function mergeStep(
  store: ObjectStore,
  jobId: string,
  job: CompiledJob,
  group: InputGroup,
  context: MergeContext,
): Promise<MergeResult> {
  const { objects } = context.transform;
  const merged = objects
    ? await mergeObjectsOfGroup(store, jobId, job, group, objects.prefix, failureReason(context))
    : await mergeInputsOfGroup(store, jobId, job, group);
  await writeText(store, mergedKey(jobId, group.group), JSON.stringify(merged));
  const totals = { in: 0, out: 0, errors: 0 };
  if (merged.kind === 'objects') {
    Object.assign(totals, { in: merged.records, out: merged.out, errors: merged.errors });
  } else {
    for (const input of merged.inputs) {
      totals.in += input.records;
      totals.out += input.out;
      totals.errors += input.errors;
    }
  }
  return { group: group.group, records: totals };
}

async function mergeInputsOfGroup(
  store: ObjectStore,
  jobId: string,
  job: CompiledJob,
  group: InputGroup,
): Promise<MergedGroup> {
  const index = JSON.parse(await readText(store, indexKey(jobId, group.group))) as GroupIndex;
  const { joinSource } = job.spec.dataProcessing;
  // A part's lines go to a work file: Finish joins the parts, in order, into the input's output.
  const outputOf = (input: GroupedInput) =>
    input.part
      ? partOutputKey(jobId, input.index, input.part.part)
      : `${resultsPrefix(jobId)}${input.input}.out`;
  const summaries = await mergeGroup(
    index,
    `group ${group.group}`,
    {
      shardOutput: (shard) => store.read(shardOutputKey(jobId, group.group, shard, job.shards.extension)),
      ...(joinSource === 'Input' && {
        inputRecords: async ({ key, size, input, part }) =>
          inputRecords(inputBytes(job, key, input, storedInput(store, key, size)), {
            ...inputReading(job, key, input),
            ...(part && { rowGroups: part.rowGroups }),
          }),
      }),
    },
    {
      tfsMethod: job.spec.tfsMethod,
      joinSource,
      ...(job.outputFilter && { outputFilter: job.outputFilter }),
      csvInput: job.records.decoding === 'csv',
    },
    {
      out: (input) => store.write(outputOf(input)),
      errors: await store.write(mergeErrorsKey(jobId, group.group)),
    },
  );
  return {
    kind: 'inputs',
    inputs: summaries.map((summary, k) => {
      const input = index.inputs[k] as GroupedInput;
      const { part } = input;
      return {
        ...summary,
        output: outputOf(input),
        ...(part && { part: { index: input.index, part: part.part, parts: part.parts, rows: part.rows } }),
      };
    }),
  };
}

async function mergeObjectsOfGroup(
  store: ObjectStore,
  jobId: string,
  job: CompiledJob,
  group: InputGroup,
  prefix: string,
  missingReason: string,
): Promise<MergedGroup> {
  const summary = await mergeObjects(
    groupInputs(store, jobId, group),
    {
      answer: async ({ key }) => {
        const output = objectOutputKey(jobId, key.slice(prefix.length));
        return (await store.head(output)) ? store.read(output) : undefined;
      },
      refused: (object) => objectTooLarge(job, object.size),
      missingReason,
    },
    {
      out: await store.write(predictionsPartKey(jobId, group.group)),
      errors: await store.write(mergeErrorsKey(jobId, group.group)),
    },
  );
  return { kind: 'objects', ...summary };
}

/** The reason a whole object has no answer: what SageMaker said when the transform job failed. */
function failureReason({ transformFailure }: MergeContext): string {
  const cause = transformFailure?.Cause;
  if (cause === undefined) return 'the transform job wrote no output for it';
  try {
    const described = JSON.parse(cause) as { FailureReason?: unknown };
    if (typeof described.FailureReason === 'string') return described.FailureReason;
  } catch {
    // Not DescribeTransformJob's JSON: the cause is the reason as it stands.
  }
  return cause;
}
