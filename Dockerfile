# syntax=docker/dockerfile:1
#
# Drover: one image for both processes. The entrypoint is the `drover`
# command; the argument picks the process:
#
#   docker run ghcr.io/drover-io/drover:0.1.0 operator [flags]   (the default)
#   docker run ghcr.io/drover-io/drover:0.1.0 agent [flags]
#
# Build:  docker build -t ghcr.io/drover-io/drover:0.1.0 .
#
# The agent drives the host's libvirtd through `virsh` and makes disk volumes
# with `qemu-img`, so the image carries libvirt-clients and qemu-utils (and
# nfs-common for NFS storage domains, iputils-ping for the hosted-engine
# role's gateway check). libvirtd and QEMU themselves stay on the
# host: the agent DaemonSet (deploy/overlays/agent-daemonset) mounts the host's
# libvirt socket and storage paths. The operator uses none of these tools;
# it needs only openssl for the Manager's PKI.

ARG NODE_IMAGE=node:24-bookworm
ARG NODE_SLIM_IMAGE=node:24-bookworm-slim

# Compile TypeScript with every dependency (dev included).
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only: no TypeScript, jest or types in the image.
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# The image: compiled JavaScript, production node_modules, and the tools the
# two processes run. No sources, no dev dependencies, no npm cache.
FROM ${NODE_SLIM_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="drover" \
      org.opencontainers.image.description="Declarative KVM virtualization (oVirt/RHV-shaped) driven by a Kubernetes operator: drover operator, drover agent" \
      org.opencontainers.image.source="https://github.com/drover-io/drover" \
      org.opencontainers.image.url="https://github.com/drover-io/drover" \
      org.opencontainers.image.documentation="https://github.com/drover-io/drover/blob/main/README.md" \
      org.opencontainers.image.vendor="Drover" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl ca-certificates libvirt-clients qemu-utils nfs-common iputils-ping \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 drover \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin drover
WORKDIR /app
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-semi-space-size=2 --max-old-space-size=256"
# Owned by root and read-only to the process: it cannot rewrite its own code.
COPY --from=deps /src/package.json ./package.json
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# Non-root by default (the operator). The agent DaemonSet overrides this with
# runAsUser: 0 and privileged: true, because it mounts storage and talks to
# the host's libvirtd as root.
USER 65532:65532
EXPOSE 8081 9443 54321
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["operator"]
