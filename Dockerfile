# Debian (glibc) base: the native uWebSockets.js binding needs glibc >= 2.34,
# so Alpine (musl) would fall back to the slow imitation and hexfleet would refuse to start.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# Only what `serve` needs: build:app compiles src/ alone (tsconfig.build.json);
# the benchmarks and the test kit stay out of the image.
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build:app && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 8080
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve"]
