"""Temporal payloads of the service: the AES-GCM codec (``payload.codec``), the one data converter
every process uses (``payload.converter``), and the codec server that lets the Web UI show them to
ops who hold its token (``payload.server``, ``python -m payload.server``)."""
