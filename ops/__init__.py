"""The ops overview: figures of the read model for ops (GET /ops, GET /v1/ops/overview)."""
