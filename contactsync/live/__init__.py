"""Live connections to Dataverse and Business Central (the ``live`` extra): connections without secrets,
incremental pulls through the import path, and ETag-safe, resumable delivery of the outbox."""

from .connections import Auth, Connection, LiveConnectionError, StaticTokenCredential

__all__ = ["Auth", "Connection", "LiveConnectionError", "StaticTokenCredential"]
