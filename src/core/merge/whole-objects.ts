import { abandon, type ByteSink, Staging } from '../io.ts';

/** An input object of a whole-object job, as listed. */
export interface WholeObject {
  readonly key: string;
  readonly name: string;
  readonly size: number;
  /** Which requested input (file or folder) it was listed from. */
  readonly request: number;
}

export interface ObjectCounts {
  readonly records: number;
  readonly out: number;
  readonly errors: number;
}

export interface ObjectsSummary extends ObjectCounts {
  /** The counts of each requested input that had objects here, by its place in the request. */
  readonly requests: (ObjectCounts & { readonly request: number })[];
}

export interface ObjectsMergeSources {
  /** The transform job's answer for an object, or undefined when it wrote none. */
  readonly answer: (object: WholeObject) => Promise<AsyncIterable<Buffer> | undefined>;
  /** Why an object was not sent at all (too large for one request), or undefined. */
  readonly refused: (object: WholeObject) => string | undefined;
  /** Why an object has no answer: the transform job's failure reason, when it failed. */
  readonly missingReason: string;
}

const TRAILING_NEWLINE = /\r?\n$/;

/**
 * Writes one line of predictions.jsonl per object, in order, `{"input", "SageMakerOutput"}` with the
 * answer parsed when it is JSON and as text otherwise; an object with no answer is a row of the errors
 * instead. Every object ends up in exactly one of the two.
 */
export async function mergeObjects(
  objects: AsyncIterable<WholeObject>,
  sources: ObjectsMergeSources,
  targets: { out: ByteSink; errors: ByteSink },
): Promise<ObjectsSummary> {
  const lines = new Staging();
  const errorRows = new Staging();
  const requests = new Map<number, { request: number; records: number; out: number; errors: number }>();
  const totals = { records: 0, out: 0, errors: 0 };
  try {
    for await (const object of objects) {
      let counts = requests.get(object.request);
      if (!counts) {
        counts = { request: object.request, records: 0, out: 0, errors: 0 };
        requests.set(object.request, counts);
      }
      counts.records++;
      totals.records++;
      const refused = sources.refused(object);
      const answer = refused === undefined ? await sources.answer(object) : undefined;
      if (answer) {
        lines.appendString(
          `${JSON.stringify({ input: object.name, SageMakerOutput: await parsed(answer) })}\n`,
        );
        counts.out++;
        totals.out++;
      } else {
        const reason = refused ?? sources.missingReason;
        errorRows.appendString(`${JSON.stringify({ input: object.name, record: 1, reason })}\n`);
        counts.errors++;
        totals.errors++;
      }
      if (lines.size >= 1 << 20) for (const chunk of lines.drain()) await targets.out.write(chunk);
      if (errorRows.size >= 1 << 20) for (const chunk of errorRows.drain()) await targets.errors.write(chunk);
    }
    for (const chunk of lines.drain()) await targets.out.write(chunk);
    for (const chunk of errorRows.drain()) await targets.errors.write(chunk);
    await targets.errors.close();
    await targets.out.close();
  } catch (error) {
    await abandon([targets.out, targets.errors], error);
  }
  return { ...totals, requests: [...requests.values()] };
}

/** One object's answer: JSON when it parses (a trailing newline, which AssembleWith Line adds, aside), else text. */
async function parsed(answer: AsyncIterable<Buffer>): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of answer) chunks.push(Buffer.from(chunk));
  const text = Buffer.concat(chunks).toString('utf8').replace(TRAILING_NEWLINE, '');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
