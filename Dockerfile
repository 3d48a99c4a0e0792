# Serving image for the sentiment service: onnxruntime + BentoML, no TensorFlow (serve extra only).
#
#   docker build -t sentiment:latest .                      # with network access (PyPI, Docker Hub)
#   docker build --build-arg BASE_IMAGE=local/python:3.11 \
#                --build-arg WHEELS_ONLY=1 -t sentiment .   # offline: wheels from deploy/wheelhouse
#
# `--build-arg EXTRAS=serve,load` adds Locust for the compose `loadtest` profile.
# The image runs as uid 10001, works with a read-only root filesystem (BentoML and Python only
# write under /tmp, mount a tmpfs there), answers its HEALTHCHECK on /readyz and drains in-flight
# requests on SIGTERM. See docs/deployment.md.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS deps
# WHEELS_ONLY=1: install from deploy/wheelhouse only (pip --no-index), for builds without PyPI.
ARG WHEELS_ONLY=0
ARG EXTRAS=serve
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore \
    PIP_FIND_LINKS=/wheels
RUN python3 -m venv /opt/venv
COPY deploy/wheelhouse/ /wheels/
COPY pyproject.toml constraints.txt /app/
WORKDIR /app
# Dependencies first (their layer survives source edits): the extras' names from pyproject.toml,
# exact versions from constraints.txt.
RUN if [ "$WHEELS_ONLY" = 1 ]; then export PIP_NO_INDEX=1; fi \
 && /opt/venv/bin/python -c "import sys, tomllib; x = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']; print('\n'.join(sorted({r for e in sys.argv[1].split(',') for r in x[e]})))" "$EXTRAS" > /tmp/requirements.txt \
 && /opt/venv/bin/pip install -c constraints.txt -r /tmp/requirements.txt

FROM deps AS app
ARG WHEELS_ONLY=0
ARG EXTRAS=serve
# The product only: core, the service, the batch job and the CLI. Training (TensorFlow),
# benchmarks and test harnesses stay out; the load-test image (EXTRAS=serve,load) adds Locust's
# load_tests and the devtools it uses.
COPY README.md /app/
COPY core/ /app/core/
COPY service/ /app/service/
COPY scoring/ /app/scoring/
COPY sentiment_cli/ /app/sentiment_cli/
COPY load_tests/ /app/load_tests/
COPY devtools/ /app/devtools/
# Editable install: the code stays in /app (its repo layout), the `sentiment` command is on PATH.
RUN case ",$EXTRAS," in *,load,*) ;; *) rm -rf /app/load_tests /app/devtools ;; esac \
 && if [ "$WHEELS_ONLY" = 1 ]; then export PIP_NO_INDEX=1; fi \
 && /opt/venv/bin/pip install --no-deps -e . \
 && /opt/venv/bin/python -m compileall -q /app \
 && if /opt/venv/bin/python -c "import tensorflow" 2>/dev/null; then \
        echo "TensorFlow must not be in the serving image" >&2; exit 1; fi

# The final stage: the serving image (no compilers, no wheels, no pip cache).
FROM ${BASE_IMAGE} AS serve
RUN groupadd --system --gid 10001 sentiment \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
        --shell /usr/sbin/nologin sentiment
COPY --from=app /opt/venv /opt/venv
COPY --from=app /app /app
COPY models/default/ /app/models/default/
COPY deploy/healthcheck.py /app/deploy/healthcheck.py
# HOME and BENTOML_HOME point into /tmp: the only place written at run time (tmpfs).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    BENTOML_HOME=/tmp/bentoml \
    BENTOML_DO_NOT_TRACK=True \
    SENTIMENT_HOST=0.0.0.0 \
    SENTIMENT_PORT=3000 \
    SENTIMENT_MODEL_DIR=/app/models/default
WORKDIR /app
USER 10001:10001
EXPOSE 3000
# `sentiment serve` execs `bentoml serve` as PID 1; its arbiter handles SIGTERM by letting the
# workers finish in-flight requests, then exits 0.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python3", "/app/deploy/healthcheck.py"]
ENTRYPOINT ["sentiment"]
CMD ["serve"]
