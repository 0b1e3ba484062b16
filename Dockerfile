# The Switchyard gateway. Built by docker-compose.yml, which points it at PostgreSQL and a
# ClickHouse server; on its own it runs the embedded default (SQLite + chDB under /data).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SWITCHYARD_HOST=0.0.0.0 \
    SWITCHYARD_PORT=8080 \
    SWITCHYARD_CONFIG_DIR=/app/variants \
    SWITCHYARD_DATA_DIR=/data

WORKDIR /app
# Dependencies first, so editing the code does not reinstall them.
COPY pyproject.toml README.md ./
COPY requirements ./requirements
RUN mkdir app && touch app/__init__.py && pip install -c requirements/lock.txt -e . && rm -rf app
# Editable install: the code finds migrations/ beside app/ at run time.
COPY app ./app
COPY migrations ./migrations
COPY variants ./variants

RUN useradd --system --home /data switchyard && mkdir -p /data && chown switchyard /data
USER switchyard
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
    CMD python -c "import urllib.request, sys; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)" || exit 1
CMD ["switchyard", "serve"]
