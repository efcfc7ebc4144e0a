import type { TSchema } from 'typebox'
import { sharedSchemas } from './common.js'
import { decisionSchemas } from './decisions.js'
import { requestSchemas } from './requests.js'
import { requestActionSchemas } from './request-actions.js'
import { transferSchemas } from './transfers.js'
import { callbackSchemas } from './callbacks.js'
import { archiveSchemas } from './archives.js'
import { operationsSchemas } from './operations.js'
import { verificationSchemas } from './verification.js'
import { auditSchemas } from './audit.js'
import { identitySchemas } from './identity.js'
import { suppressionSchemas } from './suppressions.js'
import { holdSchemas } from './holds.js'
import { accountSchemas } from './accounts.js'
import { opendsrSchemas } from './opendsr.js'

/** Every shared schema of the API: each is added to the app once and becomes an OpenAPI component named by its $id. */
export const apiSchemas: readonly TSchema[] = [
  ...sharedSchemas, ...decisionSchemas, ...requestSchemas, ...requestActionSchemas, ...transferSchemas, ...callbackSchemas, ...archiveSchemas, ...operationsSchemas, ...verificationSchemas, ...auditSchemas, ...identitySchemas, ...suppressionSchemas, ...holdSchemas, ...opendsrSchemas, ...accountSchemas
]
