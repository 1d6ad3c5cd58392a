"""The HTTP API of the returns service (FastAPI, served by uvicorn): the contract's request and
actions over HTTP, keys per role, RFC 9457 problems. `python -m api` serves it and manages keys."""
