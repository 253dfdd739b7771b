"""The NiceGUI main file of the web tests: the real app from create_app, configured by the test's environment
(tests/conftest.py ``settings``: a temporary SQLite database, a test secret)."""

from studysmart.app import create_app
from studysmart.core.config import get_settings

app = create_app(get_settings())
