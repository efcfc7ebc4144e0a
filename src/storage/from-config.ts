import type { Config } from '../config.js'
import { createLocalBlobStore, storageRoot, type BlobStore } from './blob-store.js'

/**
 * The store the configuration names: an S3-compatible object store with STORAGE_URL (endpoint,
 * region and credentials from the AWS SDK's environment variables), else a local directory
 * (STORAGE_DIR, or `storage` under DATA_DIR), the zero-setup default. The AWS SDK is loaded only
 * for an object store: its two packages took about 0.25 s to import, at every start.
 */
export async function createBlobStore (config: Pick<Config, 'STORAGE_URL' | 'STORAGE_DIR' | 'DATA_DIR' | 'STORAGE_S3_PATH_STYLE' | 'STORAGE_S3_SSE' | 'STORAGE_S3_SSE_KMS_KEY_ID'>): Promise<BlobStore> {
  if (config.STORAGE_URL) {
    const { createS3BlobStore } = await import('./s3-blob-store.js')
    return createS3BlobStore({
      url: config.STORAGE_URL,
      pathStyle: config.STORAGE_S3_PATH_STYLE,
      sse: config.STORAGE_S3_SSE,
      kmsKeyId: config.STORAGE_S3_SSE_KMS_KEY_ID
    })
  }
  return createLocalBlobStore(storageRoot(config))
}
