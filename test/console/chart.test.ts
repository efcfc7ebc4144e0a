import t from 'tap'
import { chartOf } from '../../routes/console/connectors.js'

t.test('the health chart: ok checks on a latency line by time, down checks on the bottom line', async (t) => {
  const since = new Date('2026-01-01T00:00:00Z')
  const until = new Date('2026-01-02T00:00:00Z')
  const at = (h: number) => new Date(since.getTime() + h * 3_600_000)
  const chart = chartOf([
    { checkedAt: at(0), status: 'ok', latencyMs: 10 },
    { checkedAt: at(12), status: 'down', latencyMs: null },
    { checkedAt: at(24), status: 'ok', latencyMs: 40 }
  ], since, until)
  t.equal(chart.maxMs, 40)
  t.strictSame(chart.ok, [{ x: 5, y: 59 }, { x: 475, y: 10 }], 'left to right in time; the slowest at the top')
  t.equal(chart.line, '5,59 475,10')
  t.strictSame(chart.down, [{ x: 240, y: 75 }], 'a down check at its time, on the bottom line')
  t.strictSame(chartOf([], since, until), { width: 480, height: 80, maxMs: 1, line: '', ok: [], down: [] }, 'no checks: an empty chart')
})
