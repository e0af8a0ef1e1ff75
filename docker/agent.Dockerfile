# Agent: deployed next to each database; Postgres clients connect to it on 6432.
# Build from the repository root: docker build -f docker/agent.Dockerfile -t portcullis-agent .
FROM node:20-bookworm-slim
WORKDIR /app
COPY . .
RUN npm install --no-audit --no-fund --workspace @portcullis/agent --include-workspace-root \
 && npm run build --workspace @portcullis/agent
ENV PORTCULLIS_LISTEN_HOST=0.0.0.0 PORTCULLIS_LISTEN_PORT=6432 PORTCULLIS_AGENT_DATA_DIR=/var/lib/portcullis-agent
RUN mkdir -p /var/lib/portcullis-agent && chown node /var/lib/portcullis-agent
VOLUME /var/lib/portcullis-agent
EXPOSE 6432
USER node
# The launcher sets glibc malloc tunables (kept if set here) and runs dist/main.mjs.
CMD ["/app/apps/agent/bin/portcullis-agent"]
