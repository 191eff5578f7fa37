"""Figures of a run (matplotlib and scikit-learn are imported only when a figure is drawn):
training curves, CMC curves and λ sweeps (:mod:`.curves`), t-SNE of features (:mod:`.embedding`),
Grad-CAM activation maps (:mod:`.attention`). ``tools/plot.py`` is the command line."""
