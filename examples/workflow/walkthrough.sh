#!/bin/sh
# The research workflow end to end, offline (docs/user-guide/workflow.md): generated videos ->
# a Parquet feature table -> evaluate and tune from it with a YAML config and MLflow tracking ->
# the report -> SQL over the runs. Run from an empty folder: sh path/to/walkthrough.sh
# Needs: pip install "scikit-forensics[workflow]"
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
cp "$HERE/run.yaml" run.yaml
python -c "from forensics.datasets import save_demo_videos; save_demo_videos('videos', n_per_class=8, n_frames=8)"
forensics extract videos/ --config run.yaml --group-pattern '_(\w+)\.mp4$' --out tables/
forensics evaluate tables/features.parquet --config run.yaml --track runs/mlflow.db --out runs/evaluate
forensics tune tables/features.parquet --config run.yaml --track runs/mlflow.db --out runs/tune
forensics report tables/features.parquet --config run.yaml --out runs/report
forensics runs runs/
