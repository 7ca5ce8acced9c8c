# The pogo image: one image, every role (ingest, trips, serve, db upgrade) chosen by its command.
# It installs exactly what uv.lock pins (the versions CI tested), with uv pinned by hash.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    UV_PROJECT_ENVIRONMENT=/opt/pogo UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 PATH=/opt/pogo/bin:$PATH
WORKDIR /app
COPY scripts/uv-bootstrap.txt ./scripts/
RUN pip install --require-hashes -r scripts/uv-bootstrap.txt
# The locked dependencies first (a layer that changes only with uv.lock), then the project.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-install-project --python /usr/local/bin/python
COPY pogo ./pogo
COPY wire ./wire
COPY ingest ./ingest
COPY fleet ./fleet
COPY emissions ./emissions
COPY simulators ./simulators
COPY city ./city
COPY interop ./interop
RUN uv sync --locked --no-editable --python /usr/local/bin/python \
    && pip uninstall -y uv && useradd --system --uid 10001 pogo
USER pogo
ENTRYPOINT ["pogo"]
CMD ["--help"]
