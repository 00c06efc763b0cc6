"""A loaded, verified model ready to predict: probabilities, routes and explanations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from model.decision import choose_thresholds, route
from model.explain import Explainer
from model.fastpath import FastScorer, UnsupportedPipeline
from model.oof import OOF_FILE, parse_oof
from model.registry import ModelError, load_verified
from model.text import clean_text


@dataclass
class Prediction:
    """The model's answer for one ticket."""

    route: str
    label: str
    confidence: float
    probabilities: dict[str, float]
    explanation: list[dict[str, Any]] = field(default_factory=list)


class TriageModel:
    """A pipeline with its metadata and the thresholds in force."""

    def __init__(self, pipeline: Pipeline, metadata: dict[str, Any], thresholds: Mapping[str, float] | None = None,
                 directory: Path | None = None):
        self.pipeline = pipeline
        self.metadata = metadata
        self.directory = directory
        self.labels: list[str] = [str(c) for c in pipeline.classes_]
        self.thresholds: dict[str, float] = dict(thresholds or metadata["thresholds"])
        self._features = pipeline.named_steps["features"]
        self._classifier = pipeline.named_steps["classifier"]
        try:
            self.fast: FastScorer | None = FastScorer(pipeline)
        except UnsupportedPipeline:
            self.fast = None  # a pipeline of another shape still predicts, through scikit-learn
        self.explainer = Explainer(pipeline, self.fast)

    @classmethod
    def load(cls, model_dir: str | Path, target_precision: float | None = None,
             thresholds: Mapping[str, float] | None = None) -> TriageModel:
        """Load and verify a model directory, optionally with other thresholds.

        `target_precision` re-chooses every threshold from the model's saved out-of-fold
        predictions; `thresholds` then overrides single labels.
        """
        pipeline, meta, artifacts = load_verified(model_dir)
        chosen = dict(meta["thresholds"])
        if thresholds:
            unknown = set(thresholds) - set(chosen)
            if unknown:
                raise ValueError(f"threshold for unknown label(s) {', '.join(sorted(unknown))}; labels are {', '.join(chosen)}")
        try:
            if target_precision is not None:
                if OOF_FILE not in artifacts:
                    raise ModelError(f"{model_dir}: no {OOF_FILE} to choose thresholds for a target precision from")
                oof = parse_oof(artifacts[OOF_FILE])  # the verified bytes, not the file read again
                chosen = choose_thresholds(oof.proba, oof.y, oof.labels, target_precision)
            chosen.update(thresholds or {})
            return cls(pipeline, meta, chosen, Path(model_dir))
        except ModelError:
            raise
        except Exception as e:  # whatever a verified but unusable model raises, it is refused with its reason
            raise ModelError(f"{model_dir}: the model cannot serve ({type(e).__name__}: {str(e)[:300]})") from None

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, one row per raw ticket text, columns in `labels` order."""
        if self.fast is not None:
            return self.fast.predict_proba(texts)
        return np.asarray(self.pipeline.predict_proba(list(texts)))

    def predict(self, texts: Sequence[str], explain: bool = False, top_k: int = 6) -> list[Prediction]:
        """Route, label, confidence and probabilities (and optionally explanations) per raw ticket."""
        return self.predict_cleaned([clean_text(t) for t in texts], explain, top_k)

    def predict_cleaned(self, cleaned: Sequence[str], explain: bool = False, top_k: int = 6) -> list[Prediction]:
        """`predict` for texts already passed through `model.text.clean_text` (the pipeline's own
        first step), for callers that cleaned them once to check them."""
        if self.fast is not None:
            proba = self.fast.proba_cleaned(cleaned)
        else:
            x = self._features.transform(cleaned).tocsr()
            proba = self._classifier.predict_proba(x)
        routes, labels, confidence = route(proba, self.labels, self.thresholds)
        out = []
        for i, text in enumerate(cleaned):
            terms: list[dict[str, Any]] = []
            if explain and self.fast is not None:
                terms = self.explainer.explain_cleaned(text, top_k)
            elif explain:
                terms = self.explainer.explain(text, x[i].indices, x[i].data, top_k)
            out.append(Prediction(
                route=routes[i], label=labels[i], confidence=float(confidence[i]),
                probabilities={lab: float(p) for lab, p in zip(self.labels, proba[i])}, explanation=terms,
            ))
        return out
