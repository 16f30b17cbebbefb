import type { ResolveHook } from 'node:module';

/**
 * Module hooks for the ASL interpreter library: it imports the AWS SDK's Lambda client and
 * credentials (to call deployed functions, which local mode never does: every task has a local
 * handler) and asl-validator (to check a definition, which interpreter.ts does itself, once per
 * definition). Those imports cost most of a second; here they get a stand-in that refuses to be used.
 */
const STANDS_IN_FOR = new Set(['@aws-sdk/client-lambda', '@aws-sdk/credential-providers', 'asl-validator']);
const STAND_IN = new URL('./interpreter-stand-in.ts', import.meta.url).href;

export const resolve: ResolveHook = (specifier, context, next) => {
  if (STANDS_IN_FOR.has(specifier) && context.parentURL?.includes('/node_modules/aws-local-stepfunctions/')) {
    return { url: STAND_IN, shortCircuit: true };
  }
  return next(specifier, context);
};
