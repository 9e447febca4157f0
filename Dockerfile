# The durable-claude worker: the conversation workflow plus the example tools, for docker-compose.yml.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Sources come next; the build runs once they are in.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/lib ./lib
USER node
# Reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ANTHROPIC_API_KEY; stops gracefully on SIGTERM.
CMD ["node", "lib/worker.js"]
