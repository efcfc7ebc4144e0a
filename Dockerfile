# syntax=docker/dockerfile:1
# Node.js 24, the active LTS, at an exact release: the image changes only when this line does, and a
# security release is taken by changing it. Node 20 reached end of life on 2026-04-30. Keep the
# version equal to the one CI runs the suite on (scripts/setup-node24.sh).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# Build stage: install everything, compile, then drop dev dependencies.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# patch-package applies patches/ on install (postinstall): they must be there before `npm ci`.
COPY patches ./patches
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY routes ./routes
COPY connectors ./connectors
COPY drizzle ./drizzle
RUN npm run build && npm prune --omit=dev

# Runtime stage: compiled code, production dependencies and migrations, run as the unprivileged `node` user.
FROM ${NODE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    DATA_DIR=/var/lib/dsar-service
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/drizzle ./drizzle
# The operator console's templates and stylesheet (routes/console), read at run time.
COPY views ./views
# Data files the build does not emit: sample connector files and seed, the test-result store's migrations.
COPY --from=build /app/connectors ./connectors
RUN mkdir -p /var/lib/dsar-service && chown node:node /var/lib/dsar-service
# The embedded database, and archives and collected files unless STORAGE_DIR says otherwise.
VOLUME /var/lib/dsar-service
USER node
EXPOSE 3000
# Ready: the database answers and is migrated (/health/ready). A ROLE=worker container serves no HTTP:
# give it another check, or none (docker-compose.yml does).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tini is PID 1 and forwards signals, so node shuts down gracefully on SIGTERM.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/server.js"]
