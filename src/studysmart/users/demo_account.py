"""The published demo login (``studysmart demo`` creates it): its address and password, and whether it exists, so
the home page can offer it only where the demo is loaded."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from studysmart.users.models import User

DEMO_DOMAIN = "demo.studysmart.local"
DEMO_EMAIL = f"demo@{DEMO_DOMAIN}"
DEMO_PASSWORD = "studysmart-demo-login"  # noqa: S105 - a published demo login, not a secret


def demo_account_exists(*, session: Session) -> bool:
    """Whether the demo student is in this database."""
    return session.scalar(select(User.id).where(User.email == DEMO_EMAIL)) is not None
