/**
 * What the ASL interpreter library gets instead of the AWS SDK's Lambda client and of asl-validator
 * (see interpreter-hooks.ts). Local mode never reaches them; if it ever did, it says so.
 */
function unused(what: string): never {
  throw new Error(`local mode does not use the interpreter's ${what}`);
}

export class LambdaClient {
  constructor() {
    unused('AWS Lambda client');
  }
}

export class InvokeCommand {
  constructor() {
    unused('AWS Lambda client');
  }
}

export function fromCognitoIdentityPool(): never {
  return unused('AWS credentials');
}

export default function aslValidator(): never {
  return unused('definition validator');
}
