# Control plane: Next.js dashboard + tRPC + REST + the agents' WebSocket link, one port.
# Build from the repository root: docker build -f docker/web.Dockerfile -t portcullis-web .
FROM node:20-bookworm-slim AS build
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1
COPY . .
# next build (the dashboard) and scripts/build-server.mjs (server.ts and our packages, one bundle).
RUN npm install --no-audit --no-fund && npm run -w @portcullis/web build

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production NEXT_TELEMETRY_DISABLED=1 HOST=0.0.0.0 PORT=3000
COPY --from=build /app /app
EXPOSE 3000
USER node
WORKDIR /app/apps/web
# server.ts applies pending migrations at start-up (same bookkeeping as `prisma migrate deploy`).
CMD ["node", "--enable-source-maps", "dist/server.mjs"]
