import { type ObjectStore, storedInput } from '../ports/object-store.ts';
import type { ParquetRowGroup } from '../records/parquet.ts';
import { type CompiledJob, isParquetInput } from '../spec/compile.ts';
import type { InputPart, PlannedInput } from './inputs.ts';

/**
 * The most bytes of a Parquet file one Shard invocation reads, unless the deployment says otherwise: a
 * larger file is split by row groups across invocations. Reading every column is the slow case: the
 * benchmark's file of 1M rows of 20 doubles (48 MB, snappy) took 19-21 s on a shared 2-core machine
 * (2.4 MB of Parquet a second; its 2-column read, 1 s unloaded, took 2.2 s there). 256 MiB is then
 * about two minutes, a margin of seven under Lambda's 15 minutes for slower cores, wide string columns
 * and a join, which reads the part's rows again in Merge. Each part is a group, and a plan stays under
 * Step Functions' 25,000 events up to about 1,700 groups: a single file of up to about 400 GB.
 */
export const PARQUET_PART_BYTES = 256 * 1024 ** 2;

/**
 * Cuts a file's row groups, in order, into parts of consecutive row groups of at most `bound` bytes
 * each (a row group larger than that is a part alone).
 */
export function cutRowGroups(groups: readonly ParquetRowGroup[], bound: number): InputPart[] {
  const cuts: { first: number; end: number; rows: number; bytes: number }[] = [];
  for (const [k, group] of groups.entries()) {
    const open = cuts.at(-1);
    if (open && open.bytes + group.bytes <= bound) {
      open.end = k + 1;
      open.rows += group.rows;
      open.bytes += group.bytes;
    } else {
      cuts.push({ first: k, end: k + 1, rows: group.rows, bytes: group.bytes });
    }
  }
  return cuts.map((cut, part) => ({
    part,
    parts: cuts.length,
    rowGroups: { first: cut.first, end: cut.end },
    rows: cut.rows,
    bytes: cut.bytes,
  }));
}

/**
 * The parts a Parquet input is read in when it is larger than `bound` bytes, from its footer (a ranged
 * read of its end); undefined when it is read whole: not Parquet, not that large, or one row group.
 */
export async function parquetParts(
  store: ObjectStore,
  job: CompiledJob,
  input: Omit<PlannedInput, 'index'>,
  bound: number,
): Promise<InputPart[] | undefined> {
  if (input.size <= bound || !isParquetInput(job.spec, input.key)) return undefined;
  const { parquetRowGroups } = await import('../records/parquet.ts');
  const parts = cutRowGroups(
    await parquetRowGroups(storedInput(store, input.key, input.size), input.name),
    bound,
  );
  return parts.length > 1 ? parts : undefined;
}
