# Drover: one image for `drover operator` (and, later, `drover agent`).
# Build: docker build -t ghcr.io/drover-io/drover:0.1.0 .

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
LABEL org.opencontainers.image.title="drover" \
      org.opencontainers.image.description="Declarative KVM virtualization driven by a Kubernetes operator" \
      org.opencontainers.image.source="https://github.com/drover-io/drover" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0"
WORKDIR /app
# The Manager's PKI (CA, client and agent certificates) is made with the openssl CLI.
RUN apt-get update && apt-get install -y --no-install-recommends openssl && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=2
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["operator"]
