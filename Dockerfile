# medsettle: the settlement service, run against MEDSETTLE_DATABASE_URL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/medsettle
COPY pyproject.toml requirements.lock README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
# The pinned, hash-checked versions of requirements.lock, then the package itself on top.
RUN pip install --require-hashes -r requirements.lock \
    && pip install --no-deps . \
    && useradd --system --uid 10001 --create-home --home-dir /home/medsettle medsettle \
    && mkdir -p /var/lib/medsettle \
    && chown medsettle:medsettle /var/lib/medsettle

USER medsettle
ENV MEDSETTLE_ENV=production \
    MEDSETTLE_DATA_DIR=/var/lib/medsettle

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# `medsettle serve` applies migrations, then serves; SIGTERM (docker stop) shuts it down cleanly.
CMD ["medsettle", "serve", "--host", "0.0.0.0", "--port", "8000"]
