import { getParameter } from '@aws-lambda-powertools/parameters/ssm';
import { ConfigurationError } from '../core/errors.ts';

/** How long a secret read from Parameter Store is kept before it is read again (a rotation shows). */
const SECRET_MAX_AGE_SECONDS = 300;

/** A SecureString from Parameter Store, decrypted, cached for a few minutes; never logged. */
export function ssmSecret(name: string): () => Promise<string> {
  return async () => {
    const value = await getParameter(name, { decrypt: true, maxAge: SECRET_MAX_AGE_SECONDS });
    if (!value) throw new ConfigurationError(`parameter ${name} is empty`);
    return value;
  };
}
