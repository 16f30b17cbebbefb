import { createHash } from 'node:crypto';
import type { Executions } from '../ports/executions.ts';
import { INBOX } from '../steps/layout.ts';

export interface UploadedObject {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly versionId?: string;
}

/**
 * How long an inbox job waits before it is planned (a Wait state), so that a sidecar `<input>.job.json`
 * uploaded just after its file is still read.
 */
export const SIDECAR_GRACE_SECONDS = 15;

export interface InboxResult {
  readonly started: { key: string; executionArn: string }[];
  readonly repeated: { key: string; executionArn: string }[];
  readonly skipped: { key: string; reason: string }[];
}

/** S3 writes keys in event notifications URL-encoded, with '+' for a space. */
export function decodeEventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/**
 * One execution per uploaded object version: the name is derived from the bucket, the key and the
 * version (or ETag), so S3 delivering the same event again, or twice at once, starts nothing more.
 * Sidecars (`*.job.json`), folder markers and empty objects start nothing; a sidecar uploaded up to
 * SIDECAR_GRACE_SECONDS after its file still applies, as the execution waits that long before planning.
 */
export async function startForUploads(
  objects: readonly UploadedObject[],
  executions: Executions,
): Promise<InboxResult> {
  const result: InboxResult = { started: [], repeated: [], skipped: [] };
  for (const object of objects) {
    const reason = skipReason(object);
    if (reason) {
      result.skipped.push({ key: object.key, reason });
      continue;
    }
    const name = executionName(object);
    const input = {
      inputs: [object.key],
      source: {
        bucket: object.bucket,
        key: object.key,
        etag: object.etag,
        ...(object.versionId && { versionId: object.versionId }),
      },
      settleSeconds: SIDECAR_GRACE_SECONDS,
    };
    const { executionArn, started } = await executions.start(name, input);
    (started ? result.started : result.repeated).push({ key: object.key, executionArn });
  }
  return result;
}

function skipReason(object: UploadedObject): string | undefined {
  if (!object.key.startsWith(INBOX)) return 'not in the inbox';
  if (object.key.endsWith('/')) return 'a folder marker';
  if (object.key.endsWith('.job.json')) return 'a job spec sidecar, read when its input is planned';
  if (object.size === 0) return 'empty';
  return undefined;
}

/**
 * `inbox-<readable part of the file name>-<hash>`: at most 80 characters of [A-Za-z0-9-_], as Step
 * Functions requires, and the same for the same object version.
 */
export function executionName(object: UploadedObject): string {
  const version = object.versionId ?? object.etag.replace(/"/g, '');
  const hash = createHash('sha256')
    .update(`${object.bucket}\n${object.key}\n${version}`)
    .digest('hex')
    .slice(0, 20);
  const file = object.key.slice(object.key.lastIndexOf('/') + 1);
  const readable = file
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `inbox-${readable ? `${readable}-` : ''}${hash}`;
}
