import type { ByteSink } from '../../src/core/io.ts';
import { MemoryObjects } from './memory.ts';

/** Memory objects whose sinks also remember how they ended: closed, aborted, or not yet. */
export class RecordingObjects extends MemoryObjects {
  private readonly endings = new Map<string, ('closed' | 'aborted')[]>();

  override async sink(name: string): Promise<ByteSink> {
    const inner = await super.sink(name);
    const ended: ('closed' | 'aborted')[] = [];
    this.endings.set(name, ended);
    return {
      write: (chunk) => inner.write(chunk),
      close: async () => {
        await inner.close();
        ended.push('closed');
      },
      abort: async () => {
        await inner.abort();
        ended.push('aborted');
      },
    };
  }

  /** How the sink of this name ended, in call order; undefined when it was never opened. */
  ended(name: string): readonly ('closed' | 'aborted')[] | undefined {
    return this.endings.get(name);
  }
}
