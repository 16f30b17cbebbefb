import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { StateMachine } from 'aws-local-stepfunctions';
import { DEFINITION_PATH, loadDefinition } from './asl.ts';
import { importInterpreterLibrary } from './interpreter-library.ts';
import { MARKS } from './marks.ts';

type Interpreter = typeof import('aws-local-stepfunctions');

/** Where a definition that passed validation is remembered, by the hash of its file. */
// Kept out of node_modules: npm takes any change there as a reason to read the whole tree again.
const VALIDATED = fileURLToPath(new URL('../../.cache/validated/', import.meta.url));

let interpreter: Promise<Interpreter> | undefined;
let machine: Promise<StateMachine> | undefined;

/** The interpreter library, loaded once, without the AWS SDK and validator it would load for nothing. */
export function loadInterpreter(): Promise<Interpreter> {
  interpreter ??= (async () => {
    return importInterpreterLibrary();
  })();
  return interpreter;
}

/**
 * The state machine of `statemachine/pipeline.asl.json`, built once per process. Its definition is
 * validated the first time it is seen and not again while the file is unchanged: validation takes
 * about a second, and the file changes only with the code.
 */
export function loadStateMachine(): Promise<StateMachine> {
  machine ??= (async () => {
    const { StateMachine } = await loadInterpreter();
    const definition = await loadDefinition();
    const marker = `${VALIDATED}asl-${createHash('sha256')
      .update(await readFile(DEFINITION_PATH))
      .digest('hex')}`;
    if (
      !(await readFile(marker).then(
        () => true,
        () => false,
      ))
    ) {
      await validate(definition);
      await mkdir(VALIDATED, { recursive: true })
        .then(() => writeFile(marker, ''))
        .catch(() => undefined);
    }
    const machine = new StateMachine(definition as never, { validationOptions: { noValidate: true } });
    performance.mark(MARKS.stateMachine);
    return machine;
  })();
  machine.catch(() => {
    machine = undefined;
  });
  return machine;
}

async function validate(definition: Record<string, unknown>): Promise<void> {
  const { default: aslValidator } = await import('asl-validator');
  const { isValid, errorsText } = aslValidator(definition, { checkArn: false, checkPaths: true });
  if (!isValid) throw new Error(`${DEFINITION_PATH} is not a valid state machine:\n${errorsText('\n')}`);
}
