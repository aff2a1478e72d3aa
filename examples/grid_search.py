"""GridSearchCV over stratified, grouped folds with a catalogued detector (offline, demo data).

``make_pipeline`` returns a plain scikit-learn Pipeline, so the catalogue's default grid (or any
grid over ``features__<family>__<param>`` and ``head__<param>``) goes straight to GridSearchCV.
Folds are grouped by source photo: crops of one photo on both sides would leak.
"""

from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

import forensics
from forensics.datasets import make_demo_dataset

demo = make_demo_dataset(n_per_class=60, size=96, seed=0)
spec = forensics.estimators.get("spectrum-lr")
print(f"{spec.name}: {spec.summary}\n  grid: {spec.param_grid}")

search = GridSearchCV(
    forensics.make_pipeline("spectrum-lr"),
    spec.param_grid,
    cv=StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0),
    scoring="roc_auc",
)
search.fit(list(demo["item"]), demo["label"], groups=demo["group"])
print(f"best ROC-AUC {search.best_score_:.3f} with {search.best_params_}")
