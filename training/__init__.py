"""Fine-tuning food classifiers and exporting them as model bundles (see DESIGN.md)."""
