"""Fitting and predicting with the network: both training stages, prediction and evaluation, the learner, the
classifiers (theta0 and each seed's), the CAM family and the final model."""
