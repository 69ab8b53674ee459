# The CQI Tracker app (see compose.yaml for it with PostgreSQL).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CQI_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY projections ./projections
COPY service ./service
COPY templates ./templates
# Editable: the packages stay beside templates/, where the app looks for its pages.
RUN pip install -e . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin cqi \
    && install --directory --owner cqi --group cqi --mode 0700 /data

USER cqi
EXPOSE 8000
CMD ["cqi", "serve", "--host", "0.0.0.0", "--port", "8000"]
