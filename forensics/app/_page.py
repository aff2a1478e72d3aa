"""The Streamlit page of ``forensics app``: upload a file, pick a model, see its score and why.

Run with ``forensics app`` (or ``streamlit run`` on this file). Settings come from the
environment, which ``forensics app`` sets from its options: ``FORENSICS_APP_MODELS`` (the folder
of models), ``FORENSICS_APP_MODEL`` (the model selected first) and ``FORENSICS_APP_MAX_MB``
(the largest upload). Every failure is shown as a message on the page, never as a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from forensics.app._scoring import (DEFAULT_MAX_MB, AppError, ImageReport, find_models, load_detector, score_upload,
                                    yunet_path)

st = None  # streamlit, imported by main(): importing this module runs nothing


def _max_mb():
    try:
        return float(os.environ.get("FORENSICS_APP_MAX_MB", DEFAULT_MAX_MB))
    except ValueError:
        return float(DEFAULT_MAX_MB)


def _load(path, mtime):  # mtime: a changed file is loaded again
    return load_detector(path)


def _detector(path, mtime):
    """The model, loaded once per server process (Streamlit's resource cache)."""
    return st.cache_resource(show_spinner="loading the model...", max_entries=4)(_load)(path, mtime)


def _sidebar():
    st.sidebar.header("Model")
    default_file = os.environ.get("FORENSICS_APP_MODEL", "")
    folder = st.sidebar.text_input("Model folder", os.environ.get("FORENSICS_APP_MODELS")
                                   or (str(Path(default_file).parent) if default_file else "."))
    files = find_models(folder)
    if not files:
        st.sidebar.warning(f"no model (.skops, .joblib, .onnx) in {folder!r}: train one with "
                           "'forensics train DATA --detector NAME --out MODEL' or export one to ONNX")
        return None, {}
    names = [p.name for p in files]
    index = names.index(Path(default_file).name) if default_file and Path(default_file).name in names else 0
    choice = st.sidebar.selectbox("Saved model", names, index=index)
    options = dict(
        n_frames=st.sidebar.slider("Frames per video", 2, 64, 12),
        faces=st.sidebar.checkbox("Find faces in video frames", value=True),
        face_crops=st.sidebar.checkbox("Score the largest face instead of the whole frame", value=False),
        explain=st.sidebar.checkbox("Explain the score", value=True),
    )
    if options["faces"] and yunet_path() is None:
        st.sidebar.caption("Face detection needs face_detection_yunet_2023mar.onnx in $FORENSICS_MODEL_DIR.")
    return Path(folder) / choice, options


def _value_text(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (float, np.floating)):
        return str(int(v)) if float(v).is_integer() else f"{v:.4g}"
    return str(v)


def _properties_table(props):
    return pd.DataFrame([(k, _value_text(v)) for k, v in props.items()], columns=["property", "value"])


def _show_explanation(expl):
    st.subheader("Why")
    if expl is None:
        st.caption("no explanation for this model")
        return
    st.caption(expl.text)
    if expl.overlay is not None:
        cols = st.columns(2)
        cols[0].image(expl.picture, caption="as read", width="stretch")
        cols[1].image(expl.overlay, caption=expl.kind, width="stretch")
    elif expl.table is not None:
        table = expl.table[["feature", "family", "value", "shap"]]
        st.dataframe(table, hide_index=True, width="stretch")
        # bars in the table's order (largest |SHAP| first) with the full feature names, red towards fake
        import altair as alt

        bars = alt.Chart(table).mark_bar().encode(
            x=alt.X("shap:Q", title="SHAP (log-odds of fake)"),
            y=alt.Y("feature:N", sort=None, title=None, axis=alt.Axis(labelLimit=0)),
            color=alt.condition("datum.shap > 0", alt.value("#d62728"), alt.value("#1f77b4")),
            tooltip=["feature", "family", "value", "shap"])
        st.altair_chart(bars, width="stretch")


def _show_image(report):
    st.subheader("The file's own properties (shortcut audit)")
    st.caption("What the file format says, independent of the pixels. A detector trained on data whose reals and "
               "fakes differ in these can learn them instead of the forgery: run 'forensics audit' on the "
               "training data.")
    st.dataframe(_properties_table(report.properties), hide_index=True)
    if report.quant_tables:
        st.markdown("**JPEG quantization tables** (as stored, natural order)")
        tcols = st.columns(max(2, len(report.quant_tables)))
        for c, (name, table) in zip(tcols, report.quant_tables.items()):
            c.caption(name)
            c.dataframe(pd.DataFrame(table), hide_index=True)
    else:
        st.caption("not a JPEG: no quantization table")
    if report.explanation is not None or report.notes:
        _show_explanation(report.explanation)


def _show_video(report):
    frames = report.frames
    if frames["score"].notna().any():
        st.subheader("Score per frame")
        st.line_chart(frames.set_index("time_s")[["score"]], x_label="time (s)", y_label="fake score")
    with_faces = [i for i in range(len(frames)) if frames["faces"].iloc[i] > 0]
    st.subheader(f"Frames with faces ({len(with_faces)} of {len(frames)} sampled)")
    shown = with_faces if with_faces else list(range(len(frames)))
    if not with_faces:
        st.caption("no face found in the sampled frames; all sampled frames:")
    cols = st.columns(4)
    for j, i in enumerate(shown[:16]):
        row = frames.iloc[i]
        label = f"frame {int(row['frame'])} at {row['time_s']:.2f} s"
        if np.isfinite(row["score"]):
            label += f", score {row['score']:.3f}"
        cols[j % 4].image(report.thumbnails[i], caption=label, width="stretch")
    st.subheader("The file's own properties")
    st.dataframe(_properties_table(report.info), hide_index=True)
    if report.explanation is not None:
        _show_explanation(report.explanation)


def _report(upload, path, options):
    key = (upload.file_id, str(path), path.stat().st_mtime, tuple(sorted(options.items())))
    if st.session_state.get("report_key") == key:
        return st.session_state["report"]
    detector = _detector(str(path), path.stat().st_mtime)
    with st.spinner(f"scoring {upload.name}..."):
        report = score_upload(detector, upload.getvalue(), name=upload.name, max_mb=_max_mb(), **options)
    st.session_state["report_key"], st.session_state["report"] = key, (report, detector.summary)
    return report, detector.summary


def main():
    """Draw the page (Streamlit runs this script from the top at every interaction)."""
    global st
    import streamlit

    st = streamlit
    st.set_page_config(page_title="forensics: score a file", layout="wide")
    st.title("Is this file real or fake?")
    path, options = _sidebar()
    upload = st.file_uploader(f"An image or a video (at most {_max_mb():g} MB)", key="upload")
    if upload is None:
        st.info("Upload an image (JPEG, PNG, WebP, TIFF...) or a video (MP4, MOV, MKV, WebM, AVI...).")
        return
    if path is None:
        st.error("Pick a model first (no model found).")
        return
    try:
        report, summary = _report(upload, path, options)
    except AppError as exc:
        st.error(str(exc))
        return
    except Exception as exc:  # never a traceback on the page
        st.error(f"could not score {upload.name}: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        return
    verdict = "fake" if report.score >= 0.5 else "real"
    cols = st.columns([1, 2, 1])
    cols[0].metric("Fake score", f"{report.score:.3f}")
    cols[1].markdown(f"**{report.name}** is scored **{verdict}** at the 0.5 threshold "
                     f"({'image' if isinstance(report, ImageReport) else 'video'}).")
    if isinstance(report, ImageReport):
        cols[2].image(report.image, caption="the uploaded picture", width="stretch")
    st.caption(f"Model: {summary}")
    for note in report.notes:
        st.caption(note)
    if isinstance(report, ImageReport):
        _show_image(report)
    else:
        _show_video(report)


if __name__ == "__main__":
    main()
