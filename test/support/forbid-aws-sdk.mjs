// `node --import ./test/support/forbid-aws-sdk.mjs ...`: any import of the AWS SDK fails, naming who
// imported it. Local mode must run without it.
import { register } from 'node:module';

register(
  `data:text/javascript,${encodeURIComponent(`
    export async function resolve(specifier, context, next) {
      if (specifier.startsWith('@aws-sdk/')) {
        throw new Error('local mode imported ' + specifier + ' from ' + context.parentURL);
      }
      return next(specifier, context);
    }
  `)}`,
);
