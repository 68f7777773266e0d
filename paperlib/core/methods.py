"""The one method registry: every method name the package runs, what kind of session it is, and which classifier
it computes with."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .samplers import SAMPLERS

CAM_METHODS = ("GradCAM", "GradCAM++", "AblationCAM", "XGradCAM")  # the CAM family (the 'cams' extra), beyond the paper
# the controls of Label_prop (beyond the paper): Random with Label_prop's second, best-of-two training but no
# pseudo-masks; Label_prop with its pseudo-masks weighted zero in Eq. (1). What separates them from Label_prop is the
# pseudo-masks alone.
CONTROLS = ("Random_refit", "Label_prop_lam0")
METHODS = ("WSL", *CAM_METHODS, *SAMPLERS, "Label_prop", *CONTROLS, "Full_sup")  # in the order of the tables
THETA0_SEED = 0  # under al.theta0 = "shared" (the paper), every AL and Full_sup session starts from seed 0's classifier


@dataclass(frozen=True)
class Method:
    """A method name parsed: ``kind`` is ``wsl`` (WSL and the CAM family: fixed baselines of the seed's classifier;
    ``cam`` names the family member, empty for WILDCAT's own CAMs), ``full_sup`` or ``al``; AL methods have a sampler
    and may add Label_prop (``Label_prop`` alone means random queries, as in the paper; ``Entropy+Label_prop``
    etc.). ``refit``: a second training of every round from theta0 on another stream, the better on validation kept
    (Label_prop's, with its fresh pseudo-masks); ``lam_zero``: pseudo-masks weigh 0 in Eq. (1) (a control)."""

    name: str
    kind: str
    sampler: str | None = None
    label_prop: bool = False
    cam: str = ""
    refit: bool = False
    lam_zero: bool = False

    @property
    def own_classifier(self) -> bool:
        """Whether a session of this method computes with its own seed's classifier (WSL and the CAM family: the
        paper's spread over seeds) rather than theta0."""
        return self.kind == "wsl"

    def classifier_seed(self, seed: int, theta0: str = "shared") -> int:
        """The seed of the classifier a session of this method and ``seed`` computes with, under ``al.theta0``
        (``shared``: seed 0's but for WSL and the CAM family; ``per_seed``: its own)."""
        return seed if self.own_classifier or theta0 == "per_seed" else THETA0_SEED


def parse_method(name: str) -> Method:
    """``WSL``, a CAM-family baseline (``GradCAM``, ``GradCAM++``, ``AblationCAM``, ``XGradCAM``), ``Full_sup``, a
    sampler (``Random``, ``Entropy``, ``MC_Dropout``), ``Label_prop``, ``<sampler>+Label_prop`` or a control
    (``Random_refit``, ``Label_prop_lam0``); anything else
    raises :class:`ConfigError`."""
    if name == "WSL":
        return Method(name, "wsl")
    if name in CAM_METHODS:
        return Method(name, "wsl", cam=name)
    if name == "Full_sup":
        return Method(name, "full_sup")
    if name == "Label_prop":
        return Method(name, "al", "Random", True, refit=True)
    if name == "Label_prop_lam0":
        return Method(name, "al", "Random", True, refit=True, lam_zero=True)
    if name == "Random_refit":
        return Method(name, "al", "Random", False, refit=True)
    if name in SAMPLERS:
        return Method(name, "al", name, False)
    head, _, tail = name.partition("+")
    if tail == "Label_prop" and head in SAMPLERS:
        return Method(name, "al", head, True, refit=True)
    raise ConfigError(f"unknown method {name!r}; known: {', '.join(METHODS)}, or <sampler>+Label_prop with a "
                      f"sampler of {', '.join(SAMPLERS)}")
