# The pogo image: one image, every role (ingest, trips, serve, db upgrade) chosen by its command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pogo ./pogo
COPY ingest ./ingest
COPY fleet ./fleet
COPY emissions ./emissions
COPY simulators ./simulators
COPY city ./city
RUN pip install . && useradd --system --uid 10001 pogo
USER pogo
ENTRYPOINT ["pogo"]
CMD ["--help"]
