# vecrelay image: build the TypeScript in one stage, run the emitted JavaScript with production
# dependencies only in the next. docker-compose.yml builds it as the `vecrelay` service.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
# tsc -p tsconfig.build.json emits dist/. schemas/ is created when empty so the runtime stage can
# always copy it (an empty directory is not in a git checkout).
RUN npm run build && mkdir -p schemas

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/bin ./bin
COPY --from=build /app/schemas ./schemas
COPY --from=build /app/dist ./dist
# The node image's unprivileged user (uid 1000); nothing in /app needs to be writable.
USER node
# Prometheus /metrics and /healthz (the port is set in the pipeline config).
EXPOSE 9464
# A young generation of at most 2 × 8 MB: Node 24 lets it grow to 2 × 64 MB, and the source's
# objects that outlive a few milliseconds (rows of snapshot chunks, events waiting for Kafka) made
# it grow that far — ~60 MB of its peak RSS (bench/source.ts: 350-380 MB → ~290-320 MB), for no
# CPU saved.
ENTRYPOINT ["node", "--max-semi-space-size=8", "/app/bin/vecrelay.js"]
CMD ["--help"]
