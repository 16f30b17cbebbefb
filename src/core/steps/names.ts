/** A name SageMaker accepts: [A-Za-z0-9] with single dashes, at most 63 characters. */
export function sageMakerName(jobId: string): string {
  const cleaned = jobId
    .replace(/[^A-Za-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  if (cleaned.length > 0 && cleaned.length <= 63) return cleaned;
  let hash = 0;
  for (const c of jobId) hash = (Math.imul(hash, 31) + (c.codePointAt(0) ?? 0)) >>> 0;
  return `${cleaned.slice(0, 54).replace(/-$/, '') || 'job'}-${hash.toString(16).padStart(8, '0')}`;
}
