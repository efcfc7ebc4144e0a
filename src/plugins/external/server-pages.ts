import type { FastifyInstance } from 'fastify'
import helmet from '@fastify/helmet'
import view from '@fastify/view'
import { Eta } from 'eta'

/**
 * What the service's own HTML pages (the console, the privacy centre) share: Eta templates from
 * `views`, escaped by default, and headers that let a page load nothing but the site's own
 * stylesheet, images and, where `scripts` says so, scripts; no frame, no form sent elsewhere.
 * Registered in the caller's encapsulated context, so the API's JSON routes keep their own headers.
 * @see {@link https://github.com/fastify/fastify-helmet}
 * @see {@link https://github.com/fastify/point-of-view}
 */
export async function serverPages (fastify: FastifyInstance, opts: { views: string, scripts: boolean, referrerPolicy: 'no-referrer' | 'same-origin' }): Promise<void> {
  await fastify.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        // The site's own files only: no inline script or style, nothing from elsewhere.
        ...(opts.scripts ? { scriptSrc: ["'self'"] } : {}),
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"]
      }
    },
    referrerPolicy: { policy: opts.referrerPolicy }
  })
  await fastify.register(view, {
    engine: { eta: new Eta({ views: opts.views, autoEscape: true, cache: true }) },
    templates: opts.views,
    viewExt: 'eta'
  })
}
