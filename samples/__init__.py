"""Sample models, data and training scripts used to exercise sjconvert."""
