import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { within } from '../../src/jobs/lease.js'

t.test('within: the work, or the timeout error; a late failure of the work goes nowhere', async (t) => {
  t.equal(await within(Promise.resolve(7), 1000, () => new Error('late')), 7, 'work that settles in time')
  await t.rejects(within(Promise.reject(new Error('own')), 1000, () => new Error('late')), /own/, 'its own failure, in time')
  await t.rejects(within(new Promise(() => {}), 20, () => new Error('timed out')), /timed out/, 'work that never settles')

  const unhandled: unknown[] = []
  const listener = (err: unknown) => unhandled.push(err)
  process.on('unhandledRejection', listener)
  t.teardown(() => { process.off('unhandledRejection', listener) })
  await t.rejects(within(sleep(50).then(() => { throw new Error('failed after the timeout') }), 10, () => new Error('timed out')), /timed out/)
  await sleep(100)
  t.same(unhandled, [], 'the work failing after the timeout is not an unhandled rejection (which would end the process)')
})
