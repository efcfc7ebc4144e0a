import S3rver from 's3rver'

/**
 * A real S3-compatible server for the tests: s3rver, in a process of its own (started by
 * s3-server.ts), keeping its objects in the directory given. It pages listings with a DES-encrypted
 * continuation token, hence `--openssl-legacy-provider` on its command line.
 */
const [directory, bucket] = process.argv.slice(2)
if (!directory || !bucket) throw new Error('usage: s3rver-main.ts <directory> <bucket>')
const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket, configs: [] }] })
const { port } = await server.run()
process.stdout.write(`s3rver listening on ${port}\n`)
const stop = () => { server.close().finally(() => process.exit(0)) }
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
