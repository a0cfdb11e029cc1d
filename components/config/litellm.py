"""LiteLLM settings that are not chart values: model aliases and fallbacks (checked against the
models) and its Postgres database (a CloudNativePG Cluster), with optional backups."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from components.config.base import Strict, dns_label

# Where barman-cloud can write: S3 (or an S3-compatible store with endpointUrl) and GCS.
DESTINATION = re.compile(r"^(s3|gs)://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$")
# CloudNativePG's retention policy: a number of days, weeks or months.
RETENTION = re.compile(r"^[1-9][0-9]*[dwm]$")
# CloudNativePG's ScheduledBackup schedule: six cron fields, seconds first.
SCHEDULE = re.compile(r"^(\S+\s+){5}\S+$")


class Backup(Strict):
    # s3://bucket/path or gs://bucket/path: base continuous WAL archiving and base backups go here.
    destination_path: str
    # Secret in namespace llm-gateway with the store's credentials (keys in docs/gateway.md).
    credentials_secret: str
    # An S3-compatible endpoint (MinIO, Hetzner Object Storage); empty for AWS S3 and GCS.
    endpoint_url: str | None = Field(default=None, pattern=r"^https://\S+$")
    retention: str = "30d"
    schedule: str = "0 0 3 * * *"

    @field_validator("destination_path")
    @classmethod
    def _destination(cls, value: str) -> str:
        if not DESTINATION.match(value):
            raise ValueError(f"destinationPath {value!r} must be s3://bucket[/path] or gs://bucket[/path]")
        return value

    @field_validator("credentials_secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        return dns_label(value, 253)

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: str) -> str:
        if not RETENTION.match(value):
            raise ValueError(f"retention {value!r} must be a count of days, weeks or months, e.g. 30d, 4w, 6m")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if not SCHEDULE.match(value):
            raise ValueError(f"schedule {value!r} needs six cron fields, seconds first (e.g. '0 0 3 * * *')")
        return value

    @model_validator(mode="after")
    def _endpoint(self) -> Backup:
        if self.endpoint_url and not self.destination_path.startswith("s3://"):
            raise ValueError("endpointUrl applies to s3:// destinations (S3-compatible stores) only")
        return self


class Database(Strict):
    # Postgres instances (one primary, the rest streaming replicas); none: 1 on kind, 2 elsewhere.
    instances: int | None = Field(default=None, ge=1, le=5)
    storage: str = Field(default="10Gi", pattern=r"^\d+(Mi|Gi|Ti)$")
    # Off by default: without it, the spend ledger and every key live only on the database volumes.
    backup: Backup | None = None


class LiteLLMConfig(Strict):
    # Extra names clients may call a model by: alias -> model (or adapter) name.
    aliases: dict[str, str] = Field(default_factory=dict)
    # When a model fails, LiteLLM retries the request on these, in order: model -> [models].
    fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    database: Database = Database()
