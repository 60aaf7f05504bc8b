"""Food recognition: model bundles, safe image decoding, preprocessing and the recognizer."""
