"""JSON Schemas generated from the contract models (never written by hand)."""
from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, TypeAdapter

from mqtt import commands, models

SCHEMAS: dict[str, object] = {
    "core-status": models.CoreStatus,
    "node-status": models.NodeStatus,
    "device-status": models.DeviceStatusMessage,
    "schedule-snapshot": models.ScheduleSnapshot,
    "event-envelope": models.EventEnvelope,
    "call-command": models.CallCommand,
    "board-state": models.BoardState,
    "queue-state": models.QueueState,
    "answer": models.AnswerAdapter,
    "req-booking.lookup": models.BookingLookupAdapter,
    "req-checkin": models.CheckinRequest,
    "req-slots.search": models.SlotsSearch,
    "req-booking.create": models.BookingCreate,
    "device-reading": models.DeviceReadingMessage,
    **{f"evt-{name}": model for name, model in models.EVENT_MODELS.items()},
    **{f"cmd-{name}": model for name, model in commands.COMMAND_MODELS.items()},
}


def schema_of(model) -> dict:
    if isinstance(model, TypeAdapter):
        return model.json_schema()
    assert issubclass(model, BaseModel)
    return model.model_json_schema()


def write_schemas(outdir: Path, extra: dict[str, object] | None = None) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in {**SCHEMAS, **(extra or {})}.items():
        path = outdir / f"{name}.schema.json"
        schema = schema_of(model)
        schema.setdefault("$id", f"https://vestibule.invalid/contract/v1/{name}.schema.json")
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written
