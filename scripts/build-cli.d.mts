export const BUILD_DIR: string;
export function buildCli(outdir?: string): Promise<string>;
