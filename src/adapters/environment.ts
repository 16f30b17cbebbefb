import { ConfigurationError } from '../core/errors.ts';

/** A variable the deployment sets for the function; its absence is a deployment error. */
export function requiredVariable(environment: NodeJS.ProcessEnv, name: string): string {
  const value = environment[name];
  if (!value) throw new ConfigurationError(`environment variable ${name} is not set`);
  return value;
}
