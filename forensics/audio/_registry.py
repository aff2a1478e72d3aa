"""Every named audio feature: family, formula, reference (the audio part of the feature catalogue)."""

from __future__ import annotations

from ..features._base import FeatureDoc

__all__ = ["AUDIO_FEATURES", "audio_feature_docs", "audio_catalogue_markdown"]

_LIBROSA = ("B. McFee et al., librosa: Audio and Music Signal Analysis in Python, SciPy 2015, "
            "doi:10.25080/Majora-7b98e3ed-003")
_STAT = "mean and std (population) over the STFT frames (n_fft, hop_length; Hann window, centred frames)"

#: The audio features, in column order.
AUDIO_FEATURES = (
    FeatureDoc("audio", "mfcc", "mean_00..12, std_00..12: coefficient k",
               "Mel-frequency cepstral coefficients: the spectral envelope of the voice (timbre)",
               "c_k = DCT-II_k( 10 log10( M |STFT|^2 ) ), M: 128 Slaney mel filters; k < n_mfcc; " + _STAT,
               "S. Davis and P. Mermelstein, IEEE TASSP 28(4), 1980, doi:10.1109/TASSP.1980.1163420; " + _LIBROSA,
               cost="medium", presets=("full",)),
    FeatureDoc("audio", "mfcc_delta", "mean_00..12, std_00..12: coefficient k",
               "First time derivative of the MFCCs: how fast the envelope changes",
               "d_k[t] = Savitzky-Golay first derivative of c_k over `width` frames (librosa.feature.delta, "
               "width 9, or the largest odd width <= the frame count); " + _STAT,
               "S. Furui, IEEE TASSP 34(1), 1986, doi:10.1109/TASSP.1986.1164788; " + _LIBROSA, cost="medium"),
    FeatureDoc("audio", "centroid", "mean, std (Hz)", "Spectral centroid: the centre of mass of the spectrum",
               "C[t] = sum_f f |X[f, t]| / sum_f |X[f, t]|; " + _STAT, _LIBROSA),
    FeatureDoc("audio", "bandwidth", "mean, std (Hz)", "Spectral bandwidth: the spread around the centroid",
               "B[t] = ( sum_f |X[f, t]| / sum_f' |X[f', t]| (f - C[t])^2 )^(1/2) (p = 2); " + _STAT, _LIBROSA),
    FeatureDoc("audio", "rolloff", "mean, std (Hz)", "Spectral roll-off: the frequency below which 85 % of the "
               "spectral magnitude lies", "R[t] = min { f : sum_{f' <= f} |X[f', t]| >= 0.85 sum_f' |X[f', t]| }; "
               + _STAT, _LIBROSA),
    FeatureDoc("audio", "contrast", "mean_b0..b6, std_b0..b6: octave band b (b6: above the last octave edge)",
               "Spectral contrast: peak-to-valley level per octave band (tonal vs noisy)",
               "K_b[t] = log(mean of the top 2 % of |X| in band b) - log(mean of the bottom 2 %); bands from 200 Hz, "
               "6 octaves; " + _STAT,
               "D.-N. Jiang et al., Music type classification by spectral contrast feature, ICME 2002, "
               "doi:10.1109/ICME.2002.1035731; " + _LIBROSA),
    FeatureDoc("audio", "zcr", "mean, std (crossings per sample)",
               "Zero-crossing rate: fraction of consecutive samples that change sign (noisiness, pitch)",
               "Z[t] = (1 / N) sum_n [sign x[n] != sign x[n-1]] over frames of N = n_fft samples; " + _STAT,
               _LIBROSA),
    FeatureDoc("audio", "rms", "mean, std (full scale)", "Root-mean-square energy (loudness)",
               "E[t] = ( (1 / N) sum_n x[n]^2 )^(1/2) over frames of N = n_fft samples; " + _STAT, _LIBROSA),
    FeatureDoc("audio", "duration", "s", "Length of the decoded sound in seconds", "n_samples / sr", "-"),
)


def audio_feature_docs():
    """The registry entries of the audio features (:class:`~forensics.features.FeatureDoc`)."""
    return list(AUDIO_FEATURES)


def audio_catalogue_markdown():
    """The audio feature table of the docs, generated from the registry (so it cannot drift)."""
    lines = ["| feature | columns | what | formula | reference |", "| --- | --- | --- | --- | --- |"]
    for d in AUDIO_FEATURES:
        cells = [f"`{d.family}__{d.feature}`", d.params, d.description, d.formula, d.reference]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
