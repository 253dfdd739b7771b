"""The ASGI application object for uvicorn (``studysmart.asgi:app``)."""

from studysmart.app import create_app

app = create_app()
