# One image for every role: `oms api` (default), `oms worker`, `oms seed`, `oms migrate`.
# Configured only through OMS_* variables (see docs/api.md "Configuration"). `oms api`/`oms worker` refuse
# to start on the development keys: set OMS_API_KEYS, OMS_CARRIER_SECRETS and OMS_CODEC_KEYS
# (README "Production-like deployment"). Nothing here sets OMS_DEV_STACK, and nothing may.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMS_API_HOST=0.0.0.0 \
    OMS_API_PORT=8000 \
    OMS_DATA_DIR=/var/lib/orderflow

WORKDIR /app
# Sources only (see .dockerignore); `pip install .` picks the packages listed in pyproject.toml.
COPY . .
RUN pip install . \
    && groupadd --system --gid 10001 oms \
    && useradd --system --uid 10001 --gid oms --home-dir /var/lib/orderflow --create-home oms

USER oms
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('OMS_API_PORT', '8000')}/healthz\", timeout=2)"]
ENTRYPOINT ["oms"]
CMD ["api"]
