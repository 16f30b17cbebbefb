/**
 * Where a job's objects live, the same in S3 and in a local folder. Inputs come in groups (consecutive
 * inputs, bounded by count and bytes); Shard and Merge run once per group.
 *   inbox/<path>                                   inputs
 *   work/<jobId>/inputs/<group>.jsonl              the group's inputs, one {index,key,name,size,request} a line;
 *                                                    a part of a large Parquet file is a group alone, its
 *                                                    entry with part {part,parts,rowGroups:{first,end},rows,bytes}
 *   work/<jobId>/manifest.json                     whole-object jobs: the objects SageMaker reads (ManifestFile)
 *   work/<jobId>/shards/<group>/<n>.<ext>          what the transform job reads: the group's inputs' records
 *   work/<jobId>/outputs/<group>/<n>.<ext>.out     what it writes (SageMaker appends .out); for whole-object
 *   work/<jobId>/outputs/<object>.out                jobs, each object's answer, by its key below the manifest prefix
 *   work/<jobId>/index/<group>.json                the group's shards and each input's records in them, for the merge
 *   work/<jobId>/errors/<group>.jsonl              records quarantined by Shard (and .merge.jsonl: by Merge)
 *   work/<jobId>/predictions/<group>.jsonl         whole-object jobs: the group's lines of predictions.jsonl
 *   work/<jobId>/merged/<group>.json               the group's counts, for Finish
 *   work/<jobId>/parts/<index>/<part>.out          a part's output lines, which Finish joins into <path>.out
 *   results/<jobId>/<path>.out (predictions.jsonl for whole-object jobs), _errors.jsonl, _summary.json
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

export function inputsKey(jobId: string, group: number): string {
  return `work/${jobId}/inputs/${group}.jsonl`;
}

export function manifestKey(jobId: string): string {
  return `work/${jobId}/manifest.json`;
}

export function shardKey(jobId: string, group: number, shard: number, extension: string): string {
  return `${shardsPrefix(jobId)}${group}/${shard}.${extension}`;
}

export function shardOutputKey(jobId: string, group: number, shard: number, extension: string): string {
  return `${outputsPrefix(jobId)}${group}/${shard}.${extension}.out`;
}

/** Where the transform job writes a whole object's answer: its key below the manifest's prefix, plus .out. */
export function objectOutputKey(jobId: string, relative: string): string {
  return `${outputsPrefix(jobId)}${relative}.out`;
}

export function indexKey(jobId: string, group: number): string {
  return `work/${jobId}/index/${group}.json`;
}

export function shardErrorsKey(jobId: string, group: number): string {
  return `work/${jobId}/errors/${group}.jsonl`;
}

export function mergeErrorsKey(jobId: string, group: number): string {
  return `work/${jobId}/errors/${group}.merge.jsonl`;
}

export function predictionsPartKey(jobId: string, group: number): string {
  return `work/${jobId}/predictions/${group}.jsonl`;
}

/** A part of a split input's output: the input's index among the job's inputs, and the part's number. */
export function partOutputKey(jobId: string, input: number, part: number): string {
  return `work/${jobId}/parts/${input}/${part}.out`;
}

export function mergedKey(jobId: string, group: number): string {
  return `work/${jobId}/merged/${group}.json`;
}

export function resultsPrefix(jobId: string): string {
  return `results/${jobId}/`;
}

/** Whole-object jobs: one line per input object, in key order. */
export function predictionsKey(jobId: string): string {
  return `${resultsPrefix(jobId)}predictions.jsonl`;
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
