import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const DEFINITION_PATH = fileURLToPath(
  new URL('../../statemachine/pipeline.asl.json', import.meta.url),
);

/**
 * The state machine definition as it runs outside CloudFormation: the `Fn::GetAtt` references the
 * file makes to the stack's functions and roles become ARNs of this account-less local stack. The
 * flow itself is read from the file unchanged; there is no second copy of it.
 */
export async function loadDefinition(path = DEFINITION_PATH): Promise<Record<string, unknown>> {
  const definition = JSON.parse(await readFile(path, 'utf8')) as unknown;
  return resolveReferences(definition) as Record<string, unknown>;
}

function resolveReferences(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolveReferences);
  if (typeof value !== 'object' || value === null) return value;
  const reference = (value as Record<string, unknown>)['Fn::GetAtt'];
  if (Array.isArray(reference) && typeof reference[0] === 'string') return localArn(reference[0]);
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, resolveReferences(inner)]));
}

function localArn(logicalId: string): string {
  return logicalId.endsWith('LambdaFunction')
    ? `arn:aws:lambda:us-east-1:000000000000:function:${logicalId.slice(0, -'LambdaFunction'.length)}`
    : `arn:aws:iam::000000000000:role/${logicalId}`;
}
