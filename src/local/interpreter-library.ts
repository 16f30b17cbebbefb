import { registerHooks } from 'node:module';

/** The imports of the interpreter library that local mode never needs. */
const STANDS_IN_FOR = new Set(['@aws-sdk/client-lambda', '@aws-sdk/credential-providers', 'asl-validator']);
const STAND_IN = new URL('./interpreter-stand-in.ts', import.meta.url).href;

/**
 * The ASL interpreter library. It imports the AWS SDK's Lambda client and credentials (to call deployed
 * functions, which local mode never does: every task has a local handler) and asl-validator (to check
 * a definition, which interpreter.ts does itself, once per definition); those imports cost most of a
 * second, so a module hook on this thread gives it a stand-in instead. The build of the command line
 * (scripts/build-cli.mjs) bundles the library with the stand-in, and needs no hook.
 */
export function importInterpreterLibrary(): Promise<typeof import('aws-local-stepfunctions')> {
  registerHooks({
    resolve(specifier, context, next) {
      if (
        STANDS_IN_FOR.has(specifier) &&
        context.parentURL?.includes('/node_modules/aws-local-stepfunctions/')
      ) {
        return { url: STAND_IN, shortCircuit: true };
      }
      return next(specifier, context);
    },
  });
  return import('aws-local-stepfunctions');
}
