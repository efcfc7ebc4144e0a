/** Where an S3 store keeps its objects: a bucket, and a key prefix inside it ('' for the bucket's root). */
export interface S3Location { bucket: string, prefix: string }

/**
 * STORAGE_URL, `s3://bucket` or `s3://bucket/some/prefix`: null when it is anything else. The bucket
 * follows S3's naming rules (3 to 63 of a-z 0-9 . -); the prefix, the characters storage keys use.
 * Credentials never sit in it: they come from the environment, as the AWS SDK reads them.
 */
export function parseStorageUrl (url: string): S3Location | null {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/([A-Za-z0-9._/-]*))?$/.exec(url)
  if (!m) return null
  const prefix = (m[2] ?? '').replace(/\/+$/, '')
  if (prefix !== '' && prefix.split('/').some((p) => p === '' || p === '.' || p === '..')) return null
  return { bucket: m[1]!, prefix }
}

/** Whether the value carries userinfo (`s3://key:secret@bucket`), which STORAGE_URL refuses. */
export const hasUserinfo = (url: string): boolean => /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url)
