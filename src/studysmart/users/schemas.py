"""Request and response bodies of the accounts API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from studysmart.core.text import VisibleName
from studysmart.learning import registry
from studysmart.users.passwords import MAX_LENGTH, MIN_LENGTH

# Length only: the strength check (zxcvbn, with the account's email and name) runs in the service, after the
# rate limit, so that refused requests cost little.
Password = Annotated[str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), VisibleName]



def _known_preference(name: str) -> str:
    if name not in registry.preference_labels():
        raise ValueError(f"must be one of {', '.join(registry.preference_labels())}")
    return name


#: "auto" or a model a student may choose (learning.registry says which).
PreferredModel = Annotated[str, AfterValidator(_known_preference),
                           Field(json_schema_extra={"enum": list(registry.preference_labels())})]

class Register(BaseModel):
    email: EmailStr
    password: Password
    display_name: DisplayName


class ChangePassword(BaseModel):
    current_password: str = Field(max_length=256)
    new_password: Password


class DeleteAccount(BaseModel):
    current_password: str = Field(max_length=256)


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret


MIN_DAILY_GOAL = 5  # minutes
MAX_DAILY_GOAL = 24 * 60


class Preferences(BaseModel):
    """Settings a student can change; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")

    daily_goal_minutes: Annotated[int, Field(ge=MIN_DAILY_GOAL, le=MAX_DAILY_GOAL)] | None = None
    preferred_model: PreferredModel | None = None
    theme: Literal["light", "dark", "auto"] | None = None


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName | None = None
    preferences: Preferences | None = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    display_name: str
    created_at: datetime
    preferences: dict[str, Any]


class ResetRequest(BaseModel):
    """Ask for a password reset link for this email."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr


class ResetRequested(BaseModel):
    """The same answer whether or not the email has an account."""

    detail: str


class ResetConfirm(BaseModel):
    """Set a new password with the token of a reset link."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=128)
    new_password: Password
