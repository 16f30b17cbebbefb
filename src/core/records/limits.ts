/**
 * Why a record is quarantined or refused when it is larger than one request may carry. `encoded`: the
 * size is that of the record as it would be sent (an instance line or a framed record), not as read.
 */
export function recordTooLarge(size: number | bigint, limit: number, { encoded = false } = {}): string {
  const measured = encoded ? ' once encoded' : '';
  return `record is ${size} bytes${measured}, over the request limit of ${limit} bytes (maxPayloadInMB)`;
}
