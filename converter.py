"""The one data converter of the service: worker, clients, simulator, replay and tests use it,
so a payload written by one can always be read by the others."""

from __future__ import annotations

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter


def data_converter() -> DataConverter:
    return pydantic_data_converter
