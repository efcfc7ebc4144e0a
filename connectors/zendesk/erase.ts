import type { ConnectorContext, EraseOutcome } from '../types.js'
import type { ZendeskApi } from './client.js'
import { cursorList, findUsers, requestedTickets } from './collect.js'
import type { ZendeskConfig } from './config.js'

/**
 * Erases in the order Zendesk needs: the tickets the user requested (deleting a user does not
 * delete them; each is deleted, then purged from deleted tickets), then the user (soft delete),
 * then the user for good (`deleted_users`, under its own rate limit). A user soft-deleted earlier
 * (say by an interrupted run) is found among deleted users and purged.
 */
export async function * eraseZendesk (api: ZendeskApi, config: ZendeskConfig, ctx: ConnectorContext): AsyncGenerator<EraseOutcome> {
  const email = ctx.subject.email?.trim().toLowerCase()
  if (!email) {
    yield { status: 'not_found', stream: 'tickets' }
    yield { status: 'not_found', stream: 'users' }
    return
  }
  const { signal } = ctx
  const users: number[] = []
  for await (const u of findUsers(api, config, email, signal)) users.push(u.id)

  let tickets = 0
  for (const userId of users) {
    // Collected first: deleting while walking the cursor would shift the pages.
    const ids: number[] = []
    for await (const t of requestedTickets(api, config, userId, signal)) ids.push(t.id)
    for (const id of ids) {
      const gone = await api.call('DELETE', '/api/v2/tickets/{id}', `/api/v2/tickets/${id}`, { signal, accept: [404] })
      await api.call('DELETE', '/api/v2/deleted_tickets/{id}', `/api/v2/deleted_tickets/${id}`, { signal, accept: [404] })
      if (gone.status !== 404) tickets++
    }
  }
  yield tickets > 0 ? { status: 'erased', stream: 'tickets', count: tickets } : { status: 'not_found', stream: 'tickets' }

  let purged = 0
  for (const userId of users) {
    await api.call('DELETE', '/api/v2/users/{id}', `/api/v2/users/${userId}`, { signal, accept: [404] })
    const res = await api.call('DELETE', '/api/v2/deleted_users/{id}', `/api/v2/deleted_users/${userId}`, { signal, accept: [404], deletedUsersLimit: true })
    if (res.status !== 404) purged++
  }
  const leftovers: number[] = []
  const deleted = cursorList<{ id: number, email?: string | null }>(api, config, '/api/v2/deleted_users', '/api/v2/deleted_users', 'deleted_users', signal)
  for await (const d of deleted) {
    if ((d.email ?? '').toLowerCase() === email && !users.includes(d.id)) leftovers.push(d.id)
  }
  for (const id of leftovers) {
    const res = await api.call('DELETE', '/api/v2/deleted_users/{id}', `/api/v2/deleted_users/${id}`, { signal, accept: [404], deletedUsersLimit: true })
    if (res.status !== 404) purged++
  }
  if (purged > 0) ctx.log.info({ users: purged, tickets }, 'zendesk user permanently deleted')
  yield purged > 0 ? { status: 'erased', stream: 'users', count: purged } : { status: 'not_found', stream: 'users' }
}
