import type { ResolveHook } from 'node:module';

/**
 * Module hooks that give the ASL interpreter library a stand-in for the AWS SDK and asl-validator (see
 * interpreter-library.ts); every other import resolves as usual.
 */
export const STANDS_IN_FOR = new Set([
  '@aws-sdk/client-lambda',
  '@aws-sdk/credential-providers',
  'asl-validator',
]);
const STAND_IN = new URL('./interpreter-stand-in.ts', import.meta.url).href;

export const resolve: ResolveHook = (specifier, context, next) => {
  if (STANDS_IN_FOR.has(specifier) && context.parentURL?.includes('/node_modules/aws-local-stepfunctions/')) {
    return { url: STAND_IN, shortCircuit: true };
  }
  return next(specifier, context);
};
