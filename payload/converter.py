"""The one data converter of the service: worker, clients, simulator, replay and tests use it,
so a payload written by one can always be read by the others. Payloads are encrypted with the
keys of ``payload.codec.Keyring`` (RETURNS_CODEC_KEYS or the embedded stack's key file)."""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from payload.codec import EncryptionCodec, Keyring


def data_converter(keyring: Keyring | None = None) -> DataConverter:
    """With no keys, payloads are written in the clear and encrypted ones cannot be read."""
    keys = keyring if keyring is not None else Keyring.from_env()
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(keys))
