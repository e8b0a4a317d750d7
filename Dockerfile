# syntax=docker/dockerfile:1
# One image for the API, the worker and the migration job (docker-compose.yml picks the command).
# The service runs its TypeScript through tsx, as in development: one code path, no second build.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Production dependencies only, at the locked versions. `npm install` rather than `npm ci`: the lock
# is made against a registry without other platforms' optional builds, which `npm ci` rejects.
RUN npm install --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY db ./db
COPY src ./src
# Prebuilt workflow bundle: a worker then starts in a second instead of running webpack on boot.
RUN node --import tsx src/workers/build-workflow-bundle.ts /app/dist/workflow-bundle.js
ENV WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
USER node
EXPOSE 3000
CMD ["node", "--import", "tsx", "src/api/main.ts"]
