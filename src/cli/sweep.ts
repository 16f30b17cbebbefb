import { resolve } from 'node:path';
import type { SageMakerResource } from '../core/ports/sagemaker-resources.ts';
import { LocalStack } from '../local/stack.ts';
import { type LocalSweepResult, sweepLocal } from '../local/sweep.ts';
import type { Output } from './usage.ts';

export interface SweepCommand {
  readonly dataDir: string;
  readonly olderThanHours: number;
  /** Delete what is found; without it, only list it. */
  readonly delete: boolean;
  readonly json: boolean;
}

/**
 * `pipeline sweep`: finds what stopped or crashed runs left in a data dir (models of the local
 * SageMaker, work folders, half-written files) that no running execution owns, and deletes it with
 * `--delete`. Exit status 0, whether or not anything was found.
 */
export async function sweepCommand(command: SweepCommand, output: Output): Promise<number> {
  const stack = new LocalStack({ dataDir: command.dataDir });
  let result: LocalSweepResult;
  try {
    result = await sweepLocal(stack, {
      olderThanHours: command.olderThanHours,
      dryRun: !command.delete,
      now: new Date(),
    });
  } finally {
    await stack.close();
  }
  if (command.json) {
    output.stdout(`${JSON.stringify(result)}\n`);
    return 0;
  }
  const lines: string[] = [];
  const verb = command.delete ? 'deleted' : 'would delete';
  const { sageMaker, work, temporaries } = result;
  for (const resource of command.delete ? sageMaker.deleted : sageMaker.wouldDelete)
    lines.push(`${verb} ${describeResource(resource)}`);
  for (const { resource, reason } of sageMaker.kept)
    lines.push(`kept ${describeResource(resource)}: ${reason}`);
  for (const folder of command.delete ? work.deleted : work.wouldDelete)
    lines.push(`${verb} work/${folder.jobId}/ (${count(folder.objects, 'object')})`);
  for (const { item, reason } of work.kept) lines.push(`kept work/${item.jobId}/: ${reason}`);
  for (const file of command.delete ? temporaries.deleted : temporaries.wouldDelete)
    lines.push(`${verb} ${file.path} (left half-written)`);
  for (const { item, reason } of temporaries.kept) lines.push(`kept ${item.path}: ${reason}`);

  const found =
    sageMaker.deleted.length +
    sageMaker.wouldDelete.length +
    work.deleted.length +
    work.wouldDelete.length +
    temporaries.deleted.length +
    temporaries.wouldDelete.length;
  const root = resolve(command.dataDir);
  if (found === 0) lines.push(`Nothing to sweep in ${root}`);
  else if (!command.delete)
    lines.push(`Dry run, nothing deleted: pipeline sweep --delete deletes these ${found}`);
  output.stdout(`${lines.join('\n')}\n`);
  return 0;
}

function describeResource(resource: SageMakerResource): string {
  return `${resource.kind} ${resource.name} (created ${resource.createdAt.toISOString()})`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
