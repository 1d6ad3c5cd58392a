# The returns worker image, built by docker-compose.yml (see docs/compose.md).
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies before code: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt .
RUN pip install -r requirements.txt

# The worker runs unprivileged; the code stays owned by root, so the worker cannot change it.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin returns
COPY . .
USER returns

# Prometheus metrics (RETURNS_METRICS_PORT in docker-compose.yml).
EXPOSE 9464

# Exec form: the worker is PID 1 and gets SIGTERM itself, so it drains gracefully on stop.
CMD ["python", "worker.py"]
