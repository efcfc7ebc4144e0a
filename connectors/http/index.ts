/**
 * Shared plumbing for connectors that call a vendor's HTTP API: rate limiters (sliding window and
 * concurrency), a request helper over an injected `fetch` that maps HTTP and network failures to
 * ConnectorError, and bounded retries that honour the vendor's Retry-After.
 */
export { ConcurrencyLimiter, SlidingWindowLimiter, mapConcurrent, sleep, type Limiter } from './limiter.js'
export { DEFAULT_RETRY, basicAuth, request, type HttpResponse, type RequestOptions, type RetryPolicy } from './request.js'
