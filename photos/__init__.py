"""Customers' photos: checked and cleaned (clean.py), kept in a blob store (port.py: a folder by
default, S3-compatible storage by env; settings.py) under keys the case's photo references name."""
