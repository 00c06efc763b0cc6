"""`POST /v1/admin/reload`: serve the registry's current model version without a restart."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from service.auth import require_role
from service.deps import ServicesDep
from service.errors import ApiError, error_responses
from service.model_holder import ModelRefused


class ReloadResponse(BaseModel):
    """The outcome of a reload: the version served before and after."""

    previous_version: str
    version: str
    changed: bool
    message: str


router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/reload", dependencies=[Depends(require_role("admin"))], responses=error_responses(401, 403, 409))
def reload_model(services: ServicesDep) -> ReloadResponse:
    """Load and verify the current model version and swap it in; a version that fails verification is refused."""
    holder = services.holder
    try:
        outcome = holder.reload(force=True)
    except ModelRefused as e:
        raise ApiError(409, "model_refused", f"the new model was refused and {holder.current.version} keeps serving: {e}") from None
    message = f"now serving {outcome.version}" if outcome.changed else f"already serving {outcome.version}"
    return ReloadResponse(previous_version=outcome.previous_version, version=outcome.version, changed=outcome.changed, message=message)
