# syntax=docker/dockerfile:1
# The image of every service of the platform; SERVICE, a folder under services/, picks which.
# Build from the repository root:
#
#   docker build --build-arg SERVICE=ingest -t aiops-ingest .        the OTLP/HTTP receiver
#   docker build --build-arg SERVICE=detector -t aiops-detector .    the span writer and detectors;
#                                                                    also runs `aiops migrate`
#   docker build --build-arg SERVICE=incidents -t aiops-incidents .  the REST API and web UI
#   docker build --build-arg SERVICE=demo-shop -t aiops-shop .       the demo shop (`aiops serve
#       shop-frontend`, `shop-payment`, `shop-payment-2`, `shop-inventory`, or the first
#       three with the default `serve shop`) and its load generator (`aiops loadgen`)
#
# Each image holds core and its one service, runs as uid 10001 and starts `aiops` with the
# service's own default command.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG SERVICE

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/aiops
WORKDIR /src
COPY constraints.txt ./
COPY libs/core/ libs/core/
COPY services/${SERVICE}/ services/${SERVICE}/
# Every dependency at the version pinned in constraints.txt (the lock file), bytecode compiled
# now because the root filesystem is read-only at run time; the download cache stays out of the image.
RUN --mount=type=cache,target=/root/.cache/pip /opt/aiops/bin/pip install --compile -c constraints.txt ./libs/core ./services/${SERVICE}

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/aiops/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A fixed numeric user, so that Kubernetes can check runAsNonRoot without reading /etc/passwd.
RUN groupadd --system --gid 10001 aiops \
 && useradd --system --uid 10001 --gid aiops --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin aiops
COPY --from=build /opt/aiops /opt/aiops
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["aiops"]

# What each service's image listens on and runs by default.
FROM runtime AS ingest
EXPOSE 4318
CMD ["serve", "ingest"]

FROM runtime AS detector
EXPOSE 8001
CMD ["serve", "detector"]

FROM runtime AS incidents
EXPOSE 8000
CMD ["serve", "incidents"]

FROM runtime AS demo-shop
EXPOSE 8080 8081 8082
CMD ["serve", "shop"]

# The image of the service chosen (the last stage is what `docker build` makes).
FROM ${SERVICE}
