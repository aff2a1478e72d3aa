"""The detector catalogue on the demo data: every detector, grouped 5-fold CV, one table (offline)."""

import forensics
from forensics.datasets import make_demo_dataset
from forensics.model_selection import benchmark_detectors

print(forensics.list_estimators()[["name", "input", "summary"]].to_string(index=False))
demo = make_demo_dataset(n_per_class=60, size=96, seed=0)
result = benchmark_detectors(list(demo["item"]), demo["label"].to_numpy(), groups=demo["group"].to_numpy(),
                             methods=demo["method"].to_numpy(), protocols=("as-is",))
print(result.to_markdown())
