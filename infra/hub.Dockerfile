# The realtime hub's image (infra/hub.ts): functions/hub.ts bundled with
# esbuild into one ESM file, run by Node 22 as a non-root user.
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY core core
COPY functions functions
RUN npx esbuild functions/hub.ts --bundle --platform=node --target=node22 --format=esm \
      --outfile=dist/hub.mjs \
      --banner:js="import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"

FROM node:22-bookworm-slim
WORKDIR /app
COPY --from=build /src/dist/hub.mjs ./hub.mjs
# The region's RDS CA roots infra/functions.ts writes at deploy (DB_SSL_CA_FILE).
COPY .sst/rds-ca ./rds-ca
USER node
ENV NODE_ENV=production
EXPOSE 8080
CMD ["node", "hub.mjs"]
