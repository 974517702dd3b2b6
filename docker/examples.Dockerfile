# Image for the compose example (docker/docker-compose.yml): Redis and the
# chat service of examples/ (examples/chat_service.py), from Debian packages
# only (python3-aiohttp, python3-redis, redis-server). Not needed to run
# socketshark itself: use docker/Dockerfile for that.
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3 python3-aiohttp python3-redis redis-server \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/socketshark
# The chat page loads the browser client from clients/js, next to examples/.
COPY examples/ examples/
COPY clients/js/ clients/js/
USER 65534:65534
EXPOSE 8000 6379
CMD ["python3", "examples/chat_service.py", "--host", "0.0.0.0", "--port", "8000"]
