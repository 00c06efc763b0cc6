"""`GET /v1/model`: the model in service and the thresholds in force."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from service.auth import require_role
from service.deps import ModelDep, ServicesDep
from service.errors import error_responses
from service.predict.schemas import ModelInfo

router = APIRouter(prefix="/v1", tags=["model"])


@router.get("/model", dependencies=[Depends(require_role("predict"))], responses=error_responses(401, 403))
def model_info(model: ModelDep, services: ServicesDep) -> ModelInfo:
    """Describe the model in service: version, labels, thresholds in force, metrics and training data."""
    meta = model.metadata
    return ModelInfo(
        version=model.version, created=str(meta.get("created", "")), labels=model.labels, thresholds=model.thresholds,
        target_precision=services.holder.target_precision(model),
        threshold_overrides=dict(services.settings.thresholds),
        metrics=meta.get("metrics", {}), data=meta.get("data", {}),
    )
