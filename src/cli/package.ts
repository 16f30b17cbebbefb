import { ModelLayoutError } from '../local/errors.ts';
import { packageModel } from '../local/package-model.ts';
import { UsageError } from './errors.ts';
import type { Output } from './usage.ts';

/** `pipeline package`: a checked model.tar.gz for the TFS container, or exit 2 naming the broken rule. */
export async function packageCommand(
  options: { modelDir: string; codeDir?: string; out: string },
  output: Output,
): Promise<number> {
  let packed: string[];
  try {
    packed = await packageModel(options);
  } catch (error) {
    if (error instanceof ModelLayoutError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  output.stderr(`Packaged ${packed.join(', ')} into ${options.out}\n`);
  output.stdout(`${options.out}\n`);
  return 0;
}
