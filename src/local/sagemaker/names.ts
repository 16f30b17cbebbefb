import { validationError } from '../errors.ts';

/**
 * SageMaker's resource names and ARNs, and its request validation messages (`1 validation error
 * detected: ...`), for the local SageMaker's resources.
 */
const ARN_PREFIX = 'arn:aws:sagemaker:us-east-1:000000000000';
export const NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;

export type ResourceKind = 'model' | 'transform-job' | 'training-job' | 'endpoint' | 'endpoint-config';

export function arn(kind: ResourceKind, name: string): string {
  return `${ARN_PREFIX}:${kind}/${name.toLowerCase()}`;
}

export function checkName(field: string, name: string | undefined): string {
  if (name === undefined) throw missing(field);
  if (!NAME_PATTERN.test(name)) {
    throw validationError(
      `1 validation error detected: Value '${name}' at '${field}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${NAME_PATTERN.source.slice(1, -1)}`,
    );
  }
  return name;
}

export function checkInteger(field: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  let rule: string | undefined;
  if (!Number.isInteger(value)) rule = 'be an integer';
  else if (value < min) rule = `have value greater than or equal to ${min}`;
  else if (value > max) rule = `have value less than or equal to ${max}`;
  if (rule) {
    throw validationError(
      `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: Member must ${rule}`,
    );
  }
}

export function checkOneOf(field: string, value: string | undefined, allowed: readonly string[]): void {
  if (value === undefined || allowed.includes(value)) return;
  throw validationError(
    `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(', ')}]`,
  );
}

export function missing(field: string) {
  return validationError(
    `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`,
  );
}
