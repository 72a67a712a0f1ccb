"""How good the faces are: the GQ/DQ/PQ judge and labels by eye (`judge`), the FID Inception network
(`inception`), FID and KID (`metrics`), and evaluations of runs and image folders (`evaluate`).

The judge's names are importable from here (`from animegan_tf import quality; quality.label(...)`); the other
modules are imported by name (`from animegan_tf.quality import metrics`), so `import animegan_tf.quality` stays
free of TensorFlow until features are computed.
"""

from .judge import (CLASSES, MANIFOLD_K, LabelStore, detect_faces, detector_self_check, format_tally, judge, label,
                    manifold_radii, on_manifold, tally)

__all__ = ["CLASSES", "MANIFOLD_K", "LabelStore", "detect_faces", "detector_self_check", "format_tally", "judge",
           "label", "manifold_radii", "on_manifold", "tally"]
