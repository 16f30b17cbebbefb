import { ConfigurationError } from '../core/errors.ts';

/** A variable the deployment sets for the function; its absence is a deployment error. */
export function requiredVariable(environment: NodeJS.ProcessEnv, name: string): string {
  const value = environment[name];
  if (!value) throw new ConfigurationError(`environment variable ${name} is not set`);
  return value;
}

/** A variable holding a positive whole number of bytes, when it is set; anything else is a deployment error. */
export function optionalBytes(environment: NodeJS.ProcessEnv, name: string): number | undefined {
  const value = environment[name];
  if (!value) return undefined;
  const bytes = Number(value);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new ConfigurationError(
      `environment variable ${name} must be a positive whole number of bytes, not ${value}`,
    );
  }
  return bytes;
}
