import { register } from 'node:module';

/**
 * The ASL interpreter library. It imports the AWS SDK's Lambda client and credentials (to call deployed
 * functions, which local mode never does: every task has a local handler) and asl-validator (to check
 * a definition, which interpreter.ts does itself, once per definition); those imports cost most of a
 * second, so module hooks (interpreter-hooks.ts) give it stand-ins. The build of the command line
 * (scripts/build-cli.mjs) bundles the library with the stand-ins instead, and needs no hooks.
 */
export function importInterpreterLibrary(): Promise<typeof import('aws-local-stepfunctions')> {
  register(new URL('./interpreter-hooks.ts', import.meta.url));
  return import('aws-local-stepfunctions');
}
