"""Quickstart: handcrafted forensic features and a linear head on the embedded demo set (offline).

The bank learns nothing from the data (``fit`` only fixes the columns), so the features can be
extracted once, outside the cross-validation, without leaking anything from test to train.
"""

from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from forensics.datasets import make_demo_dataset
from forensics.features import make_feature_bank

demo = make_demo_dataset(n_per_class=120, size=128, seed=0)  # JPEG bytes, label (fake=1), group
X = make_feature_bank(progress=True).fit_transform(demo["item"])
head = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
# Group by source photo: crops of one photo in both train and test would leak.
cv = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)
auc = cross_val_score(head, X, demo["label"], groups=demo["group"], cv=cv, scoring="roc_auc")
print(f"ROC-AUC {auc.mean():.3f} ± {auc.std():.3f} over {len(auc)} grouped folds ({X.shape[1]} features)")
