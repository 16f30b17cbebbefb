import en from 'zod/v4/locales/en.js';

/**
 * Parse options that give zod/mini's issues English messages, for the errors users read (a job spec
 * field, an event). zod/mini carries no messages of its own, which keeps the Lambda bundles small.
 */
export const IN_ENGLISH = { error: en().localeError } as const;
