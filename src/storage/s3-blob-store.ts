import { pipeline, Readable } from 'node:stream'
import {
  DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client,
  type S3ClientConfig, type ServerSideEncryption
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { checkedKey, measuring, type BlobStore } from './blob-store.js'
import { parseStorageUrl } from './storage-url.js'

export interface S3BlobStoreOptions {
  /** `s3://bucket/prefix` (STORAGE_URL). */
  url: string
  /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need (STORAGE_S3_PATH_STYLE). */
  pathStyle?: boolean
  /** Server-side encryption asked of the store for every object written (STORAGE_S3_SSE). */
  sse?: 'AES256' | 'aws:kms' | undefined
  /** The KMS key for `aws:kms`; the bucket's default key when unset (STORAGE_S3_SSE_KMS_KEY_ID). */
  kmsKeyId?: string | undefined
  /**
   * Client settings over the SDK's own, which come from the environment: AWS_ENDPOINT_URL_S3 or
   * AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or any other source of
   * the SDK's credential chain), AWS_REQUEST_CHECKSUM_CALCULATION. Tests give them directly.
   */
  clientConfig?: S3ClientConfig
  /** A client made elsewhere (tests watch its requests); `pathStyle` and `clientConfig` are then unused, and close() leaves it open. */
  client?: S3Client
  /** Bytes per part of a multipart upload (at least 5 MiB, S3's minimum); a smaller body is one PUT. */
  partSize?: number
  /** Keys per ListObjectsV2 page when deleting a prefix (S3 returns at most 1000). */
  listPageSize?: number
}

/** 8 MiB parts, two in flight: an upload holds at most about 24 MiB, whatever the size of the blob. */
const PART_SIZE = 8 * 1024 * 1024
const QUEUE_SIZE = 2

const isNotFound = (err: unknown) => {
  const e = err as { name?: string, $metadata?: { httpStatusCode?: number } }
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404
}

/**
 * Blobs as objects of an S3-compatible store, under the URL's prefix. Writes are streamed multipart
 * uploads (lib-storage's Upload: parts are buffered, never the whole body), hashed on the way; an
 * object appears only when its upload completes, and a failed one is aborted, so readers never see
 * half of one. Reads are ranged GETs, sizes HEADs, and deleting a prefix lists it page by page and
 * deletes each page in one request. Encryption at rest by the service (ARCHIVE_ENCRYPTION_KEY) is
 * applied before a blob reaches any store; `sse` adds the store's own.
 */
export function createS3BlobStore (opts: S3BlobStoreOptions): BlobStore {
  const location = parseStorageUrl(opts.url)
  if (!location) throw new Error('STORAGE_URL must be s3://bucket or s3://bucket/prefix')
  const client = opts.client ?? new S3Client({ forcePathStyle: opts.pathStyle ?? false, ...opts.clientConfig })
  const Bucket = location.bucket
  const objectKey = (key: string) => location.prefix ? `${location.prefix}/${checkedKey(key)}` : checkedKey(key)
  const encryption = opts.sse
    ? { ServerSideEncryption: opts.sse as ServerSideEncryption, ...(opts.sse === 'aws:kms' && opts.kmsKeyId ? { SSEKMSKeyId: opts.kmsKeyId } : {}) }
    : {}
  const pageSize = opts.listPageSize ?? 1000

  return {
    async put (key, body) {
      const Key = objectKey(key)
      const measure = measuring()
      // A failing body destroys `measure` with its error, which fails (and aborts) the upload.
      pipeline(body, measure, () => {})
      const upload = new Upload({
        client,
        params: { Bucket, Key, Body: measure, ...encryption },
        partSize: Math.max(opts.partSize ?? PART_SIZE, 5 * 1024 * 1024),
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false
      })
      try {
        await upload.done()
      } catch (err) {
        body.destroy()
        throw err
      }
      return measure.measured()
    },

    async get (key, range) {
      const Key = objectKey(key)
      if (range && range.end < range.start) {
        await client.send(new HeadObjectCommand({ Bucket, Key })) // a missing key fails all the same
        return Readable.from([])
      }
      const res = await client.send(new GetObjectCommand({ Bucket, Key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }))
      return res.Body as Readable
    },

    async size (key) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket, Key: objectKey(key) }))
        return head.ContentLength ?? null
      } catch (err) {
        // Only "no such object" is null: an unreachable store is an error, not a missing archive.
        if (isNotFound(err)) return null
        throw err
      }
    },

    async delete (keyOrPrefix) {
      const base = objectKey(keyOrPrefix.replace(/\/$/, ''))
      await client.send(new DeleteObjectCommand({ Bucket, Key: base }))
      let ContinuationToken: string | undefined
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket, Prefix: `${base}/`, MaxKeys: pageSize, ContinuationToken }))
        const Objects = (page.Contents ?? []).flatMap((o) => o.Key ? [{ Key: o.Key }] : [])
        if (Objects.length > 0) {
          const res = await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects, Quiet: true } }))
          if (res.Errors && res.Errors.length > 0) {
            throw new Error(`the object store did not delete ${res.Errors.length} object(s) under ${base}/ (${res.Errors[0]!.Code ?? 'error'})`)
          }
        }
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (ContinuationToken)
    },

    async close () {
      if (!opts.client) client.destroy()
    }
  }
}
