"""Bring your history: the tasks page's CSV template download and upload control (``tasks.transfer``, as the
API's ``POST /api/v1/tasks/import``). A file with a bad row imports nothing; the message names the row, the
column and the reason."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import core, events, ui

from studysmart.core.db import utcnow
from studysmart.tasks import transfer
from studysmart.web import auth
from studysmart.web.actions import perform

TEMPLATE_NAME = "studysmart-tasks-template.csv"


def _max_bytes() -> int:
    return int(core.app.state.context.settings.max_import_bytes)


def import_message(error: transfer.ImportRefused | transfer.ImportTooLarge) -> str:
    """What the student reads when a file is refused (nothing was imported)."""
    where = ""
    if isinstance(error, transfer.ImportRefused) and error.row is not None:
        where = f"row {error.row}" + (f", column {error.column}" if error.column else "") + ": "
        return f"Nothing was imported. {where}{error.reason}."
    return f"Nothing was imported: {error.message}."


def import_controls(who: auth.Identity, *, path: str, on_imported: Callable[[], Awaitable[None]]) -> None:
    """The template button, the upload control and the line that says what happened."""
    limit = _max_bytes()
    with ui.expansion("Bring your history (CSV)", icon="upload_file").classes("w-full").mark("import"):
        ui.label("Import past study sessions from a CSV file with the columns of our export (title, topic, "
                 "difficulty, status, completed_at, correct, seconds_taken, …). Completed rows count as your "
                 "history at once. A file with a bad row imports nothing and says which row.") \
            .classes("text-sm ss-muted")
        result = ui.label("").classes("text-sm").mark("import-result")

        async def handle(event: events.UploadEventArguments) -> None:
            data = await event.file.read()
            try:
                outcome = await perform(who, lambda s, u: transfer.import_tasks(
                    session=s, user=u, data=data, max_bytes=limit, now=utcnow()), path=path)
            except (transfer.ImportRefused, transfer.ImportTooLarge) as error:
                result.set_text(import_message(error))
                result.classes(replace="text-sm text-negative")
                ui.notify(import_message(error), type="negative")
                return
            finally:
                upload.reset()
            if outcome.ok and outcome.value is not None:
                result.set_text(f"Imported {outcome.value} task{'s' if outcome.value != 1 else ''}.")
                result.classes(replace="text-sm text-positive")
                ui.notify(result.text, type="positive")
                await on_imported()

        with ui.row().classes("w-full items-start gap-3"):
            ui.button("Download the template", icon="download",
                      on_click=lambda: ui.download.content(transfer.template_csv(now=utcnow()), TEMPLATE_NAME,
                                                           "text/csv")) \
                .props("outline no-caps").mark("import-template")
            upload = ui.upload(label="Upload a CSV file", auto_upload=True, max_file_size=limit,
                               on_upload=handle) \
                .props('accept=".csv,text/csv" flat bordered').classes("max-w-full").mark("import-upload")
            upload.on("rejected", lambda: result.set_text(
                f"Nothing was imported: the file is over {limit // 1024} KB; split it into smaller files."))
