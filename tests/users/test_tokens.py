"""Bearer tokens: a validly signed token whose claims are odd (wrong types, out of range, missing) is a 401, never a
500; tokens name the account by its key, not by its row id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from fastapi.testclient import TestClient
from sqlalchemy import select

from studysmart.core import security
from studysmart.core.db import make_engine, make_sessionmaker
from studysmart.users.models import AuthState, User
from tests.conftest import TEST_SECRET
from tests.factories import register

ME = "/api/v1/auth/me"


def _signed(claims: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(claims, TEST_SECRET, algorithm=security.ALGORITHM)}"}


def _real_claims(client: TestClient, migrated: str) -> dict[str, Any]:
    headers = register(client, "odd@example.com")
    assert client.get(ME, headers=headers).status_code == 200
    engine = make_engine(migrated)
    with make_sessionmaker(engine)() as session:
        user = session.scalars(select(User).where(User.email == "odd@example.com")).one()
        epoch = session.scalar(select(AuthState.epoch))
        claims = {"sub": user.account_key, "ver": user.token_version, "ep": epoch, "id": user.id}
    engine.dispose()
    now = datetime.now(UTC)
    return {**claims, "iat": int(now.timestamp()), "exp": int((now + timedelta(hours=1)).timestamp())}


ODD = {
    "ver as a list": {"ver": [1]},
    "ver as a string": {"ver": "0"},
    "ver as a bool": {"ver": False},
    "ver as a float": {"ver": 0.0},
    "ver huge": {"ver": 10**30},
    "ver negative": {"ver": -1},
    "sub huge int": {"sub": 10**30},
    "sub huge digits": {"sub": str(10**30)},
    "sub the row id": {"sub": "ROW_ID"},
    "sub with NUL": {"sub": "a\x00b"},
    "sub a list": {"sub": ["x"]},
    "sub too long": {"sub": "a" * 500},
    "ep missing": {"ep": None},
    "ep a number": {"ep": 5},
    "ep with NUL": {"ep": "a\x00"},
    "ep another epoch": {"ep": "another-epoch"},
    "iat missing": {"iat": None},
    "iat a string": {"iat": "yesterday"},
    "exp a string": {"exp": "soon"},
    "exp infinite": {"exp": float("inf")},
}


def test_signed_tokens_with_odd_claims_are_401s(client: TestClient, migrated: str) -> None:
    claims = _real_claims(client, migrated)
    assert client.get(ME, headers=_signed({k: v for k, v in claims.items() if k != "id"})).status_code == 200
    answers = {}
    for name, odd_claims in ODD.items():
        change = {"sub": str(claims["id"])} if odd_claims.get("sub") == "ROW_ID" else odd_claims
        odd = {key: value for key, value in {**claims, **change}.items() if value is not None and key != "id"}
        answers[name] = client.get(ME, headers=_signed(odd)).status_code
    assert answers == dict.fromkeys(ODD, 401)
