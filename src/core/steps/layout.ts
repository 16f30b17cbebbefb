/**
 * Where a job's objects live, the same in S3 and in a local folder:
 *   inbox/<path>                                   inputs
 *   work/<jobId>/shards/<input>/<n>.<ext>          what the transform job reads
 *   work/<jobId>/outputs/<input>/<n>.<ext>.out     what it writes (SageMaker appends .out)
 *   work/<jobId>/index/<input>.json                a shard index, for the merge
 *   work/<jobId>/errors/<input>.jsonl              records quarantined by Shard and by Merge
 *   work/<jobId>/merged/<input>.json               an input's counts, for Finish
 *   results/<jobId>/<path>.out, _errors.jsonl, _summary.json
 */
export const INBOX = 'inbox/';

export function workPrefix(jobId: string): string {
  return `work/${jobId}/`;
}

export function shardsPrefix(jobId: string): string {
  return `work/${jobId}/shards/`;
}

export function outputsPrefix(jobId: string): string {
  return `work/${jobId}/outputs/`;
}

export function shardKey(jobId: string, input: number, shard: number, extension: string): string {
  return `${shardsPrefix(jobId)}${input}/${shard}.${extension}`;
}

export function shardOutputKey(jobId: string, input: number, shard: number, extension: string): string {
  return `${outputsPrefix(jobId)}${input}/${shard}.${extension}.out`;
}

export function indexKey(jobId: string, input: number): string {
  return `work/${jobId}/index/${input}.json`;
}

export function shardErrorsKey(jobId: string, input: number): string {
  return `work/${jobId}/errors/${input}.jsonl`;
}

export function mergeErrorsKey(jobId: string, input: number): string {
  return `work/${jobId}/errors/${input}.merge.jsonl`;
}

export function mergedKey(jobId: string, input: number): string {
  return `work/${jobId}/merged/${input}.json`;
}

export function resultsPrefix(jobId: string): string {
  return `results/${jobId}/`;
}

/** Written last: its presence means the job's results are complete. */
export function summaryKey(jobId: string): string {
  return `${resultsPrefix(jobId)}_summary.json`;
}

/** An input's name in the results: its path relative to the inbox. */
export function inputName(key: string): string {
  return key.startsWith(INBOX) ? key.slice(INBOX.length) : key;
}

/**
 * Whether an object below a folder of inputs (a dataset, a batch) is one of them: not a folder marker,
 * a hidden file or a file in a hidden folder (a checksum Hadoop wrote), a job spec sidecar, or a
 * `_SUCCESS` marker (Spark's, which some committers fill with a manifest). `relative` is its key below
 * the folder.
 */
export function isInputObject(relative: string, size: number): boolean {
  const parts = relative.split('/');
  const file = parts.at(-1) ?? '';
  return (
    size > 0 &&
    file !== '' &&
    file !== '_SUCCESS' &&
    !file.endsWith('.job.json') &&
    !parts.some((part) => part.startsWith('.'))
  );
}
