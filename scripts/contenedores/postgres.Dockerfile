# Local stand-in for postgres:18 where Docker Hub cannot be reached (motor.sh):
# the official image's layout (postgres uid 999, PGDATA under
# /var/lib/postgresql/18/docker, binaries on PATH, gosu, STOPSIGNAL SIGINT) on
# Debian sid's postgresql-18. It has none of the official entrypoint scripts:
# deploy/postgres/biblioteca-postgres.sh needs only the binaries, gosu and env.
FROM debian-local:sid
RUN set -eux; groupadd -r postgres --gid=999; \
    useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres; \
    install -d -o postgres -g postgres -m 1777 /var/lib/postgresql
RUN set -eux; apt-get update; \
    apt-get install -y --no-install-recommends gosu locales postgresql-common; \
    sed -ri 's/#(create_main_cluster) .*$/\1 = false/' /etc/postgresql-common/createcluster.conf; \
    apt-get install -y --no-install-recommends postgresql-18; rm -rf /var/lib/apt/lists/*; \
    echo 'en_US.UTF-8 UTF-8' >> /etc/locale.gen; locale-gen; gosu nobody true
ENV LANG=en_US.utf8 PG_MAJOR=18
ENV PATH=$PATH:/usr/lib/postgresql/18/bin
RUN install -d -o postgres -g postgres -m 3777 /var/run/postgresql; postgres --version
ENV PGDATA=/var/lib/postgresql/18/docker
VOLUME /var/lib/postgresql
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
