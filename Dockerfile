# syntax=docker/dockerfile:1
# GoKart offers source for Airbyte.
#   docker build -t gokart-connectors/source-gokart-offers:0.1.0 .
#   docker run --rm gokart-connectors/source-gokart-offers:0.1.0 spec
# tools/image-smoke.ts (`npm run smoke`) replays this file without a Docker engine: use only
# FROM, WORKDIR, COPY, RUN, ENV, ENTRYPOINT, LABEL and USER; keep RUN steps plain commands with
# relative paths; keep io.airbyte.version equal to package.json's version and metadata.yaml's
# dockerImageTag. Node.js: the active LTS line; CI runs the tests on the same major.

FROM node:24-alpine AS build
WORKDIR /build
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
# The build precompiles the JSON Schema validators from resources/.
COPY resources ./resources
RUN npm run build
# --omit=optional drops DuckDB (~70 MB), used only by `sync`, which Airbyte never runs.
RUN npm prune --omit=dev --omit=optional --no-audit --no-fund
# prune keeps typescript: ts-essentials (via faros-js-client) lists it as an optional peer,
# for type checking only. Nothing needs it at run time.
RUN rm -rf node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver

FROM node:24-alpine
WORKDIR /airbyte/integration_code
ENV NODE_ENV=production
COPY --from=build /build/package.json ./
COPY --from=build /build/node_modules ./node_modules
COPY --from=build /build/lib ./lib
COPY resources ./resources
COPY bin ./bin
ENV AIRBYTE_ENTRYPOINT="node /airbyte/integration_code/bin/main"
ENTRYPOINT ["node", "/airbyte/integration_code/bin/main"]
LABEL io.airbyte.name="gokart-connectors/source-gokart-offers" \
      io.airbyte.version="0.1.0"
USER node
