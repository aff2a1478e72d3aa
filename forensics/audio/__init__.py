"""Sound: audio descriptors of a video's track (or an audio file), and audio-visual synchrony.

- :func:`load_audio`: an audio stream (the default one), decoded with PyAV to mono float samples
  placed at their timestamps.
- :class:`AudioFeatures` / :func:`audio_features`: MFCCs and their deltas, spectral centroid,
  bandwidth, roll-off and contrast, zero-crossing rate and RMS energy (librosa), one row per
  item; :data:`AUDIO_FEATURES` documents each (formula, reference).
- :class:`AVSyncFeatures` / :func:`av_sync`: the cross-correlation of mouth motion (from face
  landmarks) and voice energy, its peak and lag.

librosa is an optional dependency: ``pip install "scikit-forensics[audio]"``.
"""

from ._features import AudioFeatures, audio_feature_names, audio_features
from ._read import AudioTrack, NoAudioError, audio_header, load_audio
from ._registry import AUDIO_FEATURES, audio_catalogue_markdown, audio_feature_docs
from ._sync import AV_SYNC_NAMES, AVSyncFeatures, audio_envelope, av_sync, mouth_box, mouth_motion

__all__ = ["AUDIO_FEATURES", "AV_SYNC_NAMES", "AVSyncFeatures", "AudioFeatures", "AudioTrack", "NoAudioError",
           "audio_catalogue_markdown", "audio_envelope", "audio_header", "audio_feature_docs", "audio_feature_names",
           "audio_features", "av_sync", "load_audio", "mouth_box", "mouth_motion"]
